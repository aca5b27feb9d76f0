"""Login throttling that stops guessers without locking owners out (issue 14, defect 5).

Per account: wrong guesses are counted across every login endpoint together (the HTML login,
``POST /api/v1/tokens`` and the SMS-code forms).  Once an account has had LOGIN_ACCOUNT_FAILURE_LIMIT
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

from ..factories import PASSWORD, last_sms_code

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


def test_wrong_sms_codes_count_as_guesses_at_the_account(limited, make):
    """Code logins (HTML and API), reset codes and password logins spend one budget per account."""
    owner = make.user("王骑手", mobile="13912345678")
    client = limited.test_client()
    for i in range(ACCOUNT_LIMIT):
        if i % 3 == 0:
            response = client.post("/account/login/code", headers=ATTACKER,
                                   data={"mobile": owner.mobile, "code": f"{i:06d}"})
        elif i % 3 == 1:
            response = client.post("/api/v1/tokens", headers=ATTACKER,
                                   json={"mobile": owner.mobile, "code": f"{i:06d}"})
        else:
            response = client.post("/account/password/reset", headers=ATTACKER, data={
                "mobile": owner.mobile, "code": f"{i:06d}", "password": "secret123x",
                "password_again": "secret123x"})
        assert response.status_code in (401, 422), response.status_code
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
        mobile = f"1370000{i:04d}"  # each proves its number with a code first (two POSTs per sign-up)
        client.post("/account/signup", headers={"X-Forwarded-For": VENUE}, data={"mobile": mobile, "send": "y"})
        response = client.post("/account/signup", headers={"X-Forwarded-For": VENUE}, data={
            "mobile": mobile, "name": f"新职工{i}", "password": "secret123", "password_again": "secret123",
            "union_id": "", "occupation": "rider", "accept_privacy": "y", "code": last_sms_code(mobile)})
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


HARD_LIMIT = 30  # LOGIN_ACCOUNT_HARD_LIMIT = "30 per 5 minutes"


def test_rotating_addresses_and_browsers_does_not_buy_unlimited_guesses(limited, make):
    """A guesser who changes address and User-Agent at every try (a botnet, a script) is still bounded
    per account: past the hard limit every unknown client is refused, the right password included."""
    owner = make.user("王骑手", mobile="13912345678")
    statuses = []
    for i in range(HARD_LIMIT + 5):
        headers = {"X-Forwarded-For": f"203.0.{i // 200}.{i % 200 + 1}", "User-Agent": f"bot/{i}"}
        login = html_login if i % 2 else api_login
        statuses.append(login(limited.test_client(), owner.mobile, f"guess-{i}x", headers).status_code)
    assert [s for s in statuses[:HARD_LIMIT] if s not in (401, 422)] == []
    assert statuses[HARD_LIMIT:] == [429] * 5
    fresh = api_login(limited.test_client(), owner.mobile, PASSWORD, {"X-Forwarded-For": "198.51.100.99",
                                                                        "User-Agent": "new phone"})
    assert fresh.status_code == 429 and "曾经登录过的设备" in fresh.json["message"]


def test_the_owner_on_a_new_phone_gets_in_with_a_code_past_the_hard_limit(limited, make):
    """Rotating guessers used up the hard limit: a password from a never-used phone is refused, a code is
    not (the phone is in hand); the guessers' own code tries are still refused."""
    owner = make.user("王骑手", mobile="13912345678")
    for i in range(HARD_LIMIT + 2):
        headers = {"X-Forwarded-For": f"203.0.113.{i + 1}", "User-Agent": f"bot/{i}"}
        html_login(limited.test_client(), owner.mobile, f"guess-{i}x", headers)
    new_phone = limited.test_client()
    assert html_login(new_phone, owner.mobile, PASSWORD, OWNER_PHONE).status_code == 429
    new_phone.post("/account/login/code", headers=OWNER_PHONE, data={"mobile": owner.mobile, "send": "y"})
    code = last_sms_code(owner.mobile)
    response = new_phone.post("/account/login/code", headers=OWNER_PHONE, data={"mobile": owner.mobile, "code": code})
    assert response.status_code == 302
    bot = {"X-Forwarded-For": "203.0.113.1", "User-Agent": "bot/0"}  # one wrong password so far
    statuses = [limited.test_client().post("/account/login/code", headers=bot, data={
        "mobile": owner.mobile, "code": f"{n:06d}"}).status_code for n in range(4)]
    assert statuses == [422, 422, 429, 429]  # LOGIN_GUARDED_CLIENT_FAILURES = 3 wrong guesses in all


