"""The ten call actions: real effects, true/false (or 201) answers, 400s and the 404 after
hang-up; the accounts listing and the users stub."""

from __future__ import annotations

import json

import aiohttp
import pytest

from activecalls_async.testing import Disposition, Session, Simulator

from .bare_http import act, answered_uii, api_url, bearer, fetch, list_calls

SUPERVISOR = "+15554150123"


async def test_add_session_then_escalate_then_hang_it_up(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    uii = answered_uii(sim)
    call = sim.state.get(uii)
    assert call is not None
    assert await act(
        http, sim, uii, "addSessionToCall", destination=SUPERVISOR, sessionType="MONITOR"
    ) == (200, "true")
    assert call.sessions == {"5554150123": Session(SUPERVISOR, "MONITOR", "1")}
    # The same phone again re-types its session (keeping its id) rather than adding another.
    assert await act(
        http, sim, uii, "addSessionToCall", destination="15554150123", sessionType="BARGEIN"
    ) == (200, "true")
    assert call.sessions == {"5554150123": Session("15554150123", "BARGEIN", "1")}
    assert sim.effect_count("addSessionToCall", uii) == 2

    assert await act(http, sim, uii, "hangupSession", phone="+16505550000") == (200, "false")
    assert await act(http, sim, uii, "hangupSession", phone=SUPERVISOR) == (200, "true")
    assert call.sessions == {}
    assert await act(http, sim, uii, "hangupSession", phone=SUPERVISOR) == (200, "false")
    assert sim.effect_count("hangupSession") == 1


async def test_action_answers_are_plain_text(sim: Simulator, http: aiohttp.ClientSession) -> None:
    uii = answered_uii(sim)
    async with http.post(
        api_url(sim, f"/{uii}/toggleCallRecording"),
        params={"record": "false"},
        headers=bearer(sim.token),
    ) as response:
        assert response.status == 200
        assert response.content_type == "text/plain"
        assert await response.text() == "true"


async def test_a_queued_call_takes_no_session_or_disposition(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    uii = next(call["uii"] for call in sim.wire_calls() if call["callState"] == "QUEUED")
    assert await act(
        http, sim, uii, "addSessionToCall", destination=SUPERVISOR, sessionType="COACHING"
    ) == (200, "false")
    assert await act(http, sim, uii, "dispositionCall", disposition="SALE", callback="false") == (
        200,
        "false",
    )
    assert sim.effects == []


def recording(sim: Simulator, uii: str) -> bool:
    call = sim.state.get(uii)
    assert call is not None
    return call.recording


async def test_toggle_recording_sets_the_flag(sim: Simulator, http: aiohttp.ClientSession) -> None:
    uii = answered_uii(sim)
    assert await act(http, sim, uii, "toggleCallRecording", record="false") == (200, "true")
    assert recording(sim, uii) is False
    assert await act(http, sim, uii, "toggleCallRecording", record="TRUE") == (200, "true")
    assert recording(sim, uii) is True
    assert [effect.params for effect in sim.effects] == [{"record": "false"}, {"record": "TRUE"}]


async def test_disposition_is_recorded(sim: Simulator, http: aiohttp.ClientSession) -> None:
    uii = answered_uii(sim)
    assert await act(
        http,
        sim,
        uii,
        "dispositionCall",
        disposition="SALE",
        callback="true",
        callBackDTS="20261201153000",
        notes="call back at 3:30 pm",
    ) == (200, "true")
    assert sim.state.dispositions[uii] == Disposition(
        "SALE", callback=True, callback_at="20261201153000", notes="call back at 3:30 pm"
    )
    assert await act(
        http, sim, uii, "dispositionCall", disposition="NO SALE", callback="false"
    ) == (200, "true")
    assert sim.state.dispositions[uii] == Disposition("NO SALE", False, None, None)
    assert sim.effect_count("dispositionCall", uii) == 2


@pytest.mark.parametrize(
    ("params", "attributes"),
    [
        ({"disposition": "SALE", "callback": "true"}, ["callBackDTS"]),
        (
            {"disposition": "SALE", "callback": "true", "callBackDTS": "2026-12-01"},
            ["callBackDTS"],
        ),
        (
            {"disposition": "SALE", "callback": "true", "callBackDTS": "20261340153000"},
            ["callBackDTS"],
        ),
        ({"disposition": "SALE", "callback": "maybe"}, ["callback"]),
        ({}, ["disposition", "callback"]),
    ],
)
async def test_disposition_validation(
    sim: Simulator, http: aiohttp.ClientSession, params: dict[str, str], attributes: list[str]
) -> None:
    status, body = await act(http, sim, answered_uii(sim), "dispositionCall", **params)
    assert status == 400
    assert [e["attributeName"] for e in json.loads(body)["validationErrors"]] == attributes
    assert sim.effects == []


async def test_hangup_ends_the_call_everywhere_and_later_actions_404(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    uii = answered_uii(sim)
    call = sim.state.get(uii)
    assert call is not None
    assert call.agent is not None
    agent, busy = call.agent, call.agent.active_calls
    assert await act(http, sim, uii, "hangupCall") == (200, "true")
    assert sim.wire_call(uii) is None
    assert uii not in {row["uii"] for row in await list_calls(http, sim, product="ACCOUNT")}
    assert call.product is not None
    listed = await list_calls(
        http, sim, product=call.product.kind, productId=call.product.product_id
    )
    assert uii not in {row["uii"] for row in listed}
    assert agent.active_calls == busy - 1
    for action, params in [
        ("hangupCall", {}),
        ("toggleCallRecording", {"record": "true"}),
        ("addSessionToCall", {"destination": SUPERVISOR, "sessionType": "MONITOR"}),
        ("hangupSession", {"phone": SUPERVISOR}),
        ("dispositionCall", {"disposition": "SALE", "callback": "false"}),
    ]:
        status, body = await act(http, sim, uii, action, **params)
        assert status == 404, action
        assert uii in json.loads(body)["details"]
    assert sim.effect_count("hangupCall") == 1


@pytest.mark.parametrize("uii", ["123", "2026112814400000000000000099999", "..%2F..%2Flist"])
async def test_unknown_uii_is_404_with_errors_body(
    sim: Simulator, http: aiohttp.ClientSession, uii: str
) -> None:
    status, body = await act(http, sim, uii, "hangupCall")
    assert status == 404
    assert set(json.loads(body)) >= {"generalMessage", "details", "requestUri", "timestamp"}


async def test_plus_must_arrive_encoded(sim: Simulator, http: aiohttp.ClientSession) -> None:
    uii = answered_uii(sim)
    url = api_url(sim, f"/{uii}/addSessionToCall")
    status, body, _ = await fetch(
        http, "POST", f"{url}?destination=+15554150123&sessionType=MONITOR", token=sim.token
    )
    assert status == 400
    (problem,) = json.loads(body)["validationErrors"]
    assert problem == {
        "attributeName": "destination",
        "message": problem["message"],
        "value": " 15554150123",
    }
    status, body, _ = await fetch(
        http, "POST", f"{url}?destination=%2B15554150123&sessionType=MONITOR", token=sim.token
    )
    assert (status, body) == (200, "true")
    bare, encoded = sim.requests[-2:]
    assert bare.raw_query.startswith("destination=+1555")
    assert bare.param("destination") == " 15554150123"
    assert encoded.raw_query.startswith("destination=%2B1555")
    assert encoded.param("destination") == "+15554150123"
    assert sim.effect_count("addSessionToCall") == 1


@pytest.mark.parametrize(
    ("params", "attributes"),
    [
        ({"destination": SUPERVISOR}, ["sessionType"]),
        ({"destination": SUPERVISOR, "sessionType": "monitor"}, ["sessionType"]),
        ({"destination": "555-0123", "sessionType": "MONITOR"}, ["destination"]),
        ({"sessionType": "LISTEN"}, ["destination", "sessionType"]),
    ],
)
async def test_add_session_validation(
    sim: Simulator, http: aiohttp.ClientSession, params: dict[str, str], attributes: list[str]
) -> None:
    status, body = await act(http, sim, answered_uii(sim), "addSessionToCall", **params)
    assert status == 400
    assert [e["attributeName"] for e in json.loads(body)["validationErrors"]] == attributes


async def test_other_actions_validate_their_parameters(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    uii = answered_uii(sim)
    assert (await act(http, sim, uii, "hangupSession"))[0] == 400
    assert (await act(http, sim, uii, "hangupSession", phone="abc"))[0] == 400
    assert (await act(http, sim, uii, "toggleCallRecording"))[0] == 400
    assert (await act(http, sim, uii, "toggleCallRecording", record="on"))[0] == 400
    assert sim.effects == []


async def manual_call(
    http: aiohttp.ClientSession, sim: Simulator, agent: str, **overrides: str
) -> tuple[int, str]:
    params = {
        "username": agent,
        "destination": "+16505550199",
        "ringDuration": "5",
        "callerId": "8005551234",
        **overrides,
    }
    status, body, _ = await fetch(
        http, "POST", api_url(sim, "/createManualAgentCall"), token=sim.token, params=params
    )
    return status, body


async def test_manual_call_for_an_available_agent(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    agent = sim.state.available_agents()[0]
    before = len(sim.wire_calls())
    assert await manual_call(http, sim, agent.username) == (200, "true")
    assert not agent.available
    assert agent.active_calls == 1
    (effect,) = sim.effects
    assert effect.kind == "createManualAgentCall"
    assert effect.params["username"] == agent.username
    new = sim.wire_call(str(effect.uii))
    assert new is not None
    assert new["dnis"] == "6505550199"
    assert new["dnisE164"] == "+16505550199"
    assert new["ani"] == "8005551234"
    assert (new["agentFirstName"], new["agentLastName"]) == (agent.first_name, agent.last_name)
    assert new["callState"] == "ACTIVE"
    rows = await list_calls(http, sim, product="ACCOUNT")
    assert len(rows) == before + 1
    assert rows[-1]["uii"] == effect.uii
    # Now busy: a second manual call for the same agent is refused.
    assert await manual_call(http, sim, agent.username) == (200, "false")
    assert await act(http, sim, str(effect.uii), "hangupCall") == (200, "true")
    assert agent.available


async def test_manual_call_refused_for_unavailable_or_unknown_agents(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    offline = next(agent for agent in sim.state.agents if not agent.online)
    away = next(agent for agent in sim.state.agents if agent.online and not agent.ready)
    busy = next(agent for agent in sim.state.agents if agent.active_calls)
    for username in (offline.username, away.username, busy.username, "nobody@example.com"):
        assert await manual_call(http, sim, username) == (200, "false"), username
    assert sim.effects == []


@pytest.mark.parametrize(
    ("overrides", "attribute"),
    [
        ({"ringDuration": "five"}, "ringDuration"),
        ({"ringDuration": "-1"}, "ringDuration"),
        ({"destination": ""}, "destination"),
        ({"callerId": "+1 800"}, "callerId"),
        ({"username": ""}, "username"),
    ],
)
async def test_manual_call_validation(
    sim: Simulator, http: aiohttp.ClientSession, overrides: dict[str, str], attribute: str
) -> None:
    username = sim.state.available_agents()[0].username
    status, body = await manual_call(http, sim, username, **overrides)
    assert status == 400
    assert [e["attributeName"] for e in json.loads(body)["validationErrors"]] == [attribute]


# -- the four newer controls ------------------------------------------------------------------


async def test_each_session_gets_an_id_that_hangs_it_up(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    uii = answered_uii(sim)
    for phone in (SUPERVISOR, "+16505550000"):
        assert await act(
            http, sim, uii, "addSessionToCall", destination=phone, sessionType="MONITOR"
        ) == (200, "true")
    ids = sim.session_ids(uii)
    assert sorted(ids) == sorted([SUPERVISOR, "+16505550000"])
    assert len(set(ids.values())) == 2
    # The answer never carried the id: the effect log is where the simulator shows it.
    assert [e.params["sessionId"] for e in sim.effects] == [ids[SUPERVISOR], ids["+16505550000"]]

    assert await act(http, sim, uii, "hangupSessionById", sessionId="999") == (200, "false")
    assert await act(http, sim, uii, "hangupSessionById", sessionId=ids[SUPERVISOR]) == (
        200,
        "true",
    )
    assert sim.session_ids(uii) == {"+16505550000": ids["+16505550000"]}
    assert sim.effect_count("hangupSessionById", uii) == 1
    assert (await act(http, sim, uii, "hangupSessionById"))[0] == 400


def call_state(sim: Simulator, uii: str) -> str | None:
    found = sim.call(uii)
    assert found is not None
    return found.call_state


async def test_hold_shows_in_the_listing_and_setting_it_twice_changes_nothing(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    uii = answered_uii(sim)
    for _ in range(2):
        assert await act(http, sim, uii, "toggleCallHold", state="ON") == (200, "true")
        assert call_state(sim, uii) == "HOLD"
    rows = await list_calls(http, sim, product="ACCOUNT", maxRows=1000)
    assert {row["uii"]: row["callState"] for row in rows}[uii] == "HOLD"
    assert await act(http, sim, uii, "toggleCallHold", state="OFF") == (200, "true")
    assert call_state(sim, uii) == "ACTIVE"
    assert sim.effect_count("toggleCallHold", uii) == 3
    assert (await act(http, sim, uii, "toggleCallHold", state="on"))[0] == 400
    assert (await act(http, sim, uii, "toggleCallHold"))[0] == 400


async def test_a_queued_call_cannot_be_held(sim: Simulator, http: aiohttp.ClientSession) -> None:
    uii = next(call["uii"] for call in sim.wire_calls() if call["callState"] == "QUEUED")
    assert await act(http, sim, uii, "toggleCallHold", state="ON") == (200, "false")
    assert sim.effects == []


async def test_requeue_moves_the_call_to_the_gates_listing_without_its_agent(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    uii = answered_uii(sim)
    gate = sim.state.queues[-1]
    before = {
        row["uii"]
        for row in await list_calls(
            http, sim, product="ACD", productId=gate.product_id, maxRows=1000
        )
    }
    assert uii not in before
    assert await act(http, sim, uii, "requeueCall", gateId=str(gate.product_id)) == (200, "true")
    rows = await list_calls(http, sim, product="ACD", productId=gate.product_id, maxRows=1000)
    moved = next(row for row in rows if row["uii"] == uii)
    assert moved["callState"] == "QUEUED"
    assert moved["agentFirstName"] is None
    assert moved["dequeueTime"] is None
    assert moved["destinationName"] == gate.name
    assert sim.effect_count("requeueCall", uii) == 1
    # Still one call under the account, with the same uii.
    account = [row["uii"] for row in await list_calls(http, sim, product="ACCOUNT", maxRows=1000)]
    assert account.count(uii) == 1


async def test_requeue_to_an_unknown_gate_is_a_400(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    uii = answered_uii(sim)
    status, body = await act(http, sim, uii, "requeueCall", gateId="999999")
    assert status == 400
    assert json.loads(body)["validationErrors"][0]["attributeName"] == "gateId"
    assert sim.effects == []


async def test_ping_is_recorded_and_changes_nothing(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    uii = answered_uii(sim)
    before = sim.call(uii)
    assert await act(http, sim, uii, "pingCall") == (200, "true")
    assert sim.call(uii) == before
    assert sim.effect_count("pingCall", uii) == 1
    assert (await act(http, sim, "20261128000000" + "9" * 16, "pingCall"))[0] == 404


@pytest.mark.parametrize("body", ["", "true"])
async def test_actions_can_answer_201_created(
    sim: Simulator, http: aiohttp.ClientSession, body: str
) -> None:
    sim.answer_actions(201, body=body)
    uii = answered_uii(sim)
    assert await act(http, sim, uii, "pingCall") == (201, body)
    # A refusal is still a 200 false.
    queued = next(call["uii"] for call in sim.wire_calls() if call["callState"] == "QUEUED")
    assert await act(http, sim, queued, "toggleCallHold", state="ON") == (200, "false")
    sim.answer_actions()
    assert await act(http, sim, uii, "pingCall") == (200, "true")
    with pytest.raises(ValueError, match="200 or 201"):
        sim.answer_actions(204)


# -- outside activeCalls: accounts and the users stub ----------------------------------------


def admin_url(sim: Simulator, path: str) -> str:
    return f"{sim.base_url}/api/v1/admin/{path}"


async def test_accounts_lists_the_simulated_sub_account(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    status, body, _ = await fetch(http, "GET", admin_url(sim, "accounts"), token=sim.token)
    assert status == 200
    (account,) = json.loads(body)
    assert account["accountId"] == sim.account_id
    assert {"accountName", "mainAccountId"} <= set(account)
    status, _, _ = await fetch(http, "GET", admin_url(sim, "accounts"), token=None)
    assert status == 401


async def test_users_stub_lists_and_creates(sim: Simulator, http: aiohttp.ClientSession) -> None:
    status, body, _ = await fetch(http, "GET", admin_url(sim, "users"), token=sim.token)
    assert status == 200
    assert json.loads(body) == sim.users
    async with http.post(
        admin_url(sim, "users"), json={"userName": "b@example.com"}, headers=bearer(sim.token)
    ) as response:
        assert response.status == 201
        created = await response.json()
    assert created["userName"] == "b@example.com"
    assert created in sim.users
    async with http.post(admin_url(sim, "users"), data="x", headers=bearer(sim.token)) as response:
        assert response.status == 400


async def test_declines_can_carry_words_and_go_back_to_a_bare_false(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    uii = answered_uii(sim)
    sim.answer_declines("false: no session for that phone")
    assert await act(http, sim, uii, "hangupSession", phone=SUPERVISOR) == (
        200,
        "false: no session for that phone",
    )
    words = json.dumps({"result": False, "message": "Agent is not on the call"})
    sim.answer_declines(words, content_type="application/json")
    assert await act(http, sim, uii, "hangupSession", phone=SUPERVISOR) == (200, words)
    # A success is untouched, and no argument restores the service's bare answer.
    assert await act(http, sim, uii, "pingCall") == (200, "true")
    sim.answer_declines()
    assert await act(http, sim, uii, "hangupSession", phone=SUPERVISOR) == (200, "false")
    assert sim.effect_count("hangupSession") == 0
