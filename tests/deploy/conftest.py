"""tests/deploy: the files an operator deploys with (Dockerfile, compose.yaml, deploy/), checked by the
real tools where this machine has them (scripts/ensure-ops-tools.sh installs them for `make test`)."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _app_context():
    """These tests read files and start processes of their own: no app or test database needed."""
    yield
