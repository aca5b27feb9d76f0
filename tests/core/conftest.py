"""Fixtures for core tests: apps with rate limits on (Redis or memory) and a clean limiter after."""
from __future__ import annotations

import uuid

import pytest

from unionevents.extensions import limiter

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(autouse=True)
def _restore_limiter():
    """Flask-Limiter keeps its state (enabled, storage, key prefix) on the one global ``limiter``;
    an app built in a test would otherwise switch rate limits on for every later test in this process."""
    saved = dict(limiter.__dict__)
    yield
    limiter.__dict__.clear()
    limiter.__dict__.update(saved)


@pytest.fixture
def redis_prefix():
    """A key prefix unique to this test; its Redis keys are deleted afterwards."""
    import redis

    prefix = f"uetest-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"*{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()
