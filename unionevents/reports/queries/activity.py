"""Statistics of one activity: registrations by state, slot, union and occupation, and a summary of
the answers to its questions."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, literal, select

from ...accounts.models import Occupation, User
from ...activities.models import Activity, Question, QuestionKind, TimeSlot
from ...extensions import db
from ...registrations.models import Registration, RegistrationState as S
from ...unions.models import UnionNode

# --------------------------------------------------------------------------- one activity

@dataclass
class QuestionSummary:
    question: Question
    answered: int
    counts: list[tuple[str, int]] = field(default_factory=list)  # choice (or yes/no) → answers
    mean: float | None = None
    minimum: float | None = None
    maximum: float | None = None


@dataclass
class ActivityStats:
    activity: Activity
    by_state: list[tuple[S, int]]
    by_slot: list[dict[str, Any]]
    by_union: list[dict[str, Any]]
    by_occupation: list[dict[str, Any]]
    questions: list[QuestionSummary]
    total: int


#: Answers are summarised over the registrations that are (or were) taking part.
ANSWER_STATES = (S.PENDING, S.CONFIRMED, S.WAITLISTED, S.ATTENDED, S.NO_SHOW)


def _state_sums(state_column) -> list:
    return [func.count(Registration.id).label("registrations"),
            func.sum(case((state_column.in_((S.CONFIRMED, S.ATTENDED)), 1), else_=0)).label("places"),
            func.sum(case((state_column == S.ATTENDED, 1), else_=0)).label("attended"),
            func.sum(case((state_column == S.NO_SHOW, 1), else_=0)).label("no_show"),
            func.sum(case((state_column == S.WAITLISTED, 1), else_=0)).label("waitlisted"),
            func.sum(case((state_column == S.CANCELLED, 1), else_=0)).label("cancelled")]


def _counts(row) -> dict[str, int]:
    return {name: int(getattr(row, name) or 0)
            for name in ("registrations", "places", "attended", "no_show", "waitlisted", "cancelled")}


def activity_stats(activity: Activity) -> ActivityStats:
    """Statistics of one activity (six statements; the answers of one activity's registrations are
    summarised in Python because their JSON layout differs per question kind)."""
    r = Registration
    by_state = dict(db.session.execute(select(r.state, func.count(r.id)).where(r.activity_id == activity.id)
                                       .group_by(r.state)).all())
    states = [(state, int(by_state.get(state, 0))) for state in S]
    by_slot = [{"slot": slot, **_counts(row)} for row in db.session.execute(
        select(TimeSlot.id, *_state_sums(r.state)).join(r, and_(r.slot_id == TimeSlot.id), isouter=True)
        .where(TimeSlot.activity_id == activity.id).group_by(TimeSlot.id))
        for slot in [next((s for s in activity.slots if s.id == row.id), None)] if slot is not None]
    by_slot.sort(key=lambda item: item["slot"].starts_at)
    by_union = [{"name": row.name, **_counts(row)} for row in db.session.execute(
        select(func.coalesce(UnionNode.name, literal("")).label("name"), *_state_sums(r.state))
        .select_from(r).outerjoin(UnionNode, UnionNode.id == r.unit_node_id)
        .where(r.activity_id == activity.id).group_by(UnionNode.name).order_by(func.count(r.id).desc()))]
    by_occupation = [{"occupation": Occupation(row.occupation), **_counts(row)} for row in db.session.execute(
        select(User.occupation, *_state_sums(r.state)).join(User, User.id == r.user_id)
        .where(r.activity_id == activity.id).group_by(User.occupation).order_by(func.count(r.id).desc()))]
    questions = list(activity.questions)
    summaries = []
    if questions:
        answers = [a for a in db.session.scalars(select(r.answers).where(
            r.activity_id == activity.id, r.state.in_(ANSWER_STATES))) if a]
        summaries = [summarise_answers(q, answers) for q in questions]
    return ActivityStats(activity=activity, by_state=states, by_slot=by_slot, by_union=by_union,
                         by_occupation=by_occupation, questions=summaries, total=sum(by_state.values()))


YES = _l("Yes")
NO = _l("No")


def summarise_answers(question: Question, answers: list[dict]) -> QuestionSummary:
    """Counts per choice (or yes/no), mean/min/max of numbers, the number answered for text."""
    key = str(question.id)
    values = [a[key] for a in answers if key in a and a[key] not in (None, "", [])]
    summary = QuestionSummary(question=question, answered=len(values))
    if question.kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE):
        counter: Counter = Counter()
        for value in values:
            counter.update(value if isinstance(value, list) else [value])
        choices = question.choice_list()
        summary.counts = [(choice, counter.get(choice, 0)) for choice in choices]
        summary.counts += [(str(other), n) for other, n in sorted(counter.items(), key=str)
                           if other not in choices]  # answers to a choice since removed
    elif question.kind == QuestionKind.YES_NO:
        summary.counts = [(str(YES), sum(1 for v in values if v is True)),
                          (str(NO), sum(1 for v in values if v is False))]
    elif question.kind == QuestionKind.NUMBER:
        numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if numbers:
            summary.mean = sum(numbers) / len(numbers)
            summary.minimum, summary.maximum = min(numbers), max(numbers)
    return summary
