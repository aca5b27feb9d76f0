"""Results of a round, advancing the best entries to the next one, and the final ranking awards
follow."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select

from ...accounts.models import User
from ...core.audit import log_action
from ...core.db import write_transaction
from ...core.errors import Conflict, ValidationFailed
from ...extensions import db
from .. import rules
from ..models import Contest, Entry, Round, RoundEntry, RoundStatus, Score
from .contest import _contest_for_change, _merge, get_round
from .judging import _complete_sheets, _judge_entry_ids, judges, next_round
from .voting import vote_counts

#: Most entries one "best N" advancement may name (more than any contest holds).
MAX_ADVANCE = 100_000
MSG_THRESHOLD = _l("Please enter a score from 0 to %(max)d.", max=rules.SCORE_SCALE)


class TieAtCut(Conflict):
    code = "tie_at_cut"
    default_message = _l("Entries are tied at the cut: please choose which of them advance.")

    def __init__(self, cut: rules.Cut, message=None):
        super().__init__(message)
        self.cut = cut


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


# --------------------------------------------------------------------------- results and advancement

def _criteria_specs(contest: Contest) -> list[rules.CriterionSpec]:
    return [rules.CriterionSpec(c.id, c.weight, c.max_score) for c in contest.criteria]


def round_entry_ids(round_: Round) -> list[int]:
    return list(db.session.scalars(select(RoundEntry.entry_id).where(RoundEntry.round_id == round_.id)))


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
    if top_n is not None and (not isinstance(top_n, int) or not 1 <= top_n <= MAX_ADVANCE):
        _merge(errors, "top_n", _l("Please enter a whole number from 1 to %(max)d.", max=MAX_ADVANCE))
    if threshold is not None and not (0 <= threshold <= rules.SCORE_SCALE):
        _merge(errors, "threshold", MSG_THRESHOLD)
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
