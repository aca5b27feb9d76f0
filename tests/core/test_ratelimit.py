"""Login abuse: guesses per account and failures per address, shared between workers through Redis.

R15: at most N guesses per account per window from one client across 2 workers; the same answer for
an unknown mobile and a wrong password.  Activity sign-ups are never limited per address.  How the
owner still gets in during an attack: tests/accounts/test_login_throttle.py.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import re
import textwrap
from pathlib import Path

import pytest

from unionevents import create_app
from unionevents.extensions import db

from .conftest import REDIS_URL

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 10  # LOGIN_ACCOUNT_FAILURE_LIMIT = "10 per 5 minutes"
GUARDED_CLIENT = 3  # LOGIN_GUARDED_CLIENT_FAILURES
ADDRESS_FAILURES = 40  # LOGIN_ADDRESS_FAILURE_LIMIT = "40 per 5 minutes"
CSRF_VALUE = re.compile(r'"[\w-]{20,}\.[\w-]{6}\.[\w-]{20,}"')  # a signed, timestamped CSRF token


@pytest.fixture
def limited_app(database_url, redis_prefix):
    """``limited_app(**overrides)``: the app with rate limits on, counting in Redis under a unique prefix."""
    apps = []

    def _build(**overrides):
        config = {"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "RATELIMIT_ENABLED": True,
                  "REDIS_URL": REDIS_URL, "RATELIMIT_KEY_PREFIX": redis_prefix, "PROXY_FIX_HOPS": 1}
        config.update(overrides)
        application = create_app(config)
        apps.append(application)
        return application

    yield _build
    for application in apps:
        with application.app_context():
            db.engine.dispose()


def _login(client, mobile, ip, password="wrong-password-1"):
    return client.post("/account/login", data={"mobile": mobile, "password": password},
                       headers={"X-Forwarded-For": ip})


def test_redis_url_puts_the_counts_in_redis(limited_app):
    application = limited_app()
    assert application.config["RATELIMIT_STORAGE_URI"] == REDIS_URL
    from unionevents.extensions import limiter

    assert type(limiter._storage).__name__ == "RedisStorage"


def test_one_mobile_is_guarded_across_addresses(limited_app, make):
    make.user("王骑手", mobile="13912345678")
    client = limited_app().test_client()
    statuses = [_login(client, "13912345678", "203.0.113.1").status_code for _ in range(LIMIT + 2)]
    assert statuses == [422] * LIMIT + [429] * 2
    # A guesser moving to another address gets only a few more guesses there: the account is guarded.
    moved = [_login(client, "13912345678", "203.0.113.2").status_code for _ in range(GUARDED_CLIENT + 2)]
    assert moved == [422] * GUARDED_CLIENT + [429] * 2
    # The owner, who has not been guessing, gets in; another account from the same address is not affected.
    assert _login(client, "13912345678", "198.51.100.1", password="secret123").status_code == 302
    assert _login(client, "13900000001", "203.0.113.1").status_code == 422


def test_one_address_is_throttled_across_mobiles(limited_app):
    client = limited_app().test_client()
    statuses = [_login(client, f"1390000{i:04d}", "198.51.100.7").status_code
                for i in range(ADDRESS_FAILURES + 2)]
    assert statuses.count(429) == 2 and statuses[-1] == 429
    # A neighbour behind another address still gets in line.
    assert _login(client, "13900009999", "198.51.100.8").status_code == 422


def test_a_forged_forwarded_for_entry_is_ignored(limited_app):
    """With one trusted proxy only the address nginx appended counts, not what the client wrote before it."""
    client = limited_app().test_client()
    statuses = [_login(client, f"1390000{i:04d}", f"10.9.{i // 200}.{i % 200}, 198.51.100.9").status_code
                for i in range(ADDRESS_FAILURES + 1)]
    assert statuses[-1] == 429


def test_without_a_proxy_the_header_is_not_believed(limited_app):
    client = limited_app(PROXY_FIX_HOPS=0).test_client()
    statuses = [_login(client, f"1390000{i:04d}", f"203.0.113.{i}").status_code
                for i in range(ADDRESS_FAILURES + 1)]
    assert statuses[-1] == 429  # every request really came from 127.0.0.1


def test_unknown_mobile_and_wrong_password_get_the_same_answer(limited_app, make):
    make.user("王骑手", mobile="13912345678")
    client = limited_app().test_client()
    known = _login(client, "13912345678", "192.0.2.1")
    unknown = _login(client, "13987654321", "192.0.2.2")
    assert known.status_code == unknown.status_code == 422
    assert CSRF_VALUE.search(known.get_data(as_text=True))
    # The CSRF token carries a timestamp, so it differs when the two answers straddle a second.
    known_page = CSRF_VALUE.sub("CSRF", known.get_data(as_text=True).replace("13912345678", "MOBILE"))
    unknown_page = CSRF_VALUE.sub("CSRF", unknown.get_data(as_text=True).replace("13987654321", "MOBILE"))
    assert known_page == unknown_page  # byte for byte, apart from the number typed and the CSRF token
    assert 'id="password-error"' in known_page  # the one message sits under the password field


def test_api_tokens_are_throttled_per_mobile(limited_app, make):
    make.user("王骑手", mobile="13912345678")
    client = limited_app().test_client()
    statuses = [client.post("/api/v1/tokens", json={"mobile": "13912345678", "password": "nope"},
                            headers={"X-Forwarded-For": "203.0.113.1"}).status_code
                for i in range(LIMIT + 1)]
    assert statuses[:LIMIT] == [401] * LIMIT and statuses[-1] == 429
    unknown = client.post("/api/v1/tokens", json={"mobile": "13987654321", "password": "nope"},
                          headers={"X-Forwarded-For": "203.0.113.200"})
    assert unknown.status_code == 401


def test_the_code_login_page_is_throttled(limited_app):
    client = limited_app().test_client()
    statuses = [client.post("/account/login/code", data={"mobile": "13912345678", "code": "000000"},
                            headers={"X-Forwarded-For": "203.0.113.1"}).status_code
                for i in range(LIMIT + 1)]
    assert statuses[:LIMIT] == [422] * LIMIT and statuses[-1] == 429


def test_account_sign_up_is_throttled_per_address(limited_app):
    client = limited_app(SIGNUP_RATE_LIMIT="3 per hour").test_client()
    statuses = [client.post("/account/signup", data={"mobile": "bad"},
                            headers={"X-Forwarded-For": "198.51.100.20"}).status_code for _ in range(4)]
    assert statuses == [422, 422, 422, 429]


def test_fifty_activity_sign_ups_from_one_address_all_succeed(limited_app, make, login):
    """A whole workplace signs up from one network at the same minute: no per-address limit."""
    activity = make.activity(capacity=60)
    workers = [make.user(f"工人{i}") for i in range(50)]
    client = limited_app().test_client()
    statuses = []
    for worker in workers:
        login(worker, client)
        response = client.post(f"/activities/{activity.id}/signup", data={},
                               headers={"X-Forwarded-For": "198.51.100.50"})
        statuses.append((response.status_code, response.location.split("/")[-2]))
        client.delete_cookie("session")
    assert statuses == [(302, "registrations")] * 50
    db.session.rollback()  # end this session's read snapshot: the requests wrote through another app
    assert db.session.get(type(activity), activity.id).taken == 50


WORKER_SCRIPT = textwrap.dedent("""
    import json, sys
    from unionevents import create_app
    url, storage, prefix, worker, attempts = sys.argv[1:6]
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": True,
                      "RATELIMIT_STORAGE_URI": storage, "RATELIMIT_KEY_PREFIX": prefix,
                      "PROXY_FIX_HOPS": 1})
    client = app.test_client()
    print("ready", flush=True)
    sys.stdin.readline()  # both workers start together
    statuses = [client.post("/account/login", data={"mobile": "13912345678", "password": "wrong-1"},
                            headers={"X-Forwarded-For": "10.0.0.1"}).status_code
                for i in range(int(attempts))]
    print(json.dumps(statuses), flush=True)
