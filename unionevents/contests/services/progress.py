"""Where an entrant stands: 已报名 · 作品已提交 · 初赛 · 决赛 · 获奖, and what to do next.

``rules.entry_stage`` decides from plain facts; this module gathers them (the registration's place,
the entries, the rounds each entry takes part in, a published award) and hands the registrations
domain its follow-up for a contest sign-up (``registrations.followups``, registered by
``contests.init_app``): the strip, and "next step: submit your entry" until an entry exists.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from ...accounts.models import User
from ...activities.models import ActivityKind
from ...extensions import db
from ...registrations.followups import Followup, Step
from ...registrations.models import Registration
from .. import rules
from ..models import Contest, Entry, EntryStage, Round, RoundEntry, RoundStatus
from .entries import entries_locked

NEXT_STEP = _l("Next step: submit your entry")


@dataclass(frozen=True)
class Progress:
    stage: EntryStage | None
    steps: list[Step]

    @property
    def stage_title(self) -> str:
        return self.stage.title if self.stage else ""


def _steps(index: int) -> list[Step]:
    return [Step(title=EntryStage(value).title, done=position < index, current=position == index)
            for position, value in enumerate(rules.STAGES)]


def _progress(index: int) -> Progress:
    return Progress(stage=EntryStage(rules.STAGES[index]) if index >= 0 else None, steps=_steps(index))


def _round_positions(entry_ids: list[int]) -> dict[int, set[int]]:
    """Entry id → positions of the rounds it takes part in: opened ones, or later ones advanced into."""
    found: dict[int, set[int]] = {entry_id: set() for entry_id in entry_ids}
    if not entry_ids:
        return found
    rows = db.session.execute(
        select(RoundEntry.entry_id, Round.position).join(Round, Round.id == RoundEntry.round_id)
        .where(RoundEntry.entry_id.in_(entry_ids),
               or_(Round.status != RoundStatus.SETUP, Round.position > 0))).all()
    for entry_id, position in rows:
        found[entry_id].add(position)
    return found


def _holds_place(registration_id: int | None) -> bool:
    registration = db.session.get(Registration, registration_id) if registration_id else None
    return bool(registration is not None and registration.holds_place)


def entry_progress(entry: Entry) -> Progress:
    return entries_progress([entry])[entry.id]


def entries_progress(entries: list[Entry]) -> dict[int, Progress]:
    """Each entry's strip, with one query for the rounds of them all."""
    positions = _round_positions([e.id for e in entries])
    result = {}
    for entry in entries:
        awarded = entry.award is not None and entry.contest.results_published
        result[entry.id] = _progress(rules.entry_stage(
            holds_place=_holds_place(entry.registration_id), submitted=True,
            round_positions=positions[entry.id], awarded=awarded))
    return result


def registration_progress(registration: Registration) -> Progress | None:
    """The strip for a contest sign-up: its furthest entry's, or 已报名 alone before any entry."""
    contest = db.session.scalar(select(Contest).where(Contest.activity_id == registration.activity_id))
    if contest is None:
        return None
    entries = list(db.session.scalars(select(Entry).where(Entry.contest_id == contest.id,
                                                          Entry.user_id == registration.user_id)))
    if entries:
        furthest = max(entries_progress(entries).values(),
                       key=lambda p: rules.STAGES.index(p.stage.value) if p.stage else -1)
        return furthest
    return _progress(rules.entry_stage(holds_place=registration.holds_place, submitted=False,
                                       round_positions=(), awarded=False))


def needs_entry(user: User, contest: Contest) -> bool:
    """True while the entrant holds a place, has no entry yet and entries are still open."""
    if entries_locked(contest):
        return False
    return db.session.scalar(select(Entry.id).where(Entry.contest_id == contest.id,
                                                    Entry.user_id == user.id).limit(1)) is None


def contest_followup(registration: Registration) -> Followup | None:
    """The registrations domain's follow-up for a contest sign-up (None for any other activity)."""
    if registration.activity.kind != ActivityKind.CONTEST:
        return None
    progress = registration_progress(registration)
    if progress is None:
        return None
    contest = db.session.scalar(select(Contest).where(Contest.activity_id == registration.activity_id))
    action = None
    if registration.holds_place and contest is not None and needs_entry(registration.user, contest):
        action = ("contests.enter", {"activity_id": registration.activity_id}, NEXT_STEP)
    return Followup(steps=progress.steps, stage_title=progress.stage_title, action=action,
                    deadline=contest.entry_deadline if action and contest is not None else None)
