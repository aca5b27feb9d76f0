"""Contest use cases: the only code that changes contest state.

Entrants and registrations (a design decision): an entry belongs to a registration for the contest
activity that holds a place (confirmed or attended).  A worker who has none gets one made by
``registrations.services.register`` when they submit their first entry, so eligibility, the
sign-up window and capacity (the most entrants) are checked by the one engine that owns them;
nothing here re-implements those rules.  A contest whose sign-up asks extra questions, or that needs
the organiser's approval, sends the worker through the ordinary sign-up page first.

Every service checks its rules, writes the audit log (ids only) and commits.  Views load and
authorise, then call exactly one of these.
"""
from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Sequence

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..accounts.models import Role, User
from ..accounts.privacy import register_erasure_hook
from ..accounts.services import find_by_mobile, grant_role
from ..activities.models import Activity, ActivityKind, ActivityStatus, Visibility
from ..activities.services import may_see_invitation
from ..core.audit import log_action
from ..core.db import write_transaction
from ..core.errors import Conflict, NotFound, ValidationFailed
from ..core.permissions import has_role
from ..core.timeutil import now
from ..extensions import db
from ..registrations import services as registrations
from ..registrations.models import PLACE_STATES, Registration
from . import images, rules
from .models import (
    Award, AwardTier, Contest, ContestFormat, ContestJudge, Criterion, Entry, EntryImage, JudgeEntry,
    PerformanceCategory, Round, RoundEntry, RoundStatus, Score, Vote,
)

log = logging.getLogger(__name__)

TITLE_MAX = 120
DESCRIPTION_MAX = 2000
NAME_MAX = 40
MEMBERS_MAX = 2000
ROUND_NAME_MAX = 60
CRITERION_NAME_MAX = 60
TIER_NAME_MAX = 40
MAX_ENTRY_LIMIT = 50
MAX_CRITERION_SCORE = 1000
MAX_QUOTA = 10_000
DEFAULT_PHOTO_ENTRY_LIMIT = 3
DEFAULT_PERFORMANCE_ENTRY_LIMIT = 1
DEFAULT_MAX_IMAGES = 4
CODE_PREFIX = {ContestFormat.PHOTO: "P", ContestFormat.PERFORMANCE: "S"}

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

MSG_ANONYMOUS = _l("Anonymous")


# --------------------------------------------------------------------------- errors

class EntriesLocked(Conflict):
    code = "entries_locked"
    default_message = _l("The entry deadline has passed; entries can no longer be changed.")


class EntryLimitReached(Conflict):
    code = "entry_limit"
    default_message = _l("You have reached this contest's entry limit.")


class RoundClosed(Conflict):
    code = "round_closed"
    default_message = _l("This round is not open for scoring.")


class TieAtCut(Conflict):
    code = "tie_at_cut"
    default_message = _l("Entries are tied at the cut: please choose which of them advance.")

    def __init__(self, cut: rules.Cut, message=None):
        super().__init__(message)
        self.cut = cut


class AlreadyVoted(Conflict):
    code = "already_voted"
    default_message = _l("You have already voted in this contest today. You can vote again tomorrow.")


class VoteClosed(Conflict):
    code = "vote_closed"
    default_message = _l("Public voting is not open.")


class QuotaFull(Conflict):
    code = "quota_full"
    default_message = _l("This award tier has no places left.")


# --------------------------------------------------------------------------- plain data for views

@dataclass
class EntryData:
    title: str = ""
    description: str = ""
    category: str | None = None
    team_leader: str = ""
    members: str = ""
    consent_publish_name: bool = False


@dataclass
class Upload:
    """A file as received: a readable stream and the name the browser gave (never stored)."""

    stream: object
    filename: str = ""


@dataclass
class BlindEntry:
    """What a judge may see of an entry: no name, union, mobile or user id anywhere."""

    id: int
    code: str
    title: str
    description: str
    category: PerformanceCategory | None
    image_ids: list[int]
    scored: bool = False


@dataclass
class JudgeRound:
    round: Round
    contest: Contest
    scored: int
    total: int


@dataclass
class ResultRow:
    entry: Entry
    score: rules.EntryScore
    rank: int | None


@dataclass
class JudgeProgress:
    user: User
    scored: int
    total: int


@dataclass
class RoundResults:
    round: Round
    rows: list[ResultRow]
    progress: list[JudgeProgress]
    next_round: Round | None
    advanced_ids: set[int] = field(default_factory=set)


@dataclass
class PublishedAward:
    tier_name: str
    entry: Entry
    display_name: str
    union_name: str | None


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
    if not isinstance(settings.jury_weight, int) or not 0 <= settings.jury_weight <= 100:
        _merge(errors, "jury_weight", _l("Please enter a jury weight from 0 to 100 percent."))
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
        contest.jury_weight = settings.jury_weight if settings.public_vote else 100
        contest.public_weight = 100 - contest.jury_weight
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


# --------------------------------------------------------------------------- entries

def judging_started(contest: Contest) -> bool:
    return any(r.status != RoundStatus.SETUP for r in contest.rounds)


def entries_locked(contest: Contest, at: datetime | None = None) -> bool:
    """Entries change until the deadline, and never once judging has started (judges must score what
    everyone else sees)."""
    return (at or now()) >= contest.activity.signup_closes_at or judging_started(contest)


def _refuse_if_locked(contest: Contest) -> None:
    if judging_started(contest):
        raise EntriesLocked(_l("Judging has started; entries can no longer be changed."))
    if entries_locked(contest):
        raise EntriesLocked()


def my_entries(user: User, contest: Contest) -> list[Entry]:
    return list(db.session.scalars(
        select(Entry).where(Entry.contest_id == contest.id, Entry.user_id == user.id)
        .options(selectinload(Entry.images)).order_by(Entry.id)))


def all_my_entries(user: User) -> list[Entry]:
    return list(db.session.scalars(select(Entry).where(Entry.user_id == user.id).order_by(Entry.id.desc())))


