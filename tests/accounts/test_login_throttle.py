"""Login throttling that stops guessers without locking owners out (issue 14, defect 5).

Per account: wrong guesses are counted across every login endpoint together (the HTML login,
``POST /api/v1/tokens`` and the activation form).  Once an account has had LOGIN_ACCOUNT_FAILURE_LIMIT
wrong guesses in the window, a client (address + browser) that itself guessed wrong
LOGIN_GUARDED_CLIENT_FAILURES times is refused with 429; a client that has not been guessing still
gets in with the right password.  Per address only failures count, so a venue's Wi-Fi full of workers
logging in correctly is never refused.  Counts in memory here (Redis: tests/core/test_ratelimit.py).
"""
from __future__ import annotations

import pytest

from unionevents import create_app
from unionevents.accounts import throttle
from unionevents.extensions import db, limiter

from ..factories import PASSWORD

ACCOUNT_LIMIT = 10      # LOGIN_ACCOUNT_FAILURE_LIMIT = "10 per 5 minutes"
ADDRESS_FAILURES = 40   # LOGIN_ADDRESS_FAILURE_LIMIT = "40 per 5 minutes"

ATTACKER = {"X-Forwarded-For": "203.0.113.66", "User-Agent": "curl/8.5"}
OWNER_PHONE = {"X-Forwarded-For": "198.51.100.23", "User-Agent": "Mozilla/5.0 (Linux; Android 14) Mobile"}
VENUE = "192.0.2.10"  # one Wi-Fi, one public address


@pytest.fixture
def limited(database_url):
    """The app with rate limits on (memory storage, one trusted proxy); the limiter restored after."""
    saved = dict(limiter.__dict__)
    application = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url,
                              "RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "memory://",
                              "PROXY_FIX_HOPS": 1})
    yield application
    limiter.__dict__.clear()
    limiter.__dict__.update(saved)
    with application.app_context():
        db.engine.dispose()


def html_login(client, mobile, password, headers):
    return client.post("/account/login", data={"mobile": mobile, "password": password}, headers=headers)


def api_login(client, mobile, password, headers):
    return client.post("/api/v1/tokens", json={"mobile": mobile, "password": password}, headers=headers)


def test_an_attacker_is_blocked_and_the_owner_still_logs_in(limited, make):
    owner = make.user("王骑手", mobile="13912345678")
    attacker = limited.test_client()
    guesses = [html_login(attacker, owner.mobile, f"guess-{i}x", ATTACKER).status_code for i in range(ACCOUNT_LIMIT + 3)]
    assert guesses == [422] * ACCOUNT_LIMIT + [429] * 3
    refused = html_login(attacker, owner.mobile, PASSWORD, ATTACKER)  # even the right password now
    assert refused.status_code == 429 and "错误尝试次数过多" in refused.get_data(as_text=True)
    assert refused.headers["Retry-After"].isdigit()

    phone = limited.test_client()
    response = html_login(phone, owner.mobile, PASSWORD, OWNER_PHONE)
    assert response.status_code == 302 and response.location.endswith("/")
    assert phone.get("/account/profile").status_code == 200
    # The owner's phone app gets its token too, and the attacker is still refused.
    assert api_login(limited.test_client(), owner.mobile, PASSWORD, OWNER_PHONE).status_code == 201
    assert html_login(attacker, owner.mobile, "guess-99x", ATTACKER).status_code == 429


def test_the_owner_behind_the_attackers_address_on_another_device_gets_in(limited, make):
    owner = make.user("王骑手", mobile="13912345678")
    attacker = limited.test_client()
    for i in range(ACCOUNT_LIMIT + 1):
        html_login(attacker, owner.mobile, f"guess-{i}x", ATTACKER)
    same_address = {"X-Forwarded-For": ATTACKER["X-Forwarded-For"], "User-Agent": OWNER_PHONE["User-Agent"]}
    assert html_login(limited.test_client(), owner.mobile, PASSWORD, same_address).status_code == 302


def test_the_owner_may_mistype_during_an_attack(limited, make):
    owner = make.user("王骑手", mobile="13912345678")
    attacker = limited.test_client()
    for i in range(ACCOUNT_LIMIT + 2):
        html_login(attacker, owner.mobile, f"guess-{i}x", ATTACKER)
    phone = limited.test_client()
    assert html_login(phone, owner.mobile, "typo-pass1", OWNER_PHONE).status_code == 422
    assert html_login(phone, owner.mobile, PASSWORD, OWNER_PHONE).status_code == 302


def test_a_fresh_client_guessing_during_an_attack_is_stopped_quickly(limited, make):
    owner = make.user("王骑手", mobile="13912345678")
    attacker = limited.test_client()
    for i in range(ACCOUNT_LIMIT):
        html_login(attacker, owner.mobile, f"guess-{i}x", ATTACKER)
    other_browser = {"X-Forwarded-For": ATTACKER["X-Forwarded-For"], "User-Agent": "python-requests/2.32"}
    statuses = [html_login(attacker, owner.mobile, f"more-{i}x", other_browser).status_code for i in range(6)]
    assert statuses == [422, 422, 422, 429, 429, 429]  # LOGIN_GUARDED_CLIENT_FAILURES = 3


