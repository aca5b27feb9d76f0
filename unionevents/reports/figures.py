"""Other domains' figures on the officer dashboard: contest entries and awards, books and portions,
health checks (counts only), class ratings.

Each provider is one aggregate query over the activities the report covers (organised in the
subtree, held in the date range, of the chosen kinds) — read from ``report_activity``, so it
costs the same whatever the size of the city; the dashboard sends all of them as one statement.
"""
from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, distinct, func, select

from ..activities.models import ActivityKind, ActivityStatus
from ..contests.models import Award, Contest, Entry
from ..health.models import HealthAssessment
from ..results.models import Feedback
from ..swaps.models import SwapDonation
from .models import ReportActivity
from .services import Figure, register_figures


def _activities(node_ids: Select, date_from: date, date_to: date, kinds: list, kind: ActivityKind):
    """SELECT of the ids of activities of ``kind`` the report covers (nothing if ``kind`` is filtered out)."""
    stmt = select(ReportActivity.activity_id).where(
        ReportActivity.node_id.in_(node_ids), ReportActivity.day >= date_from, ReportActivity.day <= date_to,
        ReportActivity.kind == kind, ReportActivity.status != ActivityStatus.CANCELLED)
    if kinds and kind not in kinds:
        stmt = stmt.where(False)
    return stmt


def _contest_query(node_ids, date_from, date_to, kinds):
    covered = _activities(node_ids, date_from, date_to, kinds, ActivityKind.CONTEST)
    return (select(func.count(distinct(Entry.id)), func.count(distinct(Entry.user_id)),
                   func.count(distinct(Award.id)))
            .select_from(Entry).join(Contest, Contest.id == Entry.contest_id)
            .outerjoin(Award, Award.entry_id == Entry.id)
            .where(Contest.activity_id.in_(covered)))


def _contest_figures(row) -> list[Figure]:
    entries, entrants, awards = row
    group = _l("Contests")
    return [Figure("contest_entries", _l("Contest entries"), entries or 0, group),
            Figure("contest_entrants", _l("Entrants"), entrants or 0, group),
            Figure("contest_awards", _l("Awards given"), awards or 0, group)]


def _swap_query(node_ids, date_from, date_to, kinds):
    covered = _activities(node_ids, date_from, date_to, kinds, ActivityKind.SWAP)
    return (select(func.coalesce(func.sum(SwapDonation.books), 0), func.coalesce(func.sum(SwapDonation.portions), 0),
                   func.count(distinct(SwapDonation.user_id)))
            .where(SwapDonation.activity_id.in_(covered)))


def _swap_figures(row) -> list[Figure]:
    books, portions, donors = row
    group = _l("Swaps")
    return [Figure("books_collected", _l("Books collected"), int(books or 0), group),
            Figure("portions_given", _l("Portions given"), int(portions or 0), group),
            Figure("swap_donors", _l("Donors (each worker once)"), donors or 0, group)]


def _health_query(node_ids, date_from, date_to, kinds):
    """Counts only: officers never see a measurement."""
    covered = _activities(node_ids, date_from, date_to, kinds, ActivityKind.HEALTH)
    return (select(func.count(HealthAssessment.id),
                   func.count(HealthAssessment.id).filter(HealthAssessment.follow_up.is_(True)))
            .where(HealthAssessment.activity_id.in_(covered)))


def _health_figures(row) -> list[Figure]:
    assessed, follow_up = row
    group = _l("Health services")
    return [Figure("health_assessed", _l("Health assessments"), assessed or 0, group),
            Figure("health_follow_up", _l("Advised to follow up"), follow_up or 0, group)]


def _feedback_query(node_ids, date_from, date_to, kinds):
    covered = _activities(node_ids, date_from, date_to, kinds, ActivityKind.CLASS_)
    return select(func.count(Feedback.id), func.avg(Feedback.rating)).where(Feedback.activity_id.in_(covered))


def _feedback_figures(row) -> list[Figure]:
    count, average = row
    group = _l("Classes")
    return [Figure("class_ratings", _l("Class ratings"), count or 0, group),
            Figure("class_rating_average", _l("Average rating (1–5)"),
                   round(float(average), 2) if average is not None else 0, group)]


# Each is also callable on its own: ``swap_figures(node_ids, date_from, date_to, kinds)``.
contest_figures = register_figures("contests", _contest_query, _contest_figures)
swap_figures = register_figures("swaps", _swap_query, _swap_figures)
health_figures = register_figures("health", _health_query, _health_figures)
feedback_figures = register_figures("feedback", _feedback_query, _feedback_figures)
