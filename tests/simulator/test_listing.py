"""The list operation: products, pagination, externalId filtering, prefixes, field shape."""

from __future__ import annotations

import json
import re
import time

import aiohttp
import pytest

from activecalls_async.testing import Simulator

from .bare_http import api_url, bearer, fetch, list_calls

FIELDS = {
    "uii",
    "accountId",
    "ani",
    "dnis",
    "dnisE164",
    "enqueueTime",
    "dequeueTime",
    "callState",
    "archive",
    "agentFirstName",
    "agentLastName",
    "destinationName",
    "externalId",
    "cnam",
}
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000")
EMPTY_PRODUCTS = (
    "AGENT",
    "CHAT_QUEUE",
    "CLOUD_DESTINATION",
    "HTTP_SERVICES",
    "SCRIPTING",
    "TN_MANAGER",
    "SURVEY",
    "TEAMS",
    "KNOWLEDGE_BASE",
    "UTILITIES",
)


async def test_account_listing_is_every_call_in_order(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    rows = await list_calls(http, sim, product="ACCOUNT", productId=sim.account_id)
    assert len(rows) == 200
    assert rows == sim.wire_calls()
    keys = [(row["enqueueTime"], row["uii"]) for row in rows]
    assert keys == sorted(keys)
    assert len({row["uii"] for row in rows}) == 200


async def test_every_call_carries_all_fields_in_wire_form(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    rows = await list_calls(http, sim, product="ACCOUNT", productId=sim.account_id)
    states = set()
    for row in rows:
        assert set(row) == FIELDS
        assert re.fullmatch(r"\d{30}", row["uii"])
        assert row["accountId"] == sim.account_id
        assert re.fullmatch(r"\d{10}", row["ani"])
        assert re.fullmatch(r"\d{10}", row["dnis"])
        assert row["dnisE164"] == "+1" + row["dnis"]
        assert TIME.fullmatch(row["enqueueTime"])
        assert isinstance(row["archive"], bool)
        assert isinstance(row["externalId"], str)
        states.add(row["callState"])
        if row["callState"] == "QUEUED":
            assert row["dequeueTime"] is None
            assert row["agentFirstName"] is None
            assert row["agentLastName"] is None
        else:
            assert TIME.fullmatch(row["dequeueTime"])
    assert {"ACTIVE", "QUEUED"} <= states


async def test_a_listed_call_that_changes_is_listed_as_it_is_now(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    # Rows are encoded once and kept while the call is unchanged: any change shows.
    first = (await list_calls(http, sim, product="ACCOUNT", productId=sim.account_id))[0]
    sim.update_call(first["uii"], call_state="ON_HOLD", cnam="CHANGED", agent_first_name="Pat")
    again = (await list_calls(http, sim, product="ACCOUNT", productId=sim.account_id))[0]
    assert again["uii"] == first["uii"]
    assert (again["callState"], again["cnam"], again["agentFirstName"]) == (
        "ON_HOLD",
        "CHANGED",
        "Pat",
    )
    assert again == sim.wire_call(first["uii"])
    assert {k: v for k, v in again.items() if k not in ("callState", "cnam", "agentFirstName")} == {
        k: v for k, v in first.items() if k not in ("callState", "cnam", "agentFirstName")
    }


@pytest.mark.parametrize("max_rows", [1, 7, 50, 200, 1000])
async def test_pages_are_zero_based_and_cover_every_call_once(
    sim: Simulator, http: aiohttp.ClientSession, max_rows: int
) -> None:
    expected = [call["uii"] for call in sim.wire_calls()]
    seen: list[str] = []
    page = 0
    while True:
        rows = await list_calls(
            http, sim, product="ACCOUNT", productId=sim.account_id, page=page, maxRows=max_rows
        )
        assert len(rows) <= max_rows
        seen += [row["uii"] for row in rows]
        if len(rows) < max_rows:
            break
        page += 1
    assert seen == expected
    # 200 is an exact multiple of 1, 50 and 200: the page after the last full one is empty.
    assert page == len(expected) // max_rows


async def test_last_page_and_beyond_the_end(sim: Simulator, http: aiohttp.ClientSession) -> None:
    expected = [call["uii"] for call in sim.wire_calls()]
    last = await list_calls(http, sim, product="ACCOUNT", page=2, maxRows=75)
    assert [row["uii"] for row in last] == expected[150:]
    assert await list_calls(http, sim, product="ACCOUNT", page=3, maxRows=75) == []
    assert await list_calls(http, sim, product="ACCOUNT", page=999, maxRows=75) == []


async def test_without_max_rows_page_zero_holds_everything(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    assert len(await list_calls(http, sim, product="ACCOUNT")) == 200
    assert await list_calls(http, sim, product="ACCOUNT", page=1) == []


async def test_product_listings_partition_the_account(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    targets = sim.targets()
    assert targets[0] == ("ACCOUNT", int(sim.account_id))
    assert ("ACD", 55) in targets
    assert ("DNIS", 8661234567) in targets
    by_kind: dict[str, set[str]] = {}
    for product, product_id in targets[1:]:
        rows = await list_calls(http, sim, product=product, productId=product_id)
        assert rows, (product, product_id)
        assert rows == sim.wire_calls(product, product_id)
        by_kind.setdefault(product, set()).update(row["uii"] for row in rows)
    everything = {call["uii"] for call in sim.wire_calls()}
    routed = set().union(*(uiis for kind, uiis in by_kind.items() if kind != "DNIS"))
    assert routed == everything
    # Inbound calls are seen under their DNIS too; outbound calls are not.
    assert by_kind["DNIS"] == everything - by_kind["OUTBOUND"]


async def test_acd_and_dnis_listings_overlap(sim: Simulator, http: aiohttp.ClientSession) -> None:
    queue = {row["uii"] for row in await list_calls(http, sim, product="ACD", productId=55)}
    dnis = {row["uii"] for row in await list_calls(http, sim, product="DNIS", productId=8661234567)}
    assert dnis
    assert dnis <= queue


async def test_product_without_id_lists_every_call_of_that_kind(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    every_acd = await list_calls(http, sim, product="ACD")
    per_queue = sum(
        len(sim.wire_calls("ACD", product_id))
        for product, product_id in sim.targets()
        if product == "ACD"
    )
    assert len(every_acd) == per_queue
    assert {row["destinationName"] for row in every_acd} >= {"Sales Queue"}


@pytest.mark.parametrize("product", EMPTY_PRODUCTS)
async def test_products_without_results_list_nothing(
    sim: Simulator, http: aiohttp.ClientSession, product: str
) -> None:
    assert await list_calls(http, sim, product=product, productId=55) == []


async def test_unknown_product_ids_list_nothing(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    assert await list_calls(http, sim, product="ACD", productId=999_999) == []
    assert await list_calls(http, sim, product="DNIS", productId=8000000000) == []
    assert await list_calls(http, sim, product="ACCOUNT", productId=99) == []


async def test_external_id_filters_alone_and_within_a_product(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    counts: dict[str, int] = {}
    for call in sim.wire_calls():
        counts[call["externalId"]] = counts.get(call["externalId"], 0) + 1
    shared = max(counts, key=lambda key: counts[key])
    assert counts[shared] > 1
    alone = await list_calls(http, sim, externalId=shared)
    assert [row["uii"] for row in alone] == [
        call["uii"] for call in sim.wire_calls() if call["externalId"] == shared
    ]
    first = sim.state.get(alone[0]["uii"])
    assert first is not None
    assert first.product is not None
    within = await list_calls(
        http,
        sim,
        product=first.product.kind,
        productId=first.product.product_id,
        externalId=shared,
    )
    assert alone[0] in within
    assert all(row["externalId"] == shared for row in within)
    assert {row["uii"] for row in within} <= {row["uii"] for row in alone}
    assert await list_calls(http, sim, externalId=shared, maxRows=1) == alone[:1]
    assert await list_calls(http, sim, externalId="CRM-does-not-exist") == []


async def test_both_prefixes_serve_the_same_listing(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    current = await list_calls(http, sim, product="ACD", productId=55)
    async with http.get(
        api_url(sim, "/list", legacy=True),
        params={"product": "ACD", "productId": "55"},
        headers=bearer(sim.token),
    ) as response:
        assert response.status == 200
        assert await response.json() == current
    assert sim.requests[-1].path.startswith("/api/v1/admin/accounts/")
    assert sim.requests[-2].path.startswith("/voice/api/v1/admin/accounts/")


@pytest.mark.parametrize(
    ("params", "attribute"),
    [
        ({}, "product"),
        ({"product": "NOPE"}, "product"),
        ({"product": "acd"}, "product"),
        ({"product": "ACD", "productId": "abc"}, "productId"),
        ({"product": "ACD", "productId": "5.5"}, "productId"),
        ({"product": "ACD", "page": "-1"}, "page"),
        ({"product": "ACD", "page": "x"}, "page"),
        ({"product": "ACD", "maxRows": "0"}, "maxRows"),
    ],
)
async def test_bad_list_parameters_answer_400_naming_them(
    sim: Simulator, http: aiohttp.ClientSession, params: dict[str, str], attribute: str
) -> None:
    status, body, headers = await fetch(
        http, "GET", api_url(sim, "/list"), token=sim.token, params=params
    )
    assert status == 400
    assert headers["Content-Type"].startswith("application/json")
    problem = json.loads(body)
    assert [error["attributeName"] for error in problem["validationErrors"]] == [attribute]


def test_two_hundred_thousand_calls_build_and_page_quickly() -> None:
    started = time.perf_counter()
    big = Simulator(calls=200_000, seed=3)
    built = time.perf_counter() - started
    calls = big.state.listing("ACCOUNT", None)
    assert len(calls) == 200_000
    started = time.perf_counter()
    page = [call.wire(big.account_id) for call in calls[150_000:151_000]]
    served = time.perf_counter() - started
    assert len(page) == 1000
    assert page[0]["uii"] < page[-1]["uii"]
    # Not timing assertions (CI machines vary); printed for whoever runs with -s.
    print(f"built 200k calls in {built:.2f}s; rendered a 1,000-row page in {served * 1000:.1f}ms")
