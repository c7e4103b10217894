"""The six call actions: real effects, true/false answers, 400s and the 404 after hang-up."""

from __future__ import annotations

import json

import aiohttp
import pytest

from activecalls_async.testing import Disposition, Session, Simulator

from .support import act, answered_uii, api_url, bearer, fetch, list_calls

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
    assert call.sessions == {"5554150123": Session(SUPERVISOR, "MONITOR")}
    # The same phone again re-types its session rather than adding another.
    assert await act(
        http, sim, uii, "addSessionToCall", destination="15554150123", sessionType="BARGEIN"
    ) == (200, "true")
    assert call.sessions == {"5554150123": Session("15554150123", "BARGEIN")}
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
