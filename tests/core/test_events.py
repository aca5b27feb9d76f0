"""core.events: the small registry the registration engine announces its changes through."""
from __future__ import annotations

from unionevents.core import events


def test_listeners_run_in_order_once_each_with_the_arguments():
    heard = []

    def first(**kw):
        heard.append(("first", kw))

    def second(**kw):
        heard.append(("second", kw))

    events.on("test.happened", first)
    events.on("test.happened", second)
    events.on("test.happened", first)  # twice is harmless
    try:
        events.emit("test.happened", thing=1)
        events.emit("test.nobody-listens", thing=2)
    finally:
        events.off("test.happened", first)
        events.off("test.happened", second)
    assert heard == [("first", {"thing": 1}), ("second", {"thing": 1})]
    assert events.listeners("test.happened") == ()


def test_the_report_counters_listen_to_the_engine_once_the_app_is_built(app):
    from unionevents.registrations.events import TRANSITION
    from unionevents.reports.services import record_transition

    assert events.listeners(TRANSITION) == (record_transition,)
