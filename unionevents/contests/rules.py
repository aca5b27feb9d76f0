"""Pure contest calculations: scores, normalisation, ranking, advancement and award allocation.

No database and no Flask here; the services feed plain values in and store what comes out.

Scores: a judge's total for an entry is the weighted mean of their criterion scores, each scaled to
0–100 by the criterion's maximum.  The jury score of an entry is the mean of its judges' totals.
Because judges differ in strictness (and may score different subsets of entries), each judge's
totals are also turned into z-scores (their own mean 0, standard deviation 1); the mean z of an
entry is shown, and when the organiser chooses normalised ranking it becomes a T-score
(50 + 10·z, clipped to 0–100) so it can still be combined with the public vote.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from statistics import mean, pstdev
from typing import Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
#: Scores are compared at this many decimals, so 0.1 + 0.2 ties with 0.3.
SCORE_DECIMALS = 6
#: Default award tiers of a photo contest (the seed page: 特等奖 5, 一等奖 15, 二等奖 25, 三等奖 35, 优秀奖 40).
PHOTO_TIERS = (("特等奖", 5), ("一等奖", 15), ("二等奖", 25), ("三等奖", 35), ("优秀奖", 40))
#: Jury, public and final scores run from 0 to this.
SCORE_SCALE = 100
#: The jury's and the public's weights are percentages of the final score: they add up to this
#: (the ``contest`` table checks it too).
WEIGHT_TOTAL = 100
DEFAULT_JURY_WEIGHT = 60
DEFAULT_PUBLIC_WEIGHT = WEIGHT_TOTAL - DEFAULT_JURY_WEIGHT


@dataclass(frozen=True)
class CriterionSpec:
    id: int
    weight: int
    max_score: int


@dataclass(frozen=True)
class EntryScore:
    """An entry's aggregate in one round."""

    entry_id: int
    jury: float | None            # mean of judges' totals, 0–100
    z: float | None               # mean of judges' z-scores
    judges: int                   # judges with a complete score sheet
    votes: int = 0
    public: float | None = None   # votes scaled to 0–100 by the most-voted entry
    final: float | None = None    # what ranks the entry


@dataclass(frozen=True)
class Ranked:
    entry_id: int
    score: float
    rank: int  # competition ranking: 1, 2, 2, 4


@dataclass
class Cut:
    """Who advances: ``sure`` always; ``slots`` more must be picked by hand from ``tied``."""

    sure: list[int]
    tied: list[int] = field(default_factory=list)
    slots: int = 0
    cut_score: float | None = None

    @property
    def needs_decision(self) -> bool:
        return bool(self.tied) and self.slots > 0


@dataclass(frozen=True)
class TierSpec:
    """An award tier: at most ``quota`` entries, each with a final score of at least ``min_score``."""

    id: int
    quota: int
    min_score: float | None = None


@dataclass(frozen=True)
class TieAtCut:
    """Entries with equal scores that did not all fit in ``tier_id``'s ``free`` remaining places."""

    tier_id: int
    entry_ids: tuple[int, ...]
    free: int


@dataclass
class Allocation:
    awards: list[tuple[int, int, int]]  # (entry_id, tier_id, rank)
    ties: list[TieAtCut]

    def counts(self) -> dict[int, int]:
        result: dict[int, int] = {}
        for _entry, tier, _rank in self.awards:
            result[tier] = result.get(tier, 0) + 1
        return result


# --------------------------------------------------------------------------- single scores

def score_error(value, max_score: int) -> str | None:
    """None when ``value`` is a valid score for a 0–``max_score`` criterion, else a reason code."""
    if value is None or isinstance(value, bool):
        return "missing"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "not_number"
    if not math.isfinite(number):
        return "not_number"
    if number < 0 or number > max_score:
        return "out_of_range"
    if round(number, 1) != number:
        return "too_precise"
    return None


def weighted_total(values: Mapping[int, float], criteria: Sequence[CriterionSpec]) -> float | None:
    """A judge's total for one entry (0–100), or None while any criterion is unscored."""
    if not criteria or any(c.id not in values for c in criteria):
        return None
    weights = sum(c.weight for c in criteria)
    if weights <= 0:
        return None
    return sum(c.weight * (float(values[c.id]) / c.max_score) * SCORE_SCALE for c in criteria) / weights


