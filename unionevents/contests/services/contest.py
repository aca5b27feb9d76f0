"""The contest itself: loading it (and its rounds and entries), its settings, and the default
criteria, rounds and award tiers a new contest is given."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ...accounts.models import Role, User
from ...activities.models import Activity, ActivityKind
from ...core.audit import log_action
from ...core.db import write_transaction
from ...core.errors import Conflict, NotFound, ValidationFailed
from ...core.permissions import has_role
from ...extensions import db
from .. import rules
from ..models import AwardTier, Contest, ContestFormat, ContestJudge, Criterion, Entry, Round


MAX_ENTRY_LIMIT = 50
DEFAULT_PHOTO_ENTRY_LIMIT = 3
DEFAULT_PERFORMANCE_ENTRY_LIMIT = 1

#: Default award tiers of a photo contest, best first (names are stored in the organiser's language).
PHOTO_TIER_NAMES = (_l("Special prize"), _l("First prize"), _l("Second prize"), _l("Third prize"),
                    _l("Honourable mention"))
PHOTO_TIER_QUOTAS = (5, 15, 25, 35, 40)
PERFORMANCE_TIER_NAMES = (_l("First prize"), _l("Second prize"), _l("Third prize"))
PERFORMANCE_TIER_QUOTAS = (3, 6, 9)
PHOTO_CRITERIA = ((_l("Theme"), 40, 10), (_l("Creativity"), 30, 10), (_l("Technique"), 30, 10))
PERFORMANCE_CRITERIA = ((_l("Singing"), 50, 10), (_l("Expression"), 30, 10), (_l("Stage presence"), 20, 10))
PHOTO_ROUNDS = ((_l("Preliminary"), True), (_l("Final"), True))
PERFORMANCE_ROUNDS = ((_l("Preliminary"), True), (_l("Final"), True), (_l("Award show"), False))


# --------------------------------------------------------------------------- loading

def contest_for_activity(activity_id: int) -> Contest | None:
    return db.session.scalar(select(Contest).where(Contest.activity_id == activity_id))


def get_contest(activity_id: int) -> Contest:
    contest = contest_for_activity(activity_id)
    if contest is None:
        raise NotFound(_l("This contest is not open for entries yet."))
    return contest


def get_round(contest: Contest, round_id: int) -> Round:
    found = db.session.get(Round, round_id)
    if found is None or found.contest_id != contest.id:
        raise NotFound()
    return found


def get_entry_of_contest(contest: Contest, entry_id: int) -> Entry:
    entry = db.session.get(Entry, entry_id)
    if entry is None or entry.contest_id != contest.id:
        raise NotFound()
    return entry


def get_own_entry(user: User, entry_id: int) -> Entry:
    """The entrant's own entry; anybody else's is reported as missing (404)."""
    entry = db.session.get(Entry, entry_id)
    if entry is None or entry.user_id != user.id:
        raise NotFound(_l("This entry does not exist."))
    return entry


def is_contest_organiser(user: User | None, contest: Contest) -> bool:
    return user is not None and has_role(user, Role.ORGANISER, node=contest.activity.node)


def judge_of(user: User, contest: Contest) -> ContestJudge | None:
    return db.session.scalar(select(ContestJudge).where(ContestJudge.contest_id == contest.id,
                                                        ContestJudge.user_id == user.id))


def _audit_actor(actor: User | None) -> int | None:
    return actor.id if actor is not None else None


def _merge(errors: dict[str, list[str]], key: str, message) -> None:
    errors.setdefault(key, []).append(str(message))


def _contest_for_change(contest_id: int) -> Contest:
    contest = db.session.get(Contest, contest_id)
    if contest is None:
        raise NotFound()
    return contest


# --------------------------------------------------------------------------- setup

@dataclass
class ContestSettings:
    format: ContestFormat
    entry_limit: int
    public_vote: bool = False
    vote_opens_at: datetime | None = None
    vote_closes_at: datetime | None = None
    jury_weight: int = rules.DEFAULT_JURY_WEIGHT
    normalise_judges: bool = False


def _settings_errors(settings: ContestSettings) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not isinstance(settings.entry_limit, int) or not 1 <= settings.entry_limit <= MAX_ENTRY_LIMIT:
        _merge(errors, "entry_limit", _l("Please enter a limit from 1 to %(n)d.", n=MAX_ENTRY_LIMIT))
    if not isinstance(settings.jury_weight, int) or not 0 <= settings.jury_weight <= rules.WEIGHT_TOTAL:
        _merge(errors, "jury_weight", _l("Please enter a jury weight from 0 to %(max)d percent.",
                                         max=rules.WEIGHT_TOTAL))
    if settings.public_vote:
        if settings.vote_opens_at is None:
            _merge(errors, "vote_opens_at", _l("Please say when public voting opens."))
        if settings.vote_closes_at is None:
            _merge(errors, "vote_closes_at", _l("Please say when public voting closes."))
        opens, closes = settings.vote_opens_at, settings.vote_closes_at
        if opens and closes and closes <= opens:
            _merge(errors, "vote_closes_at", _l("Voting must close after it opens."))
    return errors


@dataclass
class DefaultNames:
    """Names for the rows a new contest is given (the demo data uses the seed page's own words)."""

    tiers: Sequence[str] = ()
    rounds: Sequence[str] = ()
    criteria: Sequence[str] = ()


def setup_contest(actor: User | None, activity_id: int, settings: ContestSettings,
                  names: DefaultNames | None = None) -> Contest:
    """Create the activity's contest (with default criteria, rounds and award tiers) or change its settings.

    ``names`` optionally renames those defaults, in order, when the contest is created."""
    activity = db.session.get(Activity, activity_id)
    if activity is None:
        raise NotFound()
    if activity.kind != ActivityKind.CONTEST:
        raise Conflict(_l("Only contest activities have entries, rounds and awards."))
    errors = _settings_errors(settings)
    contest = contest_for_activity(activity_id)
    if contest is not None and settings.format != contest.format and \
            db.session.scalar(select(func.count(Entry.id)).where(Entry.contest_id == contest.id)):
        _merge(errors, "format", _l("The contest already has entries, so its format cannot change."))
    if errors:
        raise ValidationFailed(errors)
    created = contest is None
    with write_transaction():
        if created:
            contest = Contest(activity_id=activity_id, format=settings.format)
            db.session.add(contest)
        contest.format = settings.format
        contest.entry_limit = settings.entry_limit
        contest.public_vote = settings.public_vote
        contest.vote_opens_at = settings.vote_opens_at if settings.public_vote else None
        contest.vote_closes_at = settings.vote_closes_at if settings.public_vote else None
        contest.jury_weight = settings.jury_weight if settings.public_vote else rules.WEIGHT_TOTAL
        contest.public_weight = rules.WEIGHT_TOTAL - contest.jury_weight
        contest.normalise_judges = settings.normalise_judges
        db.session.flush()
        if created:
            _seed_defaults(contest, names or DefaultNames())
        log_action(_audit_actor(actor), "contest.create" if created else "contest.update", contest,
                   activity_id=activity_id)
    return contest


def _seed_defaults(contest: Contest, names: DefaultNames) -> None:
    photo = contest.format == ContestFormat.PHOTO

    def named(custom: Sequence[str], position: int, default) -> str:
        return custom[position] if position < len(custom) else str(default)

    tiers = zip(PHOTO_TIER_NAMES, PHOTO_TIER_QUOTAS) if photo else zip(PERFORMANCE_TIER_NAMES,
                                                                        PERFORMANCE_TIER_QUOTAS)
    for position, (name, quota) in enumerate(tiers):
        db.session.add(AwardTier(contest_id=contest.id, position=position, quota=quota,
                                 name=named(names.tiers, position, name)))
    for position, (name, weight, top) in enumerate(PHOTO_CRITERIA if photo else PERFORMANCE_CRITERIA):
        db.session.add(Criterion(contest_id=contest.id, position=position, weight=weight, max_score=top,
                                 name=named(names.criteria, position, name)))
    for position, (name, scored) in enumerate(PHOTO_ROUNDS if photo else PERFORMANCE_ROUNDS):
        db.session.add(Round(contest_id=contest.id, position=position, scored=scored,
                             name=named(names.rounds, position, name)))
    db.session.flush()
