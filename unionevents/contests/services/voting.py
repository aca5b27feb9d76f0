"""The public vote: one vote per account per Beijing day per contest, while voting is open."""
from __future__ import annotations


from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ...accounts.models import User
from ...activities.models import ActivityStatus
from ...core.audit import log_action
from ...core.db import write_transaction
from ...core.errors import Conflict, NotFound
from ...core.timeutil import now
from ...extensions import db
from .. import rules
from ..models import Contest, Entry, Vote
from .contest import get_contest, get_entry_of_contest


class AlreadyVoted(Conflict):
    code = "already_voted"
    default_message = _l("You have already voted in this contest today. You can vote again tomorrow.")


class VoteClosed(Conflict):
    code = "vote_closed"
    default_message = _l("Public voting is not open.")


def vote_counts(contest: Contest) -> dict[int, int]:
    return dict(db.session.execute(select(Vote.entry_id, func.count(Vote.id))
                                   .where(Vote.contest_id == contest.id).group_by(Vote.entry_id)).all())


# --------------------------------------------------------------------------- public vote

def vote_entries(contest: Contest) -> list[Entry]:
    return list(db.session.scalars(select(Entry).where(Entry.contest_id == contest.id)
                                   .options(selectinload(Entry.images)).order_by(Entry.code)))


def my_vote_today(user: User, contest: Contest) -> Vote | None:
    return db.session.scalar(select(Vote).where(Vote.contest_id == contest.id, Vote.voter_id == user.id,
                                                Vote.day == rules.vote_day(now())))


def cast_vote(user: User, activity_id: int, entry_id: int) -> Vote:
    """One vote per account per Beijing day per contest, only while voting is open."""
    contest = get_contest(activity_id)
    if contest.activity.status != ActivityStatus.PUBLISHED:
        raise NotFound()
    at = now()
    if not contest.vote_is_open(at):
        raise VoteClosed()
    entry = get_entry_of_contest(contest, entry_id)
    vote = Vote(contest_id=contest.id, entry_id=entry.id, voter_id=user.id, day=rules.vote_day(at),
                created_at=at)
    try:
        with write_transaction():
            db.session.add(vote)
            db.session.flush()
            log_action(user.id, "contest.vote", vote, contest_id=contest.id, entry_id=entry.id)
    except IntegrityError:
        raise AlreadyVoted() from None
    return vote