def judge_totals(scores: Iterable[tuple[int, int, int, float]],
                 criteria: Sequence[CriterionSpec]) -> dict[int, dict[int, float]]:
    """{judge: {entry: total}} from (judge_id, entry_id, criterion_id, value) rows.

    Incomplete score sheets are left out."""
    sheets: dict[tuple[int, int], dict[int, float]] = {}
    for judge_id, entry_id, criterion_id, value in scores:
        sheets.setdefault((judge_id, entry_id), {})[criterion_id] = value
    totals: dict[int, dict[int, float]] = {}
    for (judge_id, entry_id), values in sheets.items():
        total = weighted_total(values, criteria)
        if total is not None:
            totals.setdefault(judge_id, {})[entry_id] = total
    return totals


def z_scores(totals: Mapping[int, Mapping[int, float]]) -> dict[int, dict[int, float]]:
    """Each judge's totals as z-scores over the entries that judge scored (σ = 0 gives 0)."""
    result: dict[int, dict[int, float]] = {}
    for judge_id, by_entry in totals.items():
        values = list(by_entry.values())
        mu = mean(values)
        sigma = pstdev(values) if len(values) > 1 else 0.0
        result[judge_id] = {e: ((t - mu) / sigma if sigma > 0 else 0.0) for e, t in by_entry.items()}
    return result


def t_score(z: float) -> float:
    """A z-score on a 0–100 scale (T-score 50 + 10·z, clipped)."""
    return min(float(SCORE_SCALE), max(0.0, 50.0 + 10.0 * z))


def public_scores(votes: Mapping[int, int]) -> dict[int, float]:
    """Votes scaled to 0–100 by the most-voted entry (all 0 when nobody voted)."""
    top = max(votes.values(), default=0)
    return {e: (float(SCORE_SCALE) * n / top if top else 0.0) for e, n in votes.items()}


def combine(jury: float | None, public: float | None, jury_weight: int, public_weight: int) -> float | None:
    """Jury and public scores weighted (weights in percent); None without a jury score."""
    if jury is None:
        return None
    total = jury_weight + public_weight
    if total <= 0:
        return jury
    return (jury * jury_weight + (public or 0.0) * public_weight) / total


def aggregate(entry_ids: Iterable[int], totals: Mapping[int, Mapping[int, float]], *,
              votes: Mapping[int, int] | None = None, jury_weight: int = DEFAULT_JURY_WEIGHT,
              public_weight: int = DEFAULT_PUBLIC_WEIGHT, normalise: bool = False) -> dict[int, EntryScore]:
    """Every entry's jury mean, mean z, public score and final score."""
    zs = z_scores(totals)
    per_entry: dict[int, list[float]] = {}
    per_entry_z: dict[int, list[float]] = {}
    for judge_id, by_entry in totals.items():
        for entry_id, total in by_entry.items():
            per_entry.setdefault(entry_id, []).append(total)
            per_entry_z.setdefault(entry_id, []).append(zs[judge_id][entry_id])
    ids = list(entry_ids)
    public = public_scores({e: (votes or {}).get(e, 0) for e in ids}) if votes is not None else {}
    result = {}
    for entry_id in ids:
        marks = per_entry.get(entry_id, [])
        jury = mean(marks) if marks else None
        z = mean(per_entry_z[entry_id]) if marks else None
        basis = t_score(z) if (normalise and z is not None) else jury
        if votes is not None:
            final = combine(basis, public.get(entry_id), jury_weight, public_weight)
        else:
            final = basis
        result[entry_id] = EntryScore(entry_id=entry_id, jury=jury, z=z, judges=len(marks),
                                      votes=(votes or {}).get(entry_id, 0),
                                      public=public.get(entry_id) if votes is not None else None,
                                      final=final)
    return result


# --------------------------------------------------------------------------- ranking and cuts

def _key(score: float) -> float:
    return round(score, SCORE_DECIMALS)