def _entry_errors(contest: Contest, data: EntryData) -> tuple[dict[str, list[str]], EntryData]:
    errors: dict[str, list[str]] = {}
    title = (data.title or "").strip()
    description = (data.description or "").strip()
    clean = EntryData(title=title, description=description,
                      consent_publish_name=bool(data.consent_publish_name))
    if not title:
        _merge(errors, "title", _l("Please give a title.") if contest.is_photo else
               _l("Please give the song title."))
    elif len(title) > TITLE_MAX:
        _merge(errors, "title", _l("At most %(n)d characters.", n=TITLE_MAX))
    if len(description) > DESCRIPTION_MAX:
        _merge(errors, "description", _l("At most %(n)d characters.", n=DESCRIPTION_MAX))
    if not contest.is_photo:
        try:
            clean.category = PerformanceCategory(data.category).value
        except ValueError:
            _merge(errors, "category", _l("Please choose solo, small group or choir."))
        clean.team_leader = (data.team_leader or "").strip()
        clean.members = (data.members or "").strip()
        if not clean.team_leader:
            _merge(errors, "team_leader", _l("Please name the team leader (or the soloist)."))
        elif len(clean.team_leader) > NAME_MAX:
            _merge(errors, "team_leader", _l("At most %(n)d characters.", n=NAME_MAX))
        if len(clean.members) > MEMBERS_MAX:
            _merge(errors, "members", _l("At most %(n)d characters.", n=MEMBERS_MAX))
        if clean.category in (PerformanceCategory.GROUP.value, PerformanceCategory.CHOIR.value) \
                and not clean.members:
            _merge(errors, "members", _l("Please list the members of the group or choir."))
    return errors, clean


def _clean_uploads(uploads: Sequence[Upload], errors: dict[str, list[str]], *, required: bool) -> list:
    from flask import current_app

    uploads = [u for u in uploads if u is not None and u.stream is not None and (u.filename or "") != ""]
    most = int(current_app.config.get("CONTEST_MAX_IMAGES_PER_ENTRY") or DEFAULT_MAX_IMAGES)
    if not uploads:
        if required:
            _merge(errors, "photos", _l("Please choose at least one photo."))
        return []
    if len(uploads) > most:
        _merge(errors, "photos", _l("At most %(n)d photos per entry.", n=most))
        return []
    cleaned = []
    limit, pixel_limit = images.max_upload_bytes(), images.max_pixels()
    for upload in uploads:
        try:
            data = images.read_limited(upload.stream, limit)
            cleaned.append(images.sanitise(data, pixel_limit=pixel_limit))
        except images.UploadRejected as rejected:
            _merge(errors, "photos", rejected.message)
    return cleaned


def _entry_registration(user: User, activity: Activity) -> Registration:
    """The registration holding the entrant's place, made now through the sign-up engine if missing."""
    existing = db.session.scalar(select(Registration).where(
        Registration.user_id == user.id, Registration.activity_id == activity.id,
        Registration.is_live | Registration.holds_place).order_by(Registration.id.desc()))
    if existing is None:
        if activity.questions:
            raise Conflict(_l("Please sign up for this contest first (its sign-up form asks a few "
                              "questions); then submit your entry."))
        try:
            existing = registrations.register(user, activity.id)
        except registrations.AlreadyRegistered as error:
            existing = db.session.get(Registration, error.registration_id)
    if existing.state not in PLACE_STATES:
        raise Conflict(_l("Your sign-up for this contest is “%(state)s”. You can submit entries once it "
                          "is confirmed.", state=existing.state.title))
    return existing


def _store_all(cleaned: list) -> list[tuple[images.CleanImage, str, str]]:
    stored = []
    try:
        for clean in cleaned:
            name, thumb = images.store(clean)
            stored.append((clean, name, thumb))
    except OSError:
        images.remove(*[n for _c, a, b in stored for n in (a, b)])
        raise
    return stored


def _attach(entry: Entry, stored) -> None:
    for position, (clean, name, thumb) in enumerate(stored):
        db.session.add(EntryImage(entry_id=entry.id, position=position, stored_name=name, thumb_name=thumb,
                                  content_type=clean.content_type, width=clean.width, height=clean.height,
                                  size_bytes=len(clean.data)))


def submit_entry(user: User, activity_id: int, data: EntryData, uploads: Sequence[Upload] = ()) -> Entry:
    """A new entry (photos are checked and cleaned first). Raises ValidationFailed, EntriesLocked,
    EntryLimitReached and the sign-up engine's refusals."""
    contest = get_contest(activity_id)
    activity = contest.activity
    if activity.status != ActivityStatus.PUBLISHED:
        raise NotFound(_l("This activity does not exist."))
    _refuse_if_locked(contest)
    errors, clean = _entry_errors(contest, data)
    cleaned = _clean_uploads(uploads, errors, required=True) if contest.is_photo else []
    if errors:
        raise ValidationFailed(errors)
    registration = _entry_registration(user, activity)
    stored = _store_all(cleaned)
    try:
        with write_transaction():
            locked = db.session.scalar(select(Contest).where(Contest.id == contest.id)
                                     .with_for_update(of=Contest).execution_options(populate_existing=True))
            count = db.session.scalar(select(func.count(Entry.id)).where(
                Entry.contest_id == contest.id, Entry.user_id == user.id))
            if count >= locked.entry_limit:
                raise EntryLimitReached(_l("You have already submitted %(n)d entries, this contest's limit.",
                                           n=locked.entry_limit))
            number = locked.next_code
            locked.next_code = number + 1
            entry = Entry(contest_id=contest.id, user_id=user.id, registration_id=registration.id,
                          code=rules.entry_code(CODE_PREFIX[contest.format], number), title=clean.title,
                          description=clean.description,
                          category=PerformanceCategory(clean.category) if clean.category else None,
                          team_leader=clean.team_leader or None, members=clean.members or None,
                          consent_publish_name=clean.consent_publish_name,
                          consent_at=now() if clean.consent_publish_name else None)
            db.session.add(entry)
            db.session.flush()
            _attach(entry, stored)
            log_action(user.id, "contest.entry.create", entry, contest_id=contest.id, images=len(stored))
    except BaseException:
        images.remove(*[n for _c, a, b in stored for n in (a, b)])
        raise
    return entry


