"""The organiser forms' options are titled in the language of each request, not the one current at import."""
from __future__ import annotations

from flask_babel import refresh

from unionevents.registrations.manage_forms import MessageForm


def state_titles(app, cookie: str | None = None) -> dict[str, str]:
    headers = {"Cookie": cookie} if cookie else {}
    with app.test_request_context(headers=headers):
        refresh()  # Flask-Babel keeps the locale on the app context, which the test fixture shares
        form = MessageForm(formdata=None, meta={"csrf": False})
        return {option.data: option.label.text for option in form.state}


def test_message_form_states_follow_the_requests_language(app):
    assert state_titles(app)["pending"] == "待确认"  # Chinese, the default
    assert state_titles(app, "lang=en")["pending"] == "Pending"
