"""Awards: tiers and their quotas, allocation from the final ranking, awards by hand, publication,
and what an entrant (or the public) may see of them."""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import selectinload

from ...accounts.models import User
from ...core.audit import log_action
from ...core.db import write_transaction
from ...core.errors import Conflict, NotFound, ValidationFailed
from ...core.timeutil import now
from ...core.quoting import quotable
from ...extensions import db
from ...notifications.results import notify_results_published
from .. import rules
from ..certificates import new_code
from ..models import Award, AwardTier, Contest, Entry, Round, RoundEntry, RoundStatus
from .contest import _contest_for_change, _merge, get_entry_of_contest, is_contest_organiser
from .ranking import final_ranking


TIER_NAME_MAX = 40
MAX_QUOTA = 10_000
MSG_ANONYMOUS = _l("Anonymous")


class QuotaFull(Conflict):
    code = "quota_full"
    default_message = _l("This award tier has no places left.")


@dataclass
class PublishedAward:
    tier_name: str
    entry: Entry
    display_name: str
    union_name: str | None


# --------------------------------------------------------------------------- awards

def _tier_errors(name: str, quota, min_score=None) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if min_score is not None and (isinstance(min_score, bool) or not isinstance(min_score, (int, float))
                                  or not 0 <= min_score <= rules.SCORE_SCALE):
        _merge(errors, "min_score", _l("Please enter a minimum score from 0 to %(n)d, or leave it empty.",
                                       n=rules.SCORE_SCALE))
    if not name or len(name) > TIER_NAME_MAX:
        _merge(errors, "name", _l("Please give the award a name of at most %(n)d characters.",
                                  n=TIER_NAME_MAX))
    if not isinstance(quota, int) or isinstance(quota, bool) or not 0 <= quota <= MAX_QUOTA:
        _merge(errors, "quota", _l("Please enter a number of awards from 0 to %(n)d.", n=MAX_QUOTA))
    return errors


def _refuse_after_publication(contest: Contest) -> None:
    if contest.results_published:
        raise Conflict(_l("The results are published. Withdraw the publication before changing awards."))


def save_tier(actor: User, contest_id: int, tier_id: int | None, name: str, quota,
              min_score: float | None = None) -> AwardTier:
    """Add an award tier or rename it / change its quota (never below the awards it already holds)
    and its minimum score (None: none)."""
    contest = _contest_for_change(contest_id)
    _refuse_after_publication(contest)
    name = (name or "").strip()
    errors = _tier_errors(name, quota, min_score)
    if errors:
        raise ValidationFailed(errors)
    with write_transaction():
        if tier_id is None:
            position = max((t.position for t in contest.tiers), default=-1) + 1
            tier = AwardTier(contest_id=contest.id, position=position, name=name, quota=quota,
                             min_score=min_score)
            db.session.add(tier)
            db.session.flush()
        else:
            tier = db.session.get(AwardTier, tier_id)
            if tier is None or tier.contest_id != contest.id:
                raise NotFound()
            changed = db.session.execute(update(AwardTier).where(AwardTier.id == tier.id,
                                                                 AwardTier.awarded <= quota)
                                         .values(name=name, quota=quota, min_score=min_score)).rowcount
            if not changed:
                raise ValidationFailed({"quota": [str(_l(
                    "%(n)d entries already hold this award; remove some before lowering the quota.",
                    n=tier.awarded))]})
        log_action(actor.id, "contest.tier.save", tier, contest_id=contest.id, quota=quota, min_score=min_score)
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
    allocation = rules.allocate_awards(ranked, [rules.TierSpec(t.id, t.quota, t.min_score) for t in contest.tiers],
                                       entries=_entry_count(contest))
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
                                   tier=quotable(tier.name), n=tier.quota))
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


def _entry_count(contest: Contest) -> int:
    return db.session.scalar(select(func.count(Entry.id)).where(Entry.contest_id == contest.id))


@dataclass
class SummaryTier:
    tier: AwardTier
    cap: int
    winners: list[PublishedAward]


@dataclass
class PublishSummary:
    """What the organiser checks before publishing: entries, rounds, tiers and who gets what."""

    contest: Contest
    entries: int
    rounds: list[Round]
    tiers: list[SummaryTier]
    refusal: str | None

    @property
    def awarded(self) -> int:
        return sum(len(t.winners) for t in self.tiers)


_REFUSALS = {
    rules.ROUND_OPEN: _l("A round is still being judged. Close it before publishing the results."),
    rules.NO_AWARDS: _l("There are no awards to publish yet."),
}


def publish_summary(contest: Contest) -> PublishSummary:
    held = awards(contest)
    open_rounds = sum(1 for r in contest.rounds if r.status == RoundStatus.OPEN)
    refusal = rules.publish_refusal(open_rounds, len(held))
    caps = rules.tier_caps([t.quota for t in contest.tiers], _entry_count(contest))
    by_tier: dict[int, list[PublishedAward]] = {}
    for award in held:
        by_tier.setdefault(award.tier_id, []).append(_published(award))
    return PublishSummary(contest=contest, entries=_entry_count(contest), rounds=list(contest.rounds),
                          tiers=[SummaryTier(t, cap, by_tier.get(t.id, [])) for t, cap in zip(contest.tiers, caps)],
                          refusal=str(_REFUSALS[refusal]) if refusal else None)


def publish_results(actor: User, contest_id: int) -> Contest:
    """Publish the awards (the organiser has confirmed the summary); refused while a round is open."""
    contest = _contest_for_change(contest_id)
    with write_transaction():
        open_rounds = db.session.scalar(select(func.count(Round.id)).where(Round.contest_id == contest.id,
                                                                          Round.status == RoundStatus.OPEN))
        held = db.session.scalar(select(func.count(Award.id)).where(Award.contest_id == contest.id))
        refusal = rules.publish_refusal(open_rounds, held)
        if refusal:
            raise Conflict(_REFUSALS[refusal])
        contest.results_published_at = now()
        for award in db.session.scalars(select(Award).where(Award.contest_id == contest.id,
                                                            Award.verify_code.is_(None))):
            award.verify_code = new_code()  # printed on the certificate; opens the public check page
        log_action(actor.id, "contest.results.publish", contest, awards=held)
        notify_results_published(contest.id)
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
    return [_published(award) for award in awards(contest)]


def _published(award: Award) -> PublishedAward:
    entry = award.entry
    consented = entry.consent_publish_name
    union = entry.user.union.name if consented and entry.user.union else None
    return PublishedAward(tier_name=award.tier.name, entry=entry, display_name=display_name(entry),
                          union_name=union)


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