def update_entry(user: User, entry_id: int, data: EntryData, uploads: Sequence[Upload] = ()) -> Entry:
    """Change one's own entry until the deadline; new photos, if given, replace the old ones."""
    entry = get_own_entry(user, entry_id)
    contest = entry.contest
    _refuse_if_locked(contest)
    errors, clean = _entry_errors(contest, data)
    cleaned = _clean_uploads(uploads, errors, required=False) if contest.is_photo else []
    if errors:
        raise ValidationFailed(errors)
    stored = _store_all(cleaned)
    old_names: list[str] = []
    try:
        with write_transaction():
            entry.title = clean.title
            entry.description = clean.description
            if not contest.is_photo:
                entry.category = PerformanceCategory(clean.category)
                entry.team_leader = clean.team_leader
                entry.members = clean.members or None
            if clean.consent_publish_name and not entry.consent_publish_name:
                entry.consent_at = now()
            elif not clean.consent_publish_name:
                entry.consent_at = None
            entry.consent_publish_name = clean.consent_publish_name
            if stored:
                for image in list(entry.images):
                    old_names += [image.stored_name, image.thumb_name]
                    db.session.delete(image)
                db.session.flush()
                _attach(entry, stored)
            log_action(user.id, "contest.entry.update", entry, contest_id=contest.id, images=len(stored))
    except BaseException:
        images.remove(*[n for _c, a, b in stored for n in (a, b)])
        raise
    images.remove(*old_names)
    db.session.expire(entry, ["images"])
    return entry


def withdraw_entry(user: User, entry_id: int) -> int:
    """Delete one's own entry and its photos before the deadline; returns the contest's activity id."""
    entry = get_own_entry(user, entry_id)
    contest = entry.contest
    _refuse_if_locked(contest)
    names = [n for image in entry.images for n in (image.stored_name, image.thumb_name)]
    with write_transaction():
        log_action(user.id, "contest.entry.withdraw", entry, contest_id=contest.id)
        db.session.delete(entry)
    images.remove(*names)
    return contest.activity_id


# --------------------------------------------------------------------------- who may see a photo

def can_view_image(user: User | None, image: EntryImage) -> bool:
    """Entrant, organisers in scope, the contest's judges, logged-in voters while the vote is open,
    and everybody once the entry has a published award -- but never someone who may not see an
    invitation-only contest's pages."""
    entry = image.entry
    contest = entry.contest
    activity = contest.activity
    if activity.visibility == Visibility.INVITATION and not may_see_invitation(user, activity):
        return False  # the contest's pages are hidden from them: so are its photos
    if contest.results_published and entry.award is not None:
        return True
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if entry.user_id == user.id:
        return True
    if is_contest_organiser(user, contest):
        return True
    judge = judge_of(user, contest)
    if judge is not None and has_role(user, Role.JUDGE, activity_id=contest.activity_id):
        linked = {link.entry_id for link in judge.entry_links}
        return not linked or entry.id in linked
    return contest.vote_is_open(now()) and contest.activity.status == ActivityStatus.PUBLISHED


def image_for(user: User | None, image_id: int) -> EntryImage:
    """The image if ``user`` may see it; otherwise NotFound (never reveal that it exists)."""
    image = db.session.get(EntryImage, image_id)
    if image is None or not can_view_image(user, image):
        raise NotFound()
    return image


# --------------------------------------------------------------------------- rounds, criteria, judges

def _contest_for_change(contest_id: int) -> Contest:
    contest = db.session.get(Contest, contest_id)
    if contest is None:
        raise NotFound()
    return contest


def _scores_exist(contest_id: int) -> bool:
    return db.session.scalar(select(func.count(Score.id)).join(Round, Round.id == Score.round_id)
                             .where(Round.contest_id == contest_id)) > 0


def add_round(actor: User, contest_id: int, name: str, scored: bool = True) -> Round:
    contest = _contest_for_change(contest_id)
    name = (name or "").strip()
    if not name or len(name) > ROUND_NAME_MAX:
        raise ValidationFailed({"name": [str(_l("Please give the round a name of at most %(n)d characters.",
                                                n=ROUND_NAME_MAX))]})
    with write_transaction():
        position = (db.session.scalar(select(func.max(Round.position)).where(Round.contest_id == contest.id))
                    or 0) + 1 if contest.rounds else 0
        round_ = Round(contest_id=contest.id, position=position, name=name, scored=scored)
        db.session.add(round_)
        db.session.flush()
        log_action(actor.id, "contest.round.add", round_, contest_id=contest.id)
    return round_


def delete_round(actor: User, contest_id: int, round_id: int) -> None:
    contest = _contest_for_change(contest_id)
    round_ = get_round(contest, round_id)
    if round_.status != RoundStatus.SETUP or _round_entry_count(round_.id):
        raise Conflict(_l("Only a round that has not started and has no entries can be removed."))
    later = [r for r in contest.rounds if r.position > round_.position]
    with write_transaction():
        log_action(actor.id, "contest.round.delete", round_, contest_id=contest.id)
        db.session.delete(round_)
        db.session.flush()
        for other in later:  # keep positions dense; one at a time so the unique index never clashes
            other.position -= 1
            db.session.flush()


def _round_entry_count(round_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(RoundEntry)
                             .where(RoundEntry.round_id == round_id))


def previous_round(round_: Round) -> Round | None:
    earlier = [r for r in round_.contest.rounds if r.position < round_.position]
    return earlier[-1] if earlier else None


def next_round(round_: Round) -> Round | None:
    later = [r for r in round_.contest.rounds if r.position > round_.position]
    return later[0] if later else None


