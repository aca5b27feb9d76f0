"""Results and health notices: entrants and winners when a contest's results are published, a
health-check attendee when their assessment is ready.  Each is one call from the service that
publishes or records, inside its transaction (contests and health call in; this module reads their
rows and never changes them).  No health data goes into a message: only that the results are ready
and where to read them after logging in."""
from __future__ import annotations

from sqlalchemy import select

from ..accounts.models import User
from ..activities.models import Activity
from ..contests.models import Award, AwardTier, Contest, Entry
from ..core.outbox import OutboxMessage, Priority, enqueue
from ..extensions import db
from . import texts

RESULT_KINDS = ("contest.won", "contest.results")
HEALTH_PATH = "/me/health"


def results_path(activity_id: int) -> str:
    return f"/contests/{activity_id}/results"


def notify_results_published(contest_id: int) -> int:
    """Tell each entrant of the contest that its results are out, a winner which award they won
    (their best, when they won with several entries).  Someone already told about this contest
    (results published, taken back and published again) is not told twice.  Returns the count."""
    contest = db.session.get(Contest, contest_id)
    activity = db.session.get(Activity, contest.activity_id)
    already = set(db.session.scalars(
        select(OutboxMessage.user_id).where(OutboxMessage.activity_id == activity.id,
                                            OutboxMessage.kind.in_(RESULT_KINDS))))
    best: dict[int, tuple[int, str] | None] = {}
    rows = db.session.execute(
        select(Entry.user_id, User.locale, AwardTier.position, AwardTier.name)
        .join(User, User.id == Entry.user_id)
        .outerjoin(Award, Award.entry_id == Entry.id)
        .outerjoin(AwardTier, AwardTier.id == Award.tier_id)
        .where(Entry.contest_id == contest.id).order_by(Entry.user_id)).all()
    locales = {}
    for row in rows:
        locales[row.user_id] = row.locale
        award = (row.position, row.name) if row.name is not None else None
        current = best.get(row.user_id)
        if award is not None and (current is None or award[0] < current[0]):
            best[row.user_id] = award
        else:
            best.setdefault(row.user_id, None)
    told = 0
    for user_id, award in best.items():
        if user_id in already:
            continue
        link = results_path(activity.id)
        if award is not None:
            kind = "contest.won"
            subject, body = texts.compose(kind, locales[user_id], title=activity.title, award=award[1], link=link)
        else:
            kind = "contest.results"
            subject, body = texts.compose(kind, locales[user_id], title=activity.title, link=link)
        enqueue(user_id, kind, body, subject=subject, priority=Priority.NOTICE, activity_id=activity.id)
        told += 1
    return told


def notify_assessment_ready(user_id: int, activity_id: int) -> None:
    """Tell a health-check attendee their assessment is ready (the text holds none of it)."""
    activity = db.session.get(Activity, activity_id)
    locale = db.session.scalar(select(User.locale).where(User.id == user_id))
    subject, body = texts.compose("health.ready", locale, title=activity.title, link=HEALTH_PATH)
    enqueue(user_id, "health.ready", body, subject=subject, priority=Priority.NOTICE, activity_id=activity_id)