def test_the_owners_known_device_logs_in_whatever_the_attack(limited, make):
    """The device cookie a successful login leaves makes the owner's phone immune to others' guesses."""
    owner = make.user("王骑手", mobile="13912345678")
    phone = limited.test_client()
    assert html_login(phone, owner.mobile, PASSWORD, OWNER_PHONE).status_code == 302
    assert phone.get_cookie(throttle.DEVICE_COOKIE) is not None
    phone.post("/account/logout")
    for i in range(HARD_LIMIT + 3):  # the whole hard limit used up by rotating guessers
        headers = {"X-Forwarded-For": f"203.0.113.{i + 1}", "User-Agent": f"bot/{i}"}
        html_login(limited.test_client(), owner.mobile, f"guess-{i}x", headers)
    assert html_login(limited.test_client(), owner.mobile, PASSWORD, OWNER_PHONE).status_code == 429
    assert html_login(phone, owner.mobile, PASSWORD, OWNER_PHONE).status_code == 302


def test_a_forged_or_foreign_device_cookie_is_no_key(limited, make):
    owner = make.user("王骑手", mobile="13912345678")
    other = make.user("李骑手", mobile="13912345679")
    attacker = limited.test_client()
    # A real cookie, earned by logging in to the attacker's own account, is no key to someone else's.
    assert html_login(attacker, other.mobile, PASSWORD, ATTACKER).status_code == 302
    forged = limited.test_client()
    forged.set_cookie(throttle.DEVICE_COOKIE, "eyJpZCI6ImFiYyIsIm51bWJlcnMiOltdfQ.forged")
    for client in (attacker, forged):
        for i in range(HARD_LIMIT + 1):
            headers = {"X-Forwarded-For": f"203.0.113.{i + 1}", "User-Agent": f"bot/{i}"}
            html_login(client, owner.mobile, f"guess-{i}x", headers)
        assert html_login(client, owner.mobile, PASSWORD, {"X-Forwarded-For": "198.51.100.7"}).status_code == 429


def test_a_known_device_is_not_refused_for_its_networks_failures(limited, make):
    """A venue address that sprayed wrong passwords is refused for unknown clients, not for the phones of
    workers who have logged in there before."""
    worker = make.user("王骑手", mobile="13912345678")
    phone = limited.test_client()
    venue = {"X-Forwarded-For": VENUE, "User-Agent": OWNER_PHONE["User-Agent"]}
    assert html_login(phone, worker.mobile, PASSWORD, venue).status_code == 302
    phone.post("/account/logout")
    sprayer = limited.test_client()
    for i in range(ADDRESS_FAILURES):
        html_login(sprayer, f"1390000{i:04d}", "spray-pass1", {"X-Forwarded-For": VENUE, "User-Agent": "x"})
    assert html_login(limited.test_client(), worker.mobile, PASSWORD, venue).status_code == 429
    assert html_login(phone, worker.mobile, PASSWORD, venue).status_code == 302


def test_refused_attempts_and_right_passwords_are_not_counted_as_guesses(limited, make):
    """Hammering after a 429 does not use up the account's hard limit (which would lock out the owner's
    new phone), and an owner logging in correctly many times never counts at all."""
    owner = make.user("王骑手", mobile="13912345678")
    attacker = limited.test_client()
    statuses = [html_login(attacker, owner.mobile, f"guess-{i}x", ATTACKER).status_code for i in range(200)]
    assert statuses.count(422) == ACCOUNT_LIMIT and statuses.count(429) == 200 - ACCOUNT_LIMIT
    for n in range(HARD_LIMIT + 5):
        headers = {"X-Forwarded-For": "198.51.100.23", "User-Agent": f"fresh phone {n}"}
        assert html_login(limited.test_client(), owner.mobile, PASSWORD, headers).status_code == 302