def open_round(actor: User, contest_id: int, round_id: int) -> Round:
    """Start a round: the first takes every entry; later ones take the entries advanced into them."""
    contest = _contest_for_change(contest_id)
    round_ = get_round(contest, round_id)
    if round_.status != RoundStatus.SETUP:
        raise Conflict(_l("This round has already started."))
    before = previous_round(round_)
    if before is not None and before.status != RoundStatus.CLOSED:
        raise Conflict(_l("Close the previous round first."))
    if round_.scored and not contest.criteria:
        raise Conflict(_l("Add at least one scoring criterion first."))
    with write_transaction():
        if before is None:
            ids = db.session.scalars(select(Entry.id).where(Entry.contest_id == contest.id)).all()
            if not ids:
                raise Conflict(_l("There are no entries yet."))
            db.session.execute(RoundEntry.__table__.insert(),
                               [{"round_id": round_.id, "entry_id": i} for i in ids])
        elif not _round_entry_count(round_.id):
            raise Conflict(_l("No entries have advanced to this round yet."))
        round_.status = RoundStatus.OPEN
        round_.opened_at = now()
        log_action(actor.id, "contest.round.open", round_, contest_id=contest.id)
    return round_


def close_round(actor: User, contest_id: int, round_id: int) -> Round:
    contest = _contest_for_change(contest_id)
    round_ = get_round(contest, round_id)
    if round_.status != RoundStatus.OPEN:
        raise Conflict(_l("Only an open round can be closed."))
    with write_transaction():
        round_.status = RoundStatus.CLOSED
        round_.closed_at = now()
        log_action(actor.id, "contest.round.close", round_, contest_id=contest.id)
    return round_


def add_criterion(actor: User, contest_id: int, name: str, weight, max_score) -> Criterion:
    contest = _contest_for_change(contest_id)
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name or len(name) > CRITERION_NAME_MAX:
        _merge(errors, "name", _l("Please give the criterion a name of at most %(n)d characters.",
                                  n=CRITERION_NAME_MAX))
    if not isinstance(weight, int) or isinstance(weight, bool) or not 1 <= weight <= 100:
        _merge(errors, "weight", _l("Please enter a weight from 1 to 100."))
    if not isinstance(max_score, int) or isinstance(max_score, bool) \
            or not 1 <= max_score <= MAX_CRITERION_SCORE:
        _merge(errors, "max_score", _l("Please enter a top score from 1 to %(n)d (for example 10 or 100).",
                                       n=MAX_CRITERION_SCORE))
    if _scores_exist(contest.id):
        _merge(errors, "name", _l("Judges have already scored; the criteria can no longer change."))
    if errors:
        raise ValidationFailed(errors)
    with write_transaction():
        position = max((c.position for c in contest.criteria), default=-1) + 1
        criterion = Criterion(contest_id=contest.id, position=position, name=name, weight=weight,
                              max_score=max_score)
        db.session.add(criterion)
        db.session.flush()
        log_action(actor.id, "contest.criterion.add", criterion, contest_id=contest.id)
    return criterion


def delete_criterion(actor: User, contest_id: int, criterion_id: int) -> None:
    contest = _contest_for_change(contest_id)
    criterion = db.session.get(Criterion, criterion_id)
    if criterion is None or criterion.contest_id != contest.id:
        raise NotFound()
    if _scores_exist(contest.id):
        raise Conflict(_l("Judges have already scored; the criteria can no longer change."))
    with write_transaction():
        log_action(actor.id, "contest.criterion.delete", criterion, contest_id=contest.id)
        db.session.delete(criterion)


def judges(contest: Contest) -> list[ContestJudge]:
    return list(db.session.scalars(select(ContestJudge).where(ContestJudge.contest_id == contest.id)
                                   .options(selectinload(ContestJudge.entry_links))
                                   .order_by(ContestJudge.id)))


def add_judge(actor: User, contest_id: int, mobile: str) -> ContestJudge:
    """Put a person (found by mobile) on the panel and grant them the judge role on the activity."""
    contest = _contest_for_change(contest_id)
    person = find_by_mobile(mobile or "")
    if person is None:
        raise ValidationFailed({"mobile": [str(_l("Nobody has an account with this mobile number."))]})
    existing = judge_of(person, contest)
    if existing is not None:
        return existing
    with write_transaction():
        grant_role(person, Role.JUDGE, activity_id=contest.activity_id, granted_by=actor)
        judge = ContestJudge(contest_id=contest.id, user_id=person.id)
        db.session.add(judge)
        db.session.flush()
        log_action(actor.id, "contest.judge.add", judge, contest_id=contest.id, user_id=person.id)
    return judge


def remove_judge(actor: User, contest_id: int, judge_id: int) -> None:
    """Take a judge off the panel (their scores so far stay on record) and revoke the role."""
    contest = _contest_for_change(contest_id)
    judge = db.session.get(ContestJudge, judge_id)
    if judge is None or judge.contest_id != contest.id:
        raise NotFound()
    with write_transaction():
        for grant in list(judge.user.grants):
            if grant.role == Role.JUDGE and grant.activity_id == contest.activity_id:
                judge.user.grants.remove(grant)
                log_action(actor.id, "role.revoke", grant, role=Role.JUDGE.value, user_id=judge.user_id)
        log_action(actor.id, "contest.judge.remove", judge, contest_id=contest.id, user_id=judge.user_id)
        db.session.delete(judge)


def assign_entries(actor: User, contest_id: int, judge_id: int, codes: Iterable[str]) -> int:
    """Limit a judge to the entries with these codes (none: every entry). Returns how many are assigned."""
    contest = _contest_for_change(contest_id)
    judge = db.session.get(ContestJudge, judge_id)
    if judge is None or judge.contest_id != contest.id:
        raise NotFound()
    wanted = {c.strip().upper() for c in codes if c and c.strip()}
    found = dict(db.session.execute(select(Entry.code, Entry.id).where(Entry.contest_id == contest.id,
                                                                       Entry.code.in_(wanted))).all()) \
        if wanted else {}
    unknown = sorted(wanted - set(found))
    if unknown:
        message = _l("Unknown entry codes: %(codes)s", codes=", ".join(unknown))
        raise ValidationFailed({"codes": [str(message)]})
    with write_transaction():
        db.session.execute(delete(JudgeEntry).where(JudgeEntry.judge_id == judge.id))
        for entry_id in found.values():
            db.session.add(JudgeEntry(judge_id=judge.id, entry_id=entry_id))
        log_action(actor.id, "contest.judge.assign", judge, contest_id=contest.id, entries=len(found))
    db.session.expire(judge, ["entry_links"])
    return len(found)


# --------------------------------------------------------------------------- judging (blind)

