"""The auth tests' account: small, with no server rate limit (they count logins, not
requests), and clients that retry at once and pace nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import FAST


@pytest.fixture
def activecalls_simulator_options() -> dict[str, Any]:
    return {"calls": 30, "seed": 3, "rate_limit": None}


@pytest.fixture
def activecalls_client_options() -> dict[str, Any]:
    return {"retry": FAST, "rate_limit": None}
