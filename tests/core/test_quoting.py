"""Titles between quotation marks: never doubled, nested the Chinese way (“…‘…’…”), in pages and SMS."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from unionevents.core.outbox import OutboxMessage
from unionevents.core.quoting import quotable
from unionevents.extensions import db
from unionevents.registrations.services import register

SEED_TITLE = "“凝心铸魂…”职工摄影大赛"


@pytest.mark.parametrize(("title", "inner"), [
    ("花卉养护课", "花卉养护课"),
    (SEED_TITLE, "‘凝心铸魂…’职工摄影大赛"),        # inner marks nest
    ("“职工摄影大赛”", "职工摄影大赛"),              # a whole-title pair is dropped
    ("  “职工摄影大赛”  ", "职工摄影大赛"),
    ("《春天的工地》", "春天的工地"),
    ('"Spring"', "Spring"),
    ("「五月的鲜花」", "五月的鲜花"),
    ("“A”和“B”", "‘A’和‘B’"),                        # two pairs are not one wrapping pair
    ("“《工人日报》读者会”", "〈工人日报〉读者会"),
    ("", ""),
    (None, ""),
])
def test_quotable(title, inner):
    assert quotable(title) == inner


def test_the_quoted_seed_title_never_shows_doubled_marks(app, client, make):
    make.tree()
    activity = make.activity(SEED_TITLE, node="朝阳区奥运村街道总工会")
    worker = make.user("张小花", union="奥运村快递驿站联合工会")
    registration = register(worker, activity.id)
    # The SMS confirming the place.
    bodies = db.session.scalars(select(OutboxMessage.body).where(OutboxMessage.user_id == worker.id)).all()
    assert bodies and all("““" not in b and "”职工摄影大赛”" not in b for b in bodies)
    assert any("“‘凝心铸魂…’职工摄影大赛”" in b for b in bodies)
    # The worker's cancel page.
    with client.session_transaction() as session:
        session["_user_id"] = worker.get_id()
        session["_fresh"] = True
    page = client.get(f"/me/registrations/{registration.id}/cancel").get_data(as_text=True)
    assert "“‘凝心铸魂…’职工摄影大赛”" in page and "““" not in page


def test_the_template_filter_is_the_same_helper(app):
    with app.test_request_context():
        assert app.jinja_env.from_string("“{{ t|quotable }}”").render(t=SEED_TITLE) == "“‘凝心铸魂…’职工摄影大赛”"