def _judge_entry_ids(judge: ContestJudge, round_: Round) -> list[int]:
    query = select(RoundEntry.entry_id).where(RoundEntry.round_id == round_.id)
    if judge.entry_links:
        query = query.where(RoundEntry.entry_id.in_([link.entry_id for link in judge.entry_links]))
    return list(db.session.scalars(query.order_by(RoundEntry.entry_id)))


def _may_score(judge: ContestJudge, round_: Round, entry_id: int) -> bool:
    """Is the entry in the round and (when the judge has a subset) in the judge's subset?"""
    if not isinstance(entry_id, int) or db.session.get(RoundEntry, (round_.id, entry_id)) is None:
        return False
    if not judge.entry_links:
        return True
    return any(link.entry_id == entry_id for link in judge.entry_links)


def _complete_sheets(judge_user_id: int, round_: Round, criteria_count: int) -> set[int]:
    rows = db.session.execute(
        select(Score.entry_id, func.count(Score.id)).where(Score.round_id == round_.id,
                                                           Score.judge_id == judge_user_id)
        .group_by(Score.entry_id)).all()
    return {entry_id for entry_id, n in rows if n >= criteria_count}


def _require_judge(user: User, round_: Round) -> ContestJudge:
    contest = round_.contest
    judge = judge_of(user, contest)
    if judge is None or not has_role(user, Role.JUDGE, activity_id=contest.activity_id):
        raise NotFound()
    return judge


def judge_round_for(user: User, round_id: int) -> Round:
    """A scored round of a contest ``user`` judges (NotFound otherwise)."""
    round_ = db.session.get(Round, round_id)
    if round_ is None or not round_.scored or round_.status == RoundStatus.SETUP:
        raise NotFound()
    _require_judge(user, round_)
    return round_


def judge_rounds(user: User) -> list[JudgeRound]:
    """The started, scored rounds of every contest ``user`` sits on the panel of, with progress."""
    result = []
    panels = db.session.scalars(select(ContestJudge).where(ContestJudge.user_id == user.id)).all()
    for judge in panels:
        contest = db.session.get(Contest, judge.contest_id)
        if not has_role(user, Role.JUDGE, activity_id=contest.activity_id):
            continue
        for round_ in contest.rounds:
            if not round_.scored or round_.status == RoundStatus.SETUP:
                continue
            ids = _judge_entry_ids(judge, round_)
            done = _complete_sheets(user.id, round_, len(contest.criteria)) & set(ids)
            result.append(JudgeRound(round=round_, contest=contest, scored=len(done), total=len(ids)))
    return result


def _blind(entry: Entry, scored: bool = False) -> BlindEntry:
    return BlindEntry(id=entry.id, code=entry.code, title=entry.title, description=entry.description,
                      category=entry.category, image_ids=[image.id for image in entry.images], scored=scored)


def blind_entries(user: User, round_: Round) -> tuple[list[BlindEntry], int, int]:
    """The judge's entries in the round (codes and titles only) and their progress (scored, total)."""
    judge = _require_judge(user, round_)
    ids = _judge_entry_ids(judge, round_)
    done = _complete_sheets(user.id, round_, len(round_.contest.criteria))
    entries = db.session.scalars(select(Entry).where(Entry.id.in_(ids)).options(selectinload(Entry.images))
                                 .order_by(Entry.code)).all() if ids else []
    return [_blind(e, e.id in done) for e in entries], len(done & set(ids)), len(ids)


def score_sheet(user: User, round_: Round, entry_id: int) -> tuple[BlindEntry, dict[int, float]]:
    judge = _require_judge(user, round_)
    if not _may_score(judge, round_, entry_id):
        raise NotFound()
    entry = db.session.get(Entry, entry_id)
    values = dict(db.session.execute(select(Score.criterion_id, Score.value).where(
        Score.round_id == round_.id, Score.entry_id == entry_id, Score.judge_id == user.id)).all())
    return _blind(entry), values


def _score_message(code: str, criterion: Criterion):
    if code == "missing":
        return _l("Please give a score for “%(name)s”.", name=criterion.name)
    if code == "not_number":
        return _l("Please enter a number from 0 to %(max)d.", max=criterion.max_score)
    if code == "out_of_range":
        return _l("The score for “%(name)s” must be between 0 and %(max)d.", name=criterion.name,
                  max=criterion.max_score)
    return _l("Please use at most one decimal place.")


def save_scores(user: User, round_id: int, entry_id: int, values: dict) -> int:
    """Record or revise a judge's scores for one entry while the round is open.

    ``values`` maps criterion id → the typed score.  Returns how many scores were written.
    """
    round_ = db.session.get(Round, round_id) if isinstance(round_id, int) else None
    if round_ is None or not round_.scored or round_.status == RoundStatus.SETUP:
        raise NotFound()
    judge = _require_judge(user, round_)
    if not _may_score(judge, round_, entry_id):
        raise NotFound()
    if round_.status != RoundStatus.OPEN:
        raise RoundClosed()
    criteria = round_.contest.criteria
    errors: dict[str, list[str]] = {}
    clean: dict[int, float] = {}
    for criterion in criteria:
        raw = values.get(criterion.id, values.get(str(criterion.id)))
        if isinstance(raw, str):
            raw = raw.strip().replace("，", ".").replace(",", ".") or None
        problem = rules.score_error(raw, criterion.max_score)
        if problem:
            _merge(errors, f"c{criterion.id}", _score_message(problem, criterion))
        else:
            clean[criterion.id] = float(raw)
    if errors:
        raise ValidationFailed(errors)
    try:
        with write_transaction():
            current = db.session.get(Round, round_.id, populate_existing=True)
            if current.status != RoundStatus.OPEN:
                raise RoundClosed()
            existing = {s.criterion_id: s for s in db.session.scalars(select(Score).where(
                Score.round_id == round_.id, Score.entry_id == entry_id, Score.judge_id == user.id))}
            for criterion_id, value in clean.items():
                if criterion_id in existing:
                    existing[criterion_id].value = value
                else:
                    db.session.add(Score(round_id=round_.id, entry_id=entry_id, judge_id=user.id,
                                         criterion_id=criterion_id, value=value))
            log_action(user.id, "contest.score.save", round_, entry_id=entry_id, revised=bool(existing))
    except IntegrityError:
        raise Conflict(_l("Your scores were saved from another window at the same time. Please check them."))
    return len(clean)


