"""Worker self sign-up: the mobile number proven by an SMS code in the same POST that makes the account;
every bad input gives a field message (all at once) and changes nothing."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from unionevents.accounts.models import Occupation, User
from unionevents.extensions import db

from ..factories import send_sms_code


def signup_data(**changes):
    data = {"mobile": "13812345678", "name": "新职工", "password": "abc12345", "password_again": "abc12345",
            "union_id": "", "occupation": "rider", "district": "", "member_card_no": "",
            "accept_privacy": "y"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def with_code(client, data):
    """Press "Send code" for the form's number first, as the worker does, and type the code in."""
    return {**data, "code": send_sms_code(client, "/account/signup", data["mobile"])}


def field_error(page: str, field: str) -> str | None:
    match = re.search(rf'id="{field}-error"[^>]*>([^<]*)<', page)
    return match.group(1).strip() if match else None


def test_signup_page_offers_the_union_tree_and_not_a_member(client, tree):
    page = client.get("/account/signup").get_data(as_text=True)
    assert 'data-union-picker' in page
    assert f'value="{tree["奥运村快递驿站联合工会"].id}"' in page
    assert '<option selected value="">' in page or '<option value="">' in page
    assert "union-picker.js" in page


def test_worker_signs_up_with_a_union_and_is_logged_in(client, tree):
    union = tree["奥运村快递驿站联合工会"]
    response = client.post("/account/signup", data=with_code(client, signup_data(union_id=str(union.id),
                                                                                  mobile="+86 138-1234-5678")))
    assert response.status_code == 302 and response.headers["Location"] == "/"
    user = db.session.scalar(select(User).where(User.mobile == "13812345678"))
    assert user.name == "新职工" and user.union_id == union.id and user.occupation == Occupation.RIDER
    assert user.privacy_version and user.privacy_accepted_at
    assert user.password_hash and "abc12345" not in user.password_hash
    assert client.get("/account/profile").status_code == 200  # logged in


def test_worker_who_is_not_a_member_signs_up(client, tree):
    response = client.post("/account/signup", data=with_code(client, signup_data(union_id="")))
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.mobile == "13812345678"))
    assert user.union_id is None and not user.is_member


BAD_INPUTS = [
    # (changes, field that must carry a message)
    ({"mobile": ""}, "mobile"),
    ({"mobile": "1381234567"}, "mobile"),            # 10 digits
    ({"mobile": "138123456789"}, "mobile"),          # 12 digits
    ({"mobile": "12812345678"}, "mobile"),           # 12x is not a mobile prefix
    ({"mobile": "10812345678"}, "mobile"),
    ({"mobile": "23812345678"}, "mobile"),
    ({"mobile": "1381234567a"}, "mobile"),
    ({"mobile": "138１２３４５６７８"}, "mobile"),      # full-width digits
    ({"mobile": "138١٢٣٤٥٦٧٨"}, "mobile"),            # Arabic-Indic digits
    ({"mobile": "+1 13812345678"}, "mobile"),
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "名" * 41}, "name"),
    ({"password": "abc1234", "password_again": "abc1234"}, "password"),            # too short
    ({"password": "abcdefgh", "password_again": "abcdefgh"}, "password"),          # no digit
    ({"password": "12345678", "password_again": "12345678"}, "password"),          # no letter
    ({"password": "a1" * 65, "password_again": "a1" * 65}, "password"),            # too long
    ({"password": ""}, "password"),
    ({"password_again": "abc12346"}, "password_again"),                          # mismatch
    ({"accept_privacy": None}, "accept_privacy"),
    ({"union_id": "999999"}, "union_id"),
    ({"union_id": "abc"}, "union_id"),
    ({"union_id": "0"}, "union_id"),
    ({"union_id": "-3"}, "union_id"),
    ({"occupation": "astronaut"}, "occupation"),
    ({"member_card_no": "9" * 33}, "member_card_no"),
    ({"district": "区" * 41}, "district"),
]


@pytest.mark.parametrize("changes, field", BAD_INPUTS, ids=[f"{f}:{c}"[:40] for c, f in BAD_INPUTS])
def test_bad_signup_input_gives_a_field_message_and_changes_nothing(client, tree, row_counts, changes, field):
    before = row_counts()
    response = client.post("/account/signup", data=signup_data(**changes))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert field_error(page, field), f"no message next to {field}"
    assert row_counts() == before


def test_a_taken_mobile_is_not_revealed_before_the_code_proves_it(client, worker, row_counts):
    before = row_counts()
    response = client.post("/account/signup", data=signup_data(mobile="139 1234 5678"))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert field_error(page, "code") and not field_error(page, "mobile")  # as for a new number
    assert row_counts() == before


def test_duplicate_mobile_lost_race_is_a_field_message_not_a_500(client, worker, row_counts, monkeypatch):
    """Two sign-ups with one number at the same moment: the database's unique index decides."""
    from unionevents.accounts import services

    from unionevents.accounts import codes

    data = with_code(client, signup_data(mobile="13912345678"))
    monkeypatch.setattr(services, "find_by_mobile", lambda mobile: None)  # the checks saw nothing
    monkeypatch.setattr(codes, "find_by_mobile", lambda mobile: None)
    before = row_counts()
    response = client.post("/account/signup", data=data)
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "mobile")
    assert row_counts() == before


def test_signed_in_worker_is_sent_home_from_signup(client, worker, login):
    login(worker)
    assert client.get("/account/signup").status_code == 302


def test_garbage_posts_never_give_a_500(client, tree):
    for data in ({}, {"mobile": ["1", "2"]}, {"union_id": "9" * 40}, {"occupation": ""},
                 {"accept_privacy": "maybe"}, {"name": "\x00"}):
        response = client.post("/account/signup", data=data)
        assert response.status_code == 422, data
