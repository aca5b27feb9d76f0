"""Judging: rounds (add, open, close), scoring criteria, the panel of judges, and blind scoring."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ...accounts.models import Role, User
from ...accounts.services import find_by_mobile, grant_role
from ...core.audit import log_action
from ...core.db import write_transaction
from ...core.errors import Conflict, NotFound, ValidationFailed
from ...core.permissions import has_role
from ...core.timeutil import now
from ...core.quoting import quotable
from ...extensions import db
from .. import rules
from ..models import (
    Contest, ContestJudge, Criterion, Entry, JudgeEntry, PerformanceCategory, Round, RoundEntry,
    RoundStatus, Score,
)
from .contest import _contest_for_change, _merge, get_round, judge_of


ROUND_NAME_MAX = 60
CRITERION_NAME_MAX = 60
MAX_CRITERION_SCORE = 1000
MAX_CRITERION_WEIGHT = 100


class RoundClosed(Conflict):
    code = "round_closed"
    default_message = _l("This round is not open for scoring.")


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
    #: The recording's checked type (``audio/...`` or ``video/...``) when there is one, else None.
    media_type: str | None = None


@dataclass
class JudgeRound:
    round: Round
    contest: Contest
    scored: int
    total: int


# --------------------------------------------------------------------------- rounds, criteria, judges

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


class SubmissionsStillOpen(Conflict):
    code = "submissions_open"
    default_message = _l("Submissions are still open.")


def open_round(actor: User, contest_id: int, round_id: int, override_reason: str | None = None) -> Round:
    """Start a round: the first takes every entry; later ones take the entries advanced into them.

    The first round waits until submissions close; ``override_reason`` closes them early (the
    reason is kept on the contest and audited, and the contest page shows the real close)."""
    contest = _contest_for_change(contest_id)
    round_ = get_round(contest, round_id)
    if round_.status != RoundStatus.SETUP:
        raise Conflict(_l("This round has already started."))
    reason = (override_reason or "").strip()
    if len(reason) > rules.REASON_MAX:
        raise ValidationFailed({"reason": [str(_l("Please keep the reason to %(n)d characters.",
                                                  n=rules.REASON_MAX))]})
    at = now()
    before = previous_round(round_)
    if rules.open_round_refusal(before is None, at, contest.entry_deadline, reason):
        raise SubmissionsStillOpen(_l(
            "Submissions are open until %(when)s. Wait until then, or close them early and give a reason.",
            when=rules.local_text(contest.entry_deadline)))
    early = before is None and at < contest.entry_deadline
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
        if early:
            contest.submissions_closed_at = at
            contest.early_close_reason = reason
            log_action(actor.id, "contest.submissions.close_early", contest, reason=reason,
                       deadline=contest.activity.signup_closes_at.isoformat())
        round_.status = RoundStatus.OPEN
        round_.opened_at = at
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
    if not isinstance(weight, int) or isinstance(weight, bool) or not 1 <= weight <= MAX_CRITERION_WEIGHT:
        _merge(errors, "weight", _l("Please enter a weight from 1 to %(max)d.", max=MAX_CRITERION_WEIGHT))
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
                      category=entry.category, image_ids=[image.id for image in entry.images], scored=scored,
                      media_type=entry.media_type if entry.media_name else None)


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
        return _l("Please give a score for “%(name)s”.", name=quotable(criterion.name))
    if code == "not_number":
        return _l("Please enter a number from 0 to %(max)d.", max=criterion.max_score)
    if code == "out_of_range":
        return _l("The score for “%(name)s” must be between 0 and %(max)d.", name=quotable(criterion.name),
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