# --------------------------------------------------------------------------- results and advancement

def _criteria_specs(contest: Contest) -> list[rules.CriterionSpec]:
    return [rules.CriterionSpec(c.id, c.weight, c.max_score) for c in contest.criteria]


def round_entry_ids(round_: Round) -> list[int]:
    return list(db.session.scalars(select(RoundEntry.entry_id).where(RoundEntry.round_id == round_.id)))


def vote_counts(contest: Contest) -> dict[int, int]:
    return dict(db.session.execute(select(Vote.entry_id, func.count(Vote.id))
                                   .where(Vote.contest_id == contest.id).group_by(Vote.entry_id)).all())


def round_scores(round_: Round, *, with_votes: bool | None = None) -> dict[int, rules.EntryScore]:
    contest = round_.contest
    rows = db.session.execute(select(Score.judge_id, Score.entry_id, Score.criterion_id, Score.value)
                              .where(Score.round_id == round_.id)).all()
    totals = rules.judge_totals(rows, _criteria_specs(contest))
    use_votes = contest.public_vote if with_votes is None else with_votes
    votes = vote_counts(contest) if use_votes else None
    return rules.aggregate(round_entry_ids(round_), totals, votes=votes, jury_weight=contest.jury_weight,
                           public_weight=contest.public_weight, normalise=contest.normalise_judges)


def round_results(contest: Contest, round_: Round) -> RoundResults:
    """Every entry of the round with its scores and rank, and each judge's progress (organisers only)."""
    scores = round_scores(round_)
    ranked = {r.entry_id: r.rank for r in rules.rank({e: s.final for e, s in scores.items()})}
    entries = {e.id: e for e in db.session.scalars(select(Entry).where(Entry.id.in_(list(scores))))} \
        if scores else {}
    rows = [ResultRow(entries[e], s, ranked.get(e)) for e, s in scores.items()]
    rows.sort(key=lambda row: (row.rank is None, row.rank or 0, row.entry.code))
    progress = []
    for judge in judges(contest):
        ids = _judge_entry_ids(judge, round_)
        done = _complete_sheets(judge.user_id, round_, len(contest.criteria)) & set(ids)
        progress.append(JudgeProgress(user=judge.user, scored=len(done), total=len(ids)))
    following = next_round(round_)
    advanced = set(round_entry_ids(following)) if following is not None else set()
    return RoundResults(round=round_, rows=rows, progress=progress, next_round=following,
                        advanced_ids=advanced)


def preview_cut(round_: Round, *, top_n: int | None = None, threshold: float | None = None) -> rules.Cut:
    scores = round_scores(round_)
    return rules.select_advancing(rules.rank({e: s.final for e, s in scores.items()}), top_n=top_n,
                                  threshold=threshold)


def advance(actor: User, contest_id: int, round_id: int, *, top_n: int | None = None,
            threshold: float | None = None, picks: Iterable[int] = ()) -> list[int]:
    """Move the best entries of a closed round into the next one.

    With ``top_n``, entries tied at the cut must be resolved by the organiser: ``picks`` names
    exactly as many of the tied entries as places remain (else TieAtCut, carrying the tie).
    """
    contest = _contest_for_change(contest_id)
    round_ = get_round(contest, round_id)
    errors: dict[str, list[str]] = {}
    if (top_n is None) == (threshold is None):
        _merge(errors, "top_n", _l("Give either how many entries advance or the lowest score that advances."))
    if top_n is not None and (not isinstance(top_n, int) or top_n < 1):
        _merge(errors, "top_n", _l("Please enter a whole number of at least 1."))
    if threshold is not None and not (0 <= threshold <= 100):
        _merge(errors, "threshold", _l("Please enter a score from 0 to 100."))
    if errors:
        raise ValidationFailed(errors)
    if round_.status != RoundStatus.CLOSED:
        raise Conflict(_l("Close the round before choosing who advances."))
    following = next_round(round_)
    if following is None:
        raise Conflict(_l("This is the last round: there is no next round to advance to."))
    if following.status != RoundStatus.SETUP:
        raise Conflict(_l("The next round has already started."))
    cut = preview_cut(round_, top_n=top_n, threshold=threshold)
    chosen = list(cut.sure)
    picks = [int(p) for p in picks]
    if cut.needs_decision:
        if len(set(picks)) != cut.slots or not set(picks) <= set(cut.tied):
            raise TieAtCut(cut, _l("%(n)d entries are tied at the cut for %(slots)d remaining places: "
                                   "please choose exactly %(slots)d of them.",
                                   n=len(cut.tied), slots=cut.slots))
        chosen += picks
    if not chosen:
        raise Conflict(_l("No entry meets this rule, so nobody would advance."))
    with write_transaction():
        db.session.execute(delete(RoundEntry).where(RoundEntry.round_id == following.id))
        db.session.execute(RoundEntry.__table__.insert(), [{"round_id": following.id, "entry_id": e}
                                                           for e in chosen])
        log_action(actor.id, "contest.round.advance", round_, contest_id=contest.id, to_round_id=following.id,
                   advanced=len(chosen), tie_picks=len(picks) if cut.needs_decision else 0)
    return chosen


def ranking_round(contest: Contest) -> Round | None:
    """The round awards are decided on: the last closed round that was scored."""
    closed = [r for r in contest.rounds if r.scored and r.status == RoundStatus.CLOSED]
    return closed[-1] if closed else None


def final_ranking(contest: Contest) -> tuple[Round | None, list[rules.Ranked], dict[int, rules.EntryScore]]:
    round_ = ranking_round(contest)
    if round_ is None:
        return None, [], {}
    scores = round_scores(round_)
    return round_, rules.rank({e: s.final for e, s in scores.items()}), scores


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


# --------------------------------------------------------------------------- awards

