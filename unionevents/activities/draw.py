"""The lottery's commitment (commit, then reveal), pure and shared by activities and registrations.

When a lottery activity is published its seed is chosen with ``secrets`` and only its SHA-256 is
shown.  After the draw the seed and the whole order are published, so anyone can check that the
seed matches the hash shown before sign-up and that the order follows from it
(``registrations.rules.lottery_order``, the one implementation of the shuffle).
"""
from __future__ import annotations

import hashlib
import secrets

from .models import Activity, ActivityStatus, SignupMode

SEED_BYTES = 16

#: How anyone recomputes the order (shown on the activity page after the draw; Python 3).
RECOMPUTE = (
    "import hashlib, random\n"
    "seed = \"{seed}\"\n"
    "print(hashlib.sha256(seed.encode()).hexdigest())  # = the hash shown before sign-up\n"
    "ids = sorted([{ids}])\n"
    "random.Random(seed).shuffle(ids)\n"
    "print(ids)  # = the published order"
)


def new_seed() -> str:
    return secrets.token_hex(SEED_BYTES)


def seed_digest(seed: str) -> str:
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()


def commit_seed(activity: Activity) -> bool:
    """Give a published, undrawn lottery activity its secret seed and public hash (once).

    Called inside the transaction that publishes the activity or makes it a lottery."""
    if (activity.mode != SignupMode.LOTTERY or activity.status != ActivityStatus.PUBLISHED
            or activity.drawn_at is not None or activity.lottery_seed_hash is not None):
        return False
    activity.lottery_seed = new_seed()
    activity.lottery_seed_hash = seed_digest(activity.lottery_seed)
    return True


def published_order(activity: Activity) -> list[int]:
    """The drawn order as published (registration numbers), empty before the draw."""
    if activity.drawn_at is None or not activity.lottery_order:
        return []
    return [int(part) for part in activity.lottery_order.split(",") if part]


def recompute_text(activity: Activity) -> str:
    return RECOMPUTE.format(seed=activity.lottery_seed, ids=", ".join(str(i) for i in sorted(published_order(activity))))