def rank(scores: Mapping[int, float | None]) -> list[Ranked]:
    """Entries with a score, best first (ties in entry-id order), with competition ranks."""
    scored = sorted(((e, s) for e, s in scores.items() if s is not None),
                    key=lambda item: (-_key(item[1]), item[0]))
    result: list[Ranked] = []
    for index, (entry_id, score) in enumerate(scored):
        if result and _key(result[-1].score) == _key(score):
            position = result[-1].rank
        else:
            position = index + 1
        result.append(Ranked(entry_id, score, position))
    return result


def _groups(ranked: Sequence[Ranked]) -> list[list[Ranked]]:
    groups: list[list[Ranked]] = []
    for item in ranked:
        if groups and _key(groups[-1][0].score) == _key(item.score):
            groups[-1].append(item)
        else:
            groups.append([item])
    return groups


def select_advancing(ranked: Sequence[Ranked], *, top_n: int | None = None,
                     threshold: float | None = None) -> Cut:
    """The entries going to the next round: the best ``top_n`` or all scoring at least ``threshold``.

    A tie straddling the top-N cut is never broken silently: the entries above it are ``sure``
    and ``slots`` more must be chosen from ``tied`` by the organiser.
    """
    if (top_n is None) == (threshold is None):
        raise ValueError("give exactly one of top_n and threshold")
    if threshold is not None:
        return Cut(sure=[r.entry_id for r in ranked if _key(r.score) >= _key(threshold)], cut_score=threshold)
    if top_n <= 0:
        return Cut(sure=[])
    sure: list[int] = []
    for group in _groups(ranked):
        left = top_n - len(sure)
        if left <= 0:
            break
        if len(group) <= left:
            sure.extend(r.entry_id for r in group)
        else:
            return Cut(sure=sure, tied=[r.entry_id for r in group], slots=left, cut_score=group[0].score)
    return Cut(sure=sure, cut_score=ranked[len(sure) - 1].score if sure else None)


