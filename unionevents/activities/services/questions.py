"""The questions of an activity's sign-up form: adding, changing, reordering and deleting them
(never losing answers already given)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ...accounts.models import User
from ...core.audit import log_action
from ...core.db import write_transaction
from ...core.errors import Conflict, NotFound, ValidationFailed
from ...extensions import db
from ..models import Activity, Question, QuestionKind
from .lifecycle import _ensure_changeable, _lock_activity
from .listing import answered_question_ids


MAX_CHOICES = 50
QUESTION_LABEL_MAX = 200
CHOICE_MAX = 100


def clean_choices(raw: list[str] | str | None) -> list[str]:
    """Choices from a list or from text with one choice per line, stripped, blanks dropped."""
    if isinstance(raw, str):
        raw = raw.splitlines()
    return [c.strip() for c in (raw or []) if c and c.strip()]


def _question_errors(label: str, kind: QuestionKind, choices: list[str]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not label:
        errors["label"] = [str(_l("Please enter the question."))]
    elif len(label) > QUESTION_LABEL_MAX:
        errors["label"] = [str(_l("The question may have at most %(n)d characters.", n=QUESTION_LABEL_MAX))]
    if kind in CHOICE_KINDS:
        seen: set[str] = set()
        repeated = [c for c in choices if c in seen or seen.add(c)]
        if repeated:
            errors["choices"] = [str(_l("Each choice must be different: “%(choice)s” appears more than once.",
                                        choice=repeated[0]))]
        elif len(choices) < 2:
            errors["choices"] = [str(_l("A choice question needs at least two different choices, "
                                        "one per line."))]
        elif len(choices) > MAX_CHOICES:
            errors["choices"] = [str(_l("A question can have at most %(n)d choices.", n=MAX_CHOICES))]
        elif any(len(c) > CHOICE_MAX for c in choices):
            errors["choices"] = [str(_l("Each choice may have at most %(n)d characters.", n=CHOICE_MAX))]
    return errors


CHOICE_KINDS = (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE)


def add_question(activity: Activity, label: str, kind: QuestionKind, required: bool = False,
                 choices: list[str] | str | None = None) -> Question:
    """Append a question to the sign-up form (does not commit; see ``create_question``)."""
    label = (label or "").strip()
    choices = clean_choices(choices)
    errors = _question_errors(label, kind, choices)
    if errors:
        raise ValidationFailed(errors)
    position = max((q.position for q in activity.questions), default=-1) + 1
    question = Question(activity=activity, label=label, kind=kind, required=required,
                        choices=choices if kind in CHOICE_KINDS else None, position=position)
    db.session.add(question)
    return question


def _question_of(activity: Activity, question_id: int) -> Question:
    question = next((q for q in activity.questions if q.id == question_id), None)
    if question is None:
        raise NotFound(_l("This question does not exist."))
    return question


def create_question(actor: User, activity_id: int, label: str, kind: QuestionKind, required: bool = False,
                    choices: list[str] | str | None = None) -> Question:
    """Add a question at the end of the sign-up form."""
    with write_transaction():
        activity = _lock_activity(activity_id)
        _ensure_changeable(activity)
        question = add_question(activity, label, kind, required, choices)
        db.session.flush()
        log_action(actor.id, "question.add", question, activity_id=activity.id)
    return question


def update_question(actor: User, activity_id: int, question_id: int, label: str, kind: QuestionKind,
                    required: bool = False, choices: list[str] | str | None = None) -> Question:
    """Change a question. Its kind stays fixed once someone has answered it (their answers would not fit)."""
    label = (label or "").strip()
    choices = clean_choices(choices)
    with write_transaction():
        activity = _lock_activity(activity_id)
        _ensure_changeable(activity)
        question = _question_of(activity, question_id)
        errors = _question_errors(label, kind, choices)
        if kind != question.kind and question.id in answered_question_ids(activity.id):
            errors.setdefault("kind", []).append(str(_l(
                "People have already answered this question, so its kind cannot change: their answers "
                "would no longer fit. Add a new question instead.")))
        if errors:
            raise ValidationFailed(errors)
        question.label = label
        question.kind = kind
        question.required = required
        question.choices = choices if kind in CHOICE_KINDS else None
        log_action(actor.id, "question.update", question, activity_id=activity.id)
    return question


def move_question(actor: User, activity_id: int, question_id: int, direction: str) -> Question:
    """Swap the question with the one above (``"up"``) or below (``"down"``)."""
    if direction not in ("up", "down"):
        raise ValidationFailed({"direction": [str(_l("Choose up or down."))]})
    with write_transaction():
        activity = _lock_activity(activity_id)
        _ensure_changeable(activity)
        question = _question_of(activity, question_id)
        ordered = sorted(activity.questions, key=lambda q: q.position)
        index = ordered.index(question)
        other_index = index - 1 if direction == "up" else index + 1
        if 0 <= other_index < len(ordered):
            other = ordered[other_index]
            mine, theirs = question.position, other.position
            # (activity, position) is unique: park one question out of the way first.
            question.position = -1 - max(abs(mine), abs(theirs))
            db.session.flush()
            other.position = mine
            db.session.flush()
            question.position = theirs
            log_action(actor.id, "question.move", question, activity_id=activity.id, direction=direction)
    return question


def delete_question(actor: User, activity_id: int, question_id: int) -> None:
    """Delete a question nobody has answered (answers would otherwise be thrown away)."""
    with write_transaction():
        activity = _lock_activity(activity_id)
        _ensure_changeable(activity)
        question = _question_of(activity, question_id)
        if question.id in answered_question_ids(activity.id):
            raise Conflict(_l("People have already answered this question. Deleting it would throw their "
                              "answers away, so it cannot be deleted; you can make it optional instead."))
        activity.questions.remove(question)
        db.session.flush()
        for position, remaining in enumerate(sorted(activity.questions, key=lambda q: q.position)):
            if remaining.position != position:
                remaining.position = position
                db.session.flush()  # one at a time: positions are unique per activity
        log_action(actor.id, "question.delete", activity, question_id=question_id)