def _tier_errors(name: str, quota) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not name or len(name) > TIER_NAME_MAX:
        _merge(errors, "name", _l("Please give the award a name of at most %(n)d characters.",
                                  n=TIER_NAME_MAX))
    if not isinstance(quota, int) or isinstance(quota, bool) or not 0 <= quota <= MAX_QUOTA:
        _merge(errors, "quota", _l("Please enter a number of awards from 0 to %(n)d.", n=MAX_QUOTA))
    return errors


def _refuse_after_publication(contest: Contest) -> None:
    if contest.results_published:
        raise Conflict(_l("The results are published. Withdraw the publication before changing awards."))


def save_tier(actor: User, contest_id: int, tier_id: int | None, name: str, quota) -> AwardTier:
    """Add an award tier or rename it / change its quota (never below the awards it already holds)."""
    contest = _contest_for_change(contest_id)
    _refuse_after_publication(contest)
    name = (name or "").strip()
    errors = _tier_errors(name, quota)
    if errors:
        raise ValidationFailed(errors)
    with write_transaction():
        if tier_id is None:
            position = max((t.position for t in contest.tiers), default=-1) + 1
            tier = AwardTier(contest_id=contest.id, position=position, name=name, quota=quota)
            db.session.add(tier)
            db.session.flush()
        else:
            tier = db.session.get(AwardTier, tier_id)
            if tier is None or tier.contest_id != contest.id:
                raise NotFound()
            changed = db.session.execute(update(AwardTier).where(AwardTier.id == tier.id,
                                                                 AwardTier.awarded <= quota)
                                         .values(name=name, quota=quota)).rowcount
            if not changed:
                raise ValidationFailed({"quota": [str(_l(
                    "%(n)d entries already hold this award; remove some before lowering the quota.",
                    n=tier.awarded))]})
        log_action(actor.id, "contest.tier.save", tier, contest_id=contest.id, quota=quota)
    db.session.expire(tier)
    return tier


def delete_tier(actor: User, contest_id: int, tier_id: int) -> None:
    contest = _contest_for_change(contest_id)
    _refuse_after_publication(contest)
    tier = db.session.get(AwardTier, tier_id)
    if tier is None or tier.contest_id != contest.id:
        raise NotFound()
    if tier.awarded:
        raise Conflict(_l("Entries hold this award; remove their awards first."))
    with write_transaction():
        log_action(actor.id, "contest.tier.delete", tier, contest_id=contest.id)
        db.session.delete(tier)


def awards(contest: Contest) -> list[Award]:
    return list(db.session.scalars(select(Award).where(Award.contest_id == contest.id)
                                   .options(selectinload(Award.entry)).join(AwardTier)
                                   .order_by(AwardTier.position, Award.rank, Award.id)))


def allocate(actor: User, contest_id: int) -> rules.Allocation:
    """Replace the awards by the final ranking's allocation (ties reported, quotas never passed)."""
    contest = _contest_for_change(contest_id)
    _refuse_after_publication(contest)
    round_, ranked, _scores = final_ranking(contest)
    if round_ is None:
        raise Conflict(_l("Close a scored round first: awards follow its ranking."))
    allocation = rules.allocate_awards(ranked, [rules.TierSpec(t.id, t.quota) for t in contest.tiers])
    counts = allocation.counts()
    with write_transaction():
        db.session.execute(delete(Award).where(Award.contest_id == contest.id))
        db.session.execute(update(AwardTier).where(AwardTier.contest_id == contest.id).values(awarded=0))
        for tier in contest.tiers:
            if counts.get(tier.id):
                db.session.execute(update(AwardTier).where(AwardTier.id == tier.id)
                                   .values(awarded=counts[tier.id]))
        if allocation.awards:
            db.session.execute(Award.__table__.insert(), [
                {"contest_id": contest.id, "tier_id": tier_id, "entry_id": entry_id, "rank": position,
                 "by_hand": False, "created_at": now()}
                for entry_id, tier_id, position in allocation.awards])
        log_action(actor.id, "contest.awards.allocate", contest, round_id=round_.id,
                   awarded=len(allocation.awards), ties=len(allocation.ties))
    db.session.expire_all()
    return allocation


def set_award(actor: User, contest_id: int, entry_id: int, tier_id: int | None) -> Award | None:
    """Give an entry an award tier by hand (or take its award away); a full tier refuses (QuotaFull)."""
    contest = _contest_for_change(contest_id)
    _refuse_after_publication(contest)
    entry = get_entry_of_contest(contest, entry_id)
    tier = None
    if tier_id is not None:
        tier = db.session.get(AwardTier, tier_id)
        if tier is None or tier.contest_id != contest.id:
            raise NotFound()
    with write_transaction():
        current = db.session.scalar(select(Award).where(Award.entry_id == entry.id).with_for_update(of=Award))
        if current is not None and tier is not None and current.tier_id == tier.id:
            return current
        if tier is not None:
            claimed = db.session.execute(update(AwardTier).where(AwardTier.id == tier.id,
                                                                 AwardTier.awarded < AwardTier.quota)
                                         .values(awarded=AwardTier.awarded + 1)).rowcount
            if not claimed:
                raise QuotaFull(_l("“%(tier)s” already has its %(n)d awards. Take one away first.",
                                   tier=tier.name, n=tier.quota))
        if current is not None:
            db.session.execute(update(AwardTier).where(AwardTier.id == current.tier_id)
                               .values(awarded=AwardTier.awarded - 1))
            db.session.delete(current)
            db.session.flush()
        award = None
        if tier is not None:
            award = Award(contest_id=contest.id, tier_id=tier.id, entry_id=entry.id, by_hand=True)
            db.session.add(award)
        log_action(actor.id, "contest.award.set", entry, contest_id=contest.id,
                   tier_id=tier.id if tier else None)
    db.session.expire_all()
    return award


def publish_results(actor: User, contest_id: int) -> Contest:
    contest = _contest_for_change(contest_id)
    if not db.session.scalar(select(func.count(Award.id)).where(Award.contest_id == contest.id)):
        raise Conflict(_l("There are no awards to publish yet."))
    with write_transaction():
        contest.results_published_at = now()
        log_action(actor.id, "contest.results.publish", contest)
    return contest