""")


def _two_workers(database_url: str, storage: str, prefix: str, attempts: int) -> list[int]:
    """Two processes, like two gunicorn workers, take one client's guesses at one account."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([sys.executable, "-c", WORKER_SCRIPT, database_url, storage, prefix, str(n),
                               str(attempts)], cwd=ROOT, env=env, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for n in (1, 2)]
    try:
        for proc in procs:
            assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        for proc in procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            results += json.loads(out.strip().splitlines()[-1])
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()


def test_two_workers_sharing_redis_enforce_one_limit_per_mobile(database_url, redis_prefix, make):
    make.user("王骑手", mobile="13912345678")
    statuses = _two_workers(database_url, REDIS_URL, redis_prefix, attempts=8)
    assert len(statuses) == 16
    # N guesses in all, not N per worker (a guess in flight in the other worker may slip past the check)
    assert LIMIT <= statuses.count(422) <= LIMIT + 1
    assert statuses.count(429) == 16 - statuses.count(422)


def test_negative_control_memory_storage_lets_each_worker_guess_n_times(database_url, make):
    """Without shared storage the same scenario lets more than N guesses through: the test above has teeth."""
    make.user("王骑手", mobile="13912345678")
    statuses = _two_workers(database_url, "memory://", "ignored", attempts=8)
    assert statuses.count(422) == 16
