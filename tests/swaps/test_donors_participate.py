"""A donation at the swap desk is taking part: the donor is checked in (once), so the officers'
figures count them among attended and unique attendees, and the summary tables still agree."""
from __future__ import annotations

from datetime import timedelta

import pytest

from unionevents.activities.models import ActivityKind
from unionevents.core.audit import AuditLog
from unionevents.core.timeutil import utc_to_local
from unionevents.extensions import db
from unionevents.registrations.models import Registration, RegistrationState as S
from unionevents.reports import queries, services as report_services
from unionevents.reports.figures import swap_figures
from unionevents.reports.queries import ReportFilter
from unionevents.swaps import services


def _dashboard(tree, swap):
    day = utc_to_local(swap.starts_at).date()
    return queries.dashboard(ReportFilter(tree["丰台区总工会"], day - timedelta(days=1), day + timedelta(days=1), []))


def test_donors_count_as_attended_once_and_check_agrees(organiser, swap, register, tree):
    services.set_rule(organiser, swap.id, 1, 1, None)
    services.change_stock(organiser, swap.id, delta=20, reason="进货")
    donor = register(swap, name="刘师傅")
    register(swap, name="王师傅")  # signed up, gave nothing
    services.record_donation(organiser, swap.id, donor.id, 2)
    services.record_donation(organiser, swap.id, donor.id, 1)  # the same person again

    assert db.session.get(Registration, donor.id, populate_existing=True).state == S.ATTENDED
    checkins = db.session.query(AuditLog).filter_by(action="registration.check_in").all()
    assert len(checkins) == 1 and checkins[0].data.get("by_donation") is True

    assert report_services.check() == []
    totals = _dashboard(tree, swap).totals
    figures = {f.key: f.value for f in swap_figures(tree["丰台区总工会"].subtree_ids_select(),
                                                    *_window(swap), [])}
    assert figures["swap_donors"] == 1
    assert (totals.registrations, totals.places, totals.attended) == (2, 2, 1)
    assert (totals.unique_participants, totals.unique_attendees) == (2, 1)
    by_kind = dict(_dashboard(tree, swap).by_kind)
    assert by_kind[ActivityKind.SWAP].attended == figures["swap_donors"] == 1


def test_an_attended_donor_is_not_checked_in_again(organiser, swap, register):
    from unionevents.registrations import services as engine

    services.set_rule(organiser, swap.id, 1, 1, None)
    donor = register(swap)
    engine.check_in(donor.id, organiser, override_reason="提前到场")
    services.record_donation(organiser, swap.id, donor.id, 1)
    assert db.session.query(AuditLog).filter_by(action="registration.check_in").count() == 1
    assert report_services.check() == []


def _window(swap):
    day = utc_to_local(swap.starts_at).date()
    return day - timedelta(days=1), day + timedelta(days=1)


def test_the_door_cannot_undo_a_donors_check_in(organiser, swap, register, frozen_time):
    from unionevents.registrations import services as engine

    services.set_rule(organiser, swap.id, 1, 1, None)
    services.change_stock(organiser, swap.id, delta=5, reason="进货")
    donor, other = register(swap), register(swap, name="王师傅")
    frozen_time(swap.starts_at)
    services.record_donation(organiser, swap.id, donor.id, 1)
    engine.check_in(other.id, organiser)
    with pytest.raises(engine.UndoRefused) as refused:
        engine.undo_door_check_in(swap.id, donor.id, organiser)
    assert "换书台交了书" in str(refused.value.message)
    with pytest.raises(engine.UndoRefused):
        engine.undo_check_in_registration(swap.id, donor.id, organiser)  # the name-search list too
    assert db.session.get(Registration, donor.id, populate_existing=True).state == S.ATTENDED
    assert engine.undo_door_check_in(swap.id, other.id, organiser).state == S.CONFIRMED  # no donation: undone