def tier_caps(quotas: Sequence[int], entries: int | None) -> list[int]:
    """The most awards each tier may give in a contest of ``entries`` entries.

    Quotas are maxima.  When the contest has at least as many entries as award places, each tier may
    give its full quota (the 383-entry photo contest: 5/15/25/35/40).  With fewer entries the places
    shrink in proportion, rounded up, so 4 entries get at most one 特等奖 rather than four; a
    ``None`` entry count leaves the quotas as they are.
    """
    quotas = [max(q, 0) for q in quotas]
    places = sum(quotas)
    if entries is None or places == 0 or entries >= places:
        return quotas
    entries = max(entries, 0)
    return [min(q, -(-q * entries // places)) for q in quotas]


def allocate_awards(ranked_entries: Sequence[Ranked], tiers: Sequence[TierSpec],
                    entries: int | None = None) -> Allocation:
    """Award tiers by rank, best tier first, never beyond a tier's cap (see ``tier_caps``) and never
    to an entry below the tier's minimum score.

    Entries with equal scores get the same tier: a group of tied entries that does not fit in
    the places a tier has left goes down to the next tier as a whole (the tier stays short and the
    tie is reported, so the organiser can award a free place by hand).  An entry below a tier's
    minimum score goes down to the next tier whose minimum it reaches.  Entries that fit in no tier
    get no award.
    """
    groups = _groups(ranked_entries)
    caps = tier_caps([t.quota for t in tiers], entries)
    awards: list[tuple[int, int, int]] = []
    ties: list[TieAtCut] = []
    index = 0
    for tier, cap in zip(tiers, caps):
        left = cap
        while index < len(groups) and len(groups[index]) <= left and _reaches(groups[index][0], tier):
            for item in groups[index]:
                awards.append((item.entry_id, tier.id, item.rank))
            left -= len(groups[index])
            index += 1
        if index < len(groups) and left > 0 and _reaches(groups[index][0], tier):
            ties.append(TieAtCut(tier.id, tuple(r.entry_id for r in groups[index]), left))
    return Allocation(awards=awards, ties=ties)


def _reaches(item: Ranked, tier: TierSpec) -> bool:
    return tier.min_score is None or _key(item.score) >= _key(tier.min_score)


# --------------------------------------------------------------------------- the timeline's guards

#: Why a round may not open / results may not be published (services turn these into messages).
SUBMISSIONS_OPEN = "submissions_open"
REASON_MAX = 200


def open_round_refusal(first_round: bool, at: datetime, deadline: datetime,
                       override_reason: str | None) -> str | None:
    """None when a round may open now.  The first round takes every entry, so it waits until
    submissions close, unless the organiser closes them early with a reason."""
    if not first_round or at >= deadline:
        return None
    if (override_reason or "").strip():
        return None
    return SUBMISSIONS_OPEN


ROUND_OPEN = "round_open"
NO_AWARDS = "no_awards"


def publish_refusal(open_rounds: int, awards: int) -> str | None:
    """None when results may be published: no round is still being judged and some entry holds an award."""
    if open_rounds:
        return ROUND_OPEN
    if not awards:
        return NO_AWARDS
    return None


# --------------------------------------------------------------------------- time

def vote_day(at_utc: datetime) -> date:
    """The Beijing calendar day of a naive-UTC time (votes are counted per local day)."""
    return at_utc.replace(tzinfo=timezone.utc).astimezone(LOCAL_TZ).date()


def local_text(at_utc: datetime) -> str:
    """A naive-UTC time as Beijing wall-clock text for messages."""
    return at_utc.replace(tzinfo=timezone.utc).astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


def entry_code(prefix: str, number: int) -> str:
    return f"{prefix}{number:04d}"


# --------------------------------------------------------------------------- performance entries

#: Performers listed on a performance entry, by category: (fewest, most).  A soloist lists nobody
#: (the team leader field names them); a small group (组合唱) is 2–10 singers; a choir (合唱) 10–80.
#: The one source for the service, the form's help text and the docs.
MEMBER_LIMITS = {"solo": (0, 0), "group": (2, 10), "choir": (10, 80)}
#: A performer's name, at most this many characters.
MEMBER_NAME_MAX = 40

TOO_FEW = "too_few"
TOO_MANY = "too_many"
NO_MEMBERS = "no_members"


def member_count_problem(category: str, count: int) -> tuple[str, int] | None:
    """``(TOO_FEW, fewest)``, ``(TOO_MANY, most)``, ``(NO_MEMBERS, 0)`` for a solo with members, or None."""
    fewest, most = MEMBER_LIMITS[category]
    if most == 0:
        return (NO_MEMBERS, 0) if count else None
    if count < fewest:
        return TOO_FEW, fewest
    if count > most:
        return TOO_MANY, most
    return None


_MEMBER_SEPARATORS = re.compile(r"[\s,，、;；:：]+")
_MEMBER_MOBILE = re.compile(r"(?:^|[\s,，、;；:：])(\+?[\d\-()]*\d[\d\-()]*)\s*$")


def split_member_lines(text: str) -> list[tuple[int, str, str]]:
    """``(line number, name, mobile as typed)`` for each non-empty line of "name mobile".

    The mobile is the line's last word (digits, ``+``, ``-``; spaces and Chinese or ASCII commas
    separate it from the name), so "张三 13800001111", "张三，138-0000-1111" and "欧阳 小雨 13800001111"
    all read.  A line without one gives an empty mobile (the service says which line)."""
    rows = []
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        match = _MEMBER_MOBILE.search(line)
        if match:
            name, mobile = line[:match.start(1)], match.group(1)
        else:
            name, mobile = line, ""
        rows.append((number, _MEMBER_SEPARATORS.sub(" ", name).strip(), mobile.strip()))
    return rows


# --------------------------------------------------------------------------- an entrant's progress

#: The strip's steps in order (``models.EntryStage`` values; the titles live there).
STAGES = ("signed_up", "submitted", "preliminary", "final", "awarded")


def entry_stage(*, holds_place: bool, submitted: bool, round_positions: Iterable[int], awarded: bool) -> int:
    """How far along the strip an entrant is: the index into ``STAGES`` of the last step reached, or -1.

    ``round_positions``: the positions (0 = preliminary, 1 = final, 2 = award show) of the rounds the
    entry takes part in (opened, or advanced into).  A published award is the last step whatever the
    rounds say; an entry in the award show has been through the final."""
    if awarded and submitted:
        return STAGES.index("awarded")
    if not submitted:
        return 0 if holds_place else -1
    reached = max(round_positions, default=-1)
    if reached >= 1:
        return STAGES.index("final")
    if reached == 0:
        return STAGES.index("preliminary")
    return STAGES.index("submitted")
