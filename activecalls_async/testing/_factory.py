"""Seeded generators of plausible names, phone numbers and ids for simulated records."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

_T = TypeVar("_T")

FIRST_NAMES = (
    "Ada", "Ben", "Carla", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jamal",
    "Kira", "Luis", "Maya", "Noah", "Olu", "Priya", "Quinn", "Rosa", "Sam", "Tara",
    "Umar", "Vera", "Wen", "Ximena", "Yusuf", "Zoe", "Aaron", "Bea", "Chen", "Dana",
)  # fmt: skip

LAST_NAMES = (
    "Adams", "Baker", "Costa", "Diaz", "Evans", "Fischer", "Garcia", "Hughes", "Ito",
    "Jensen", "Khan", "Lopez", "Moreau", "Nakamura", "Okafor", "Patel", "Quinn", "Rossi",
    "Silva", "Tanaka", "Urban", "Varga", "Walsh", "Xu", "Young", "Zimmer",
)  # fmt: skip

_CNAM_EXTRAS = ("WIRELESS CALLER", "UNKNOWN", "TOLL FREE CALL", "CITY OF AUSTIN", "ACME CORP")

_AREA_CODES = (
    "212", "213", "305", "312", "404", "415", "503", "512", "617", "650",
    "702", "718", "720", "773", "808", "917",
)  # fmt: skip

_TOLL_FREE = ("800", "833", "844", "855", "866", "877", "888")


class RecordFactory:
    """Draws shared pools once, then hands out pooled strings so calls stay small."""

    def __init__(self, rng: random.Random, *, pool_size: int) -> None:
        self.rng = rng
        self.cnams = [
            f"{first} {last}".upper()[:15] for first in FIRST_NAMES for last in LAST_NAMES[:8]
        ] + list(_CNAM_EXTRAS)
        # Pooled caller numbers: a million calls share at most 65,536 strings.
        self.phones = [self.local_number() for _ in range(min(max(pool_size, 64), 65_536))]
        self.external_ids = [f"CRM-{n:07d}" for n in range(1, max(pool_size // 3, 1) + 1)]

    def pick(self, pool: Sequence[_T]) -> _T:
        """Return a seeded choice from a pool (``random.choice`` is slower on hot loops)."""
        return pool[int(self.rng.random() * len(pool))]

    def local_number(self) -> str:
        """Return a 10-digit geographic North American number."""
        rng = self.rng
        return f"{rng.choice(_AREA_CODES)}{rng.randrange(200, 1000)}{rng.randrange(10_000):04d}"

    def toll_free_number(self) -> str:
        """Return a 10-digit toll-free number."""
        rng = self.rng
        return f"{rng.choice(_TOLL_FREE)}{rng.randrange(200, 1000)}{rng.randrange(10_000):04d}"

    def caller(self) -> tuple[str, str]:
        """Return a pooled caller number and caller name."""
        return self.pick(self.phones), self.pick(self.cnams)

    def external_id(self) -> str:
        """Return a pooled CRM id; pools are smaller than call counts so ids repeat."""
        return self.pick(self.external_ids)