def test_html_login_and_api_tokens_share_one_count_per_account(limited, make):
    owner = make.user("王骑手", mobile="13912345678")
    client = limited.test_client()
    statuses = []
    for i in range(ACCOUNT_LIMIT):
        login = html_login if i % 2 else api_login
        statuses.append(login(client, owner.mobile, f"guess-{i}x", ATTACKER).status_code)
    assert statuses == [401, 422] * (ACCOUNT_LIMIT // 2)
    refused = api_login(client, owner.mobile, "guess-api", ATTACKER)
    assert refused.status_code == 429
    assert refused.json["code"] == "too_many_attempts" and "错误尝试次数过多" in refused.json["message"]
    assert refused.headers["Retry-After"].isdigit()
    assert html_login(client, owner.mobile, "guess-html", ATTACKER).status_code == 429


def test_wrong_activation_codes_count_as_guesses_at_the_account(limited, make):
    owner = make.user("王骑手", mobile="13912345678")
    client = limited.test_client()
    for i in range(ACCOUNT_LIMIT):
        response = client.post("/account/activate", headers=ATTACKER, data={
            "mobile": owner.mobile, "code": f"{i:06d}", "password": "secret123", "password_again": "secret123",
            "accept_privacy": "y"})
        assert response.status_code == 422
    assert html_login(client, owner.mobile, PASSWORD, ATTACKER).status_code == 429
    assert html_login(limited.test_client(), owner.mobile, PASSWORD, OWNER_PHONE).status_code == 302


def test_a_hundred_and_twenty_workers_log_in_from_one_address(limited, make):
    """A venue's Wi-Fi (or carrier NAT): successful logins are not counted against the address."""
    workers = [make.user(f"骑手{i}", mobile=f"1390000{i:04d}") for i in range(120)]
    statuses = []
    for n, worker in enumerate(workers):
        headers = {"X-Forwarded-For": VENUE, "User-Agent": f"phone-{n}"}
        login = html_login if n % 2 else api_login
        statuses.append(login(limited.test_client(), worker.mobile, PASSWORD, headers).status_code)
    assert sorted(set(statuses)) == [201, 302] and len(statuses) == 120


def test_failures_per_address_are_still_limited(limited):
    client = limited.test_client()
    headers = {"X-Forwarded-For": VENUE, "User-Agent": "sprayer"}
    statuses = [html_login(client, f"1390000{i:04d}", "spray-pass1", headers).status_code
                for i in range(ADDRESS_FAILURES + 2)]
    assert statuses[:ADDRESS_FAILURES] == [422] * ADDRESS_FAILURES
    assert statuses[ADDRESS_FAILURES:] == [429, 429]
    api = api_login(client, "13911110000", "spray-pass1", headers)  # the same count for the API
    assert api.status_code == 429 and api.json["message"] == "操作过于频繁，请稍后再试。"
    # Another address is not affected.
    assert html_login(client, "13911110001", "spray-pass1", {"X-Forwarded-For": "192.0.2.11"}).status_code == 422


def test_a_hundred_and_twenty_sign_ups_from_one_address(limited, make):
    """Account creation at a venue: one address, many new workers within the hour."""
    client = limited.test_client()
    statuses = []
    for i in range(120):
        client.delete_cookie("session")
        response = client.post("/account/signup", headers={"X-Forwarded-For": VENUE}, data={
            "mobile": f"1370000{i:04d}", "name": f"新职工{i}", "password": "secret123", "password_again": "secret123",
            "union_id": "", "occupation": "rider", "accept_privacy": "y"})
        statuses.append(response.status_code)
    assert statuses == [302] * 120


def test_with_the_shared_storage_down_logins_still_work_and_are_guarded(database_url, make):
    """Redis unreachable: no 500s; the guard counts in the process (as Flask-Limiter's fallback does)."""
    saved = dict(limiter.__dict__)
    application = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url,
                              "RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1/0",
                              "PROXY_FIX_HOPS": 1})
    try:
        owner = make.user("王骑手", mobile="13912345678")
        client = application.test_client()
        statuses = [html_login(client, owner.mobile, f"guess-{i}x", ATTACKER).status_code
                    for i in range(ACCOUNT_LIMIT + 1)]
        assert statuses == [422] * ACCOUNT_LIMIT + [429]
        assert html_login(application.test_client(), owner.mobile, PASSWORD, OWNER_PHONE).status_code == 302
    finally:
        throttle._fallback.storage.reset()
        limiter.__dict__.clear()
        limiter.__dict__.update(saved)
        with application.app_context():
            db.engine.dispose()


def test_guessing_the_current_password_while_logged_in_counts_too(limited, make):
    """A stolen session must not become an unthrottled password oracle (password change, deletion)."""
    owner = make.user("王骑手", mobile="13912345678")
    thief = limited.test_client()
    assert html_login(thief, owner.mobile, PASSWORD, ATTACKER).status_code == 302
    statuses = [thief.post("/account/password", headers=ATTACKER, data={
        "current_password": f"guess-{i}x", "new_password": "newpass456", "new_password_again": "newpass456"}
    ).status_code for i in range(ACCOUNT_LIMIT + 1)]
    assert statuses == [422] * ACCOUNT_LIMIT + [429]
    refused = thief.post("/account/delete", headers=ATTACKER, data={"password": PASSWORD, "understood": "y"})
    assert refused.status_code == 429 and "错误尝试次数过多" in refused.get_data(as_text=True)
    assert html_login(limited.test_client(), owner.mobile, PASSWORD, OWNER_PHONE).status_code == 302
