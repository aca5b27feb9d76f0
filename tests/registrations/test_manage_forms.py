"""The organiser forms' options are titled in the language of each request, not the one current at import."""
from __future__ import annotations

from flask_babel import refresh

from unionevents.registrations.manage_forms import MessageForm, slot_choices


def state_titles(app, cookie: str | None = None) -> dict[str, str]:
    headers = {"Cookie": cookie} if cookie else {}
    with app.test_request_context(headers=headers):
        refresh()  # Flask-Babel keeps the locale on the app context, which the test fixture shares
        form = MessageForm(formdata=None, meta={"csrf": False})
        return {option.data: option.label.text for option in form.state}


def test_message_form_states_follow_the_requests_language(app):
    assert state_titles(app)["pending"] == "待确认"  # Chinese, the default
    assert state_titles(app, "lang=en")["pending"] == "Pending"


def test_the_walk_in_and_enrol_slot_options_show_the_places_left(app, make):
    """One builder for both organiser pages: "Choose" first, then each slot with its places left."""
    from datetime import timedelta

    from unionevents.activities.services import add_slots
    from unionevents.extensions import db
    from unionevents.registrations.services import register

    make.tree()
    activity = make.activity(capacity=1)
    add_slots(activity, activity.starts_at, activity.starts_at + timedelta(hours=1), 30, 3)
    db.session.commit()
    first, second = activity.slots
    register(make.user("王师傅", union="玉泉营商场工会"), activity.id, slot_id=first.id)
    db.session.expire_all()
    for cookie, choose, left in ((None, "请选择时段", "剩 {n} 个"), ("lang=en", "Choose a time slot", "{n} left")):
        with app.test_request_context(headers={"Cookie": cookie} if cookie else {}):
            refresh()
            options = slot_choices(activity.slots)
        assert [(o.value, o.label) for o in options[:1]] == [("", choose)]
        assert [o.value for o in options[1:]] == [str(first.id), str(second.id)]
        assert options[1].label.endswith(f"({left.format(n=2)})") and options[2].label.endswith(f"({left.format(n=3)})")