def unpublish_results(actor: User, contest_id: int) -> Contest:
    contest = _contest_for_change(contest_id)
    with write_transaction():
        contest.results_published_at = None
        log_action(actor.id, "contest.results.unpublish", contest)
    return contest


def display_name(entry: Entry) -> str:
    """The winner's name when they agreed to its publication, else "Anonymous"."""
    return entry.user.name if entry.consent_publish_name else _("Anonymous")


def published_awards(contest: Contest) -> list[PublishedAward]:
    if not contest.results_published:
        raise NotFound(_l("The results have not been published yet."))
    result = []
    for award in awards(contest):
        entry = award.entry
        consented = entry.consent_publish_name
        union = entry.user.union.name if consented and entry.user.union else None
        result.append(PublishedAward(tier_name=award.tier.name, entry=entry, display_name=display_name(entry),
                                     union_name=union))
    return result


@dataclass
class Outcome:
    rounds_reached: list[Round]
    award: Award | None
    published: bool


def entry_outcome(entry: Entry) -> Outcome:
    """What the entrant may know: rounds reached, and the award once results are published."""
    contest = entry.contest
    reached = [r for r in contest.rounds if r.status != RoundStatus.SETUP
               and db.session.get(RoundEntry, (r.id, entry.id)) is not None]
    return Outcome(rounds_reached=reached, award=entry.award if contest.results_published else None,
                   published=contest.results_published)


def certificate_for(user: User, entry_id: int) -> Entry:
    """An award certificate: the entrant's own awarded entry once results are published, or any
    awarded entry for the contest's organisers."""
    entry = db.session.get(Entry, entry_id)
    if entry is None or entry.award is None:
        raise NotFound()
    if entry.user_id == user.id and entry.contest.results_published:
        return entry
    if is_contest_organiser(user, entry.contest):
        return entry
    raise NotFound()


def contest_entries(contest: Contest) -> list[Entry]:
    return list(db.session.scalars(select(Entry).where(Entry.contest_id == contest.id)
                                   .options(selectinload(Entry.images)).order_by(Entry.code)))


# --------------------------------------------------------------------------- export

def export_scores(contest: Contest) -> bytes:
    """An XLSX workbook for the jury's deliberation: every score, the public vote and the combined rank.

    Entrants appear by code and title only (the deliberation stays blind)."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = _("Ranking")[:31]
    round_, ranked, scores = final_ranking(contest)
    entries = {e.id: e for e in contest_entries(contest)}
    award_of = {a.entry_id: a.tier.name for a in awards(contest)}
    sheet.append([_("Rank"), _("Code"), _("Title"), _("Jury score (0–100)"), _("Mean z-score"),
                  _("Public votes"), _("Public score (0–100)"), _("Final score"), _("Award")])
    for item in ranked:
        s = scores[item.entry_id]
        entry = entries[item.entry_id]
        sheet.append([item.rank, entry.code, _safe(entry.title), _round(s.jury), _round(s.z, 3), s.votes,
                      _round(s.public), _round(s.final), award_of.get(item.entry_id, "")])

    detail = book.create_sheet(_("Scores")[:31])
    detail.append([_("Round"), _("Code"), _("Title"), _("Judge"), _("Criterion"), _("Weight"), _("Top score"),
                   _("Score")])
    criteria = {c.id: c for c in contest.criteria}
    judge_names = {j.user_id: j.user.name for j in judges(contest)}
    for round_row in contest.rounds:
        rows = db.session.execute(select(Score).where(Score.round_id == round_row.id)
                                  .order_by(Score.entry_id, Score.judge_id, Score.criterion_id)).scalars()
        for score in rows:
            entry, criterion = entries.get(score.entry_id), criteria.get(score.criterion_id)
            if entry is None or criterion is None:
                continue
            detail.append([round_row.name, entry.code, _safe(entry.title),
                           _safe(judge_names.get(score.judge_id, str(score.judge_id))), criterion.name,
                           criterion.weight, criterion.max_score, score.value])

    votes_sheet = book.create_sheet(_("Public vote")[:31])
    votes_sheet.append([_("Code"), _("Title"), _("Votes")])
    counts = vote_counts(contest)
    for entry in sorted(entries.values(), key=lambda e: e.code):
        votes_sheet.append([entry.code, _safe(entry.title), counts.get(entry.id, 0)])
    for ws in (sheet, detail, votes_sheet):
        ws.freeze_panes = "A2"
        for index in range(1, ws.max_column + 1):
            ws.column_dimensions[get_column_letter(index)].width = 16
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _round(value: float | None, digits: int = 2):
    return None if value is None else round(value, digits)


def _safe(text: str | None) -> str:
    """Cell text that spreadsheet programs never evaluate as a formula."""
    text = text or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# --------------------------------------------------------------------------- erasure

ERASED_TITLE = _l("Entry of a deleted account")


def _erase_entrant(user_id: int):
    """Entries and their scores stay (the round results, the award list and the statistics must still
    add up), but without the person: the photos (originals and thumbnails) are deleted, the title is
    replaced by a placeholder, and the free text, team names and consent to show the name go.

    Runs inside the erasure transaction; returns the file deletion, which the caller runs after the
    commit (a rolled-back erasure leaves every file in place)."""
    from flask import current_app
    from flask_babel import force_locale

    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        placeholder = _("Entry of a deleted account")
    entry_ids = select(Entry.id).where(Entry.user_id == user_id).scalar_subquery()
    names = [n for stored, thumb in db.session.execute(
        select(EntryImage.stored_name, EntryImage.thumb_name).where(EntryImage.entry_id.in_(entry_ids))).all()
        for n in (stored, thumb)]
    db.session.execute(delete(EntryImage).where(EntryImage.entry_id.in_(entry_ids)))
    db.session.execute(
        update(Entry).where(Entry.user_id == user_id)
        .values(title=placeholder[:120], consent_publish_name=False, consent_at=None, team_leader=None,
                members=None, description="")
    )

    def delete_files() -> None:
        try:
            images.remove(*names)
        except OSError:  # the account is gone already; a file left over is logged, not a failed request
            log.exception("could not delete contest photos of an erased account")

    return delete_files if names else None


register_erasure_hook(_erase_entrant)
