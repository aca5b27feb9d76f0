"""Entries: submitting, changing and withdrawing one (photos checked and cleaned), the entrant's
consent to publish their name, who may see a photo, and what an erased account leaves behind.

Entrants and registrations (a design decision): an entry belongs to a registration for the contest
activity that holds a place (confirmed or attended).  A worker who has none gets one made by
``registrations.services.register`` when they submit their first entry, so eligibility, the
sign-up window and capacity (the most entrants) are checked by the one engine that owns them;
nothing here re-implements those rules.  A contest whose sign-up asks extra questions, or that needs
the organiser's approval, sends the worker through the ordinary sign-up page first.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import selectinload

from ...accounts.models import Role, User
from ...activities.models import Activity, ActivityStatus, Visibility
from ...activities.services import may_see_invitation
from ...core.audit import log_action
from ...core.db import write_transaction
from ...core.errors import Conflict, NotFound, ValidationFailed
from ...core.permissions import has_role
from ...core.timeutil import now
from ...extensions import db
from ...registrations import services as registrations
from ...registrations.models import PLACE_STATES, Registration
from .. import images, media, rules
from ..models import Contest, ContestFormat, Entry, EntryImage, EntryMember, PerformanceCategory, RoundStatus
from .contest import _merge, get_contest, get_own_entry, is_contest_organiser, judge_of
from .performance import Performer, parse_performers, precheck_recording, set_performers, store_recording

log = logging.getLogger(__name__)


TITLE_MAX = 120
DESCRIPTION_MAX = 2000
NAME_MAX = 40
MEMBERS_MAX = 2000
DEFAULT_MAX_IMAGES = 4
CODE_PREFIX = {ContestFormat.PHOTO: "P", ContestFormat.PERFORMANCE: "S"}


# --------------------------------------------------------------------------- errors

class EntriesLocked(Conflict):
    code = "entries_locked"
    default_message = _l("The entry deadline has passed; entries can no longer be changed.")


class EntryLimitReached(Conflict):
    code = "entry_limit"
    default_message = _l("You have reached this contest's entry limit.")



# --------------------------------------------------------------------------- plain data for views

@dataclass
class EntryData:
    title: str = ""
    description: str = ""
    category: str | None = None
    team_leader: str = ""
    members: str = ""
    consent_publish_name: bool = False
    #: Filled in by the check: the performers parsed from ``members`` ("name mobile" per line).
    performers: list[Performer] | None = None


@dataclass
class Upload:
    """A file as received: a readable stream and the name the browser gave (never stored)."""

    stream: object
    filename: str = ""


# --------------------------------------------------------------------------- entries

def judging_started(contest: Contest) -> bool:
    return any(r.status != RoundStatus.SETUP for r in contest.rounds)


def entries_locked(contest: Contest, at: datetime | None = None) -> bool:
    """Entries change until the deadline, and never once judging has started (judges must score what
    everyone else sees)."""
    return (at or now()) >= contest.entry_deadline or judging_started(contest)


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
        else:
            clean.performers = parse_performers(clean.category, clean.members, errors)
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


def has_signed_up(user: User, activity_id: int) -> bool:
    """Whether the worker has a live or place-holding registration for the contest's activity: the
    entry form sends anyone else to the sign-up first, which then leads back to the form."""
    return db.session.scalar(select(Registration.id).where(
        Registration.user_id == user.id, Registration.activity_id == activity_id,
        Registration.is_live | Registration.holds_place).limit(1)) is not None


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


def submit_entry(user: User, activity_id: int, data: EntryData, uploads: Sequence[Upload] = (),
                 recording: Upload | None = None) -> Entry:
    """A new entry (photos are checked and cleaned first; a performance's recording is checked by its
    first bytes and size). Raises ValidationFailed, EntriesLocked, EntryLimitReached and the sign-up
    engine's refusals."""
    contest = get_contest(activity_id)
    activity = contest.activity
    if activity.status != ActivityStatus.PUBLISHED:
        raise NotFound(_l("This activity does not exist."))
    _refuse_if_locked(contest)
    errors, clean = _entry_errors(contest, data)
    cleaned = _clean_uploads(uploads, errors, required=True) if contest.is_photo else []
    if not contest.is_photo:
        precheck_recording(recording, errors)
    if errors:
        raise ValidationFailed(errors)
    registration = _entry_registration(user, activity)
    recorded = None if contest.is_photo else store_recording(recording, errors)
    if errors:
        raise ValidationFailed(errors)
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
                          team_leader=clean.team_leader or None, members=None,  # performers below
                          consent_publish_name=clean.consent_publish_name,
                          consent_at=now() if clean.consent_publish_name else None)
            if recorded is not None:
                entry.media_name, entry.media_type, entry.media_size = (recorded.name, recorded.content_type,
                                                                        recorded.size)
            db.session.add(entry)
            db.session.flush()
            _attach(entry, stored)
            if clean.performers:
                set_performers(entry, clean.performers)
            log_action(user.id, "contest.entry.create", entry, contest_id=contest.id, images=len(stored),
                       members=len(clean.performers or ()), recording=recorded is not None)
    except BaseException:
        images.remove(*[n for _c, a, b in stored for n in (a, b)])
        media.remove(recorded.name if recorded else None)
        raise
    return entry


