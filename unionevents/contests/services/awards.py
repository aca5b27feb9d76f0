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
from ...extensions import db
from ...notifications.results import notify_results_published
from .. import rules
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
