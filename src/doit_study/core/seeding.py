"""Seeded random streams: one independent, reproducible stream per (seed, name), so that no draw
depends on another's order or on the file system."""

from __future__ import annotations

import random


def rng_for(seed: int, name: str) -> random.Random:
    """An independent, reproducible random stream per (seed, builder)."""
    return random.Random(f"{seed}:{name}")