def update_entry(user: User, entry_id: int, data: EntryData, uploads: Sequence[Upload] = (),
                 recording: Upload | None = None) -> Entry:
    """Change one's own entry until the deadline; new photos (or a new recording), if given, replace
    the old ones."""
    entry = get_own_entry(user, entry_id)
    contest = entry.contest
    _refuse_if_locked(contest)
    errors, clean = _entry_errors(contest, data)
    cleaned = _clean_uploads(uploads, errors, required=False) if contest.is_photo else []
    if not contest.is_photo:
        precheck_recording(recording, errors)
    if errors:
        raise ValidationFailed(errors)
    recorded = None if contest.is_photo else store_recording(recording, errors)
    if errors:
        raise ValidationFailed(errors)
    stored = _store_all(cleaned)
    old_names: list[str] = []
    old_media = entry.media_name if recorded is not None else None
    try:
        with write_transaction():
            entry.title = clean.title
            entry.description = clean.description
            if not contest.is_photo:
                entry.category = PerformanceCategory(clean.category)
                entry.team_leader = clean.team_leader
                entry.members = None  # the performers below replace any list typed before them
                set_performers(entry, clean.performers or [])
                if recorded is not None:
                    entry.media_name, entry.media_type, entry.media_size = (recorded.name, recorded.content_type,
                                                                            recorded.size)
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
        media.remove(recorded.name if recorded else None)
        raise
    images.remove(*old_names)
    media.remove(old_media)
    db.session.expire(entry, ["images", "performers"])
    return entry


def withdraw_entry(user: User, entry_id: int) -> int:
    """Delete one's own entry and its photos before the deadline; returns the contest's activity id."""
    entry = get_own_entry(user, entry_id)
    contest = entry.contest
    _refuse_if_locked(contest)
    names = [n for image in entry.images for n in (image.stored_name, image.thumb_name)]
    recording = entry.media_name
    with write_transaction():
        log_action(user.id, "contest.entry.withdraw", entry, contest_id=contest.id)
        db.session.delete(entry)
    images.remove(*names)
    media.remove(recording)
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


def recording_for(user: User | None, entry_id: int) -> Entry:
    """The entry whose recording ``user`` may play: its entrant, the contest's organisers in scope and
    its judges (those linked to entries: only theirs) -- not voters, not the public.  Otherwise NotFound
    (never reveal that it exists), also when the entry has no recording."""
    entry = db.session.get(Entry, entry_id)
    if entry is None or not entry.media_name or user is None or not getattr(user, "is_authenticated", False):
        raise NotFound()
    contest = entry.contest
    if contest.activity.visibility == Visibility.INVITATION and not may_see_invitation(user, contest.activity):
        raise NotFound()
    if entry.user_id == user.id or is_contest_organiser(user, contest):
        return entry
    judge = judge_of(user, contest)
    if judge is not None and has_role(user, Role.JUDGE, activity_id=contest.activity_id):
        linked = {link.entry_id for link in judge.entry_links}
        if not linked or entry.id in linked:
            return entry
    raise NotFound()


def contest_entries(contest: Contest) -> list[Entry]:
    return list(db.session.scalars(select(Entry).where(Entry.contest_id == contest.id)
                                   .options(selectinload(Entry.images)).order_by(Entry.code)))



# --------------------------------------------------------------------------- erasure

ERASED_TITLE = _l("Entry of a deleted account")


def erase_entrant(user_id: int):
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
    recordings = list(db.session.scalars(select(Entry.media_name).where(Entry.user_id == user_id,
                                                                         Entry.media_name.is_not(None))))
    db.session.execute(delete(EntryImage).where(EntryImage.entry_id.in_(entry_ids)))
    db.session.execute(delete(EntryMember).where(EntryMember.entry_id.in_(entry_ids)))
    db.session.execute(
        update(Entry).where(Entry.user_id == user_id)
        .values(title=placeholder[:120], consent_publish_name=False, consent_at=None, team_leader=None,
                members=None, description="", media_name=None, media_type=None, media_size=None)
    )

    def delete_files() -> None:
        try:
            images.remove(*names)
            media.remove(*recordings)
        except OSError:  # the account is gone already; a file left over is logged, not a failed request
            log.exception("could not delete contest photos of an erased account")

    return delete_files if names or recordings else None
