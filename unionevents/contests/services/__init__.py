"""Contest use cases: the only code that changes contest state.

Every service checks its rules, writes the audit log (ids only) and commits.  Views load and
authorise, then call exactly one of these.  The package is split by what a contest goes through:

- ``contest``  loading a contest, its round or entry; its settings and default criteria/rounds/tiers
- ``entries``  submitting, changing, withdrawing an entry (photos, consent to publish the name),
               who may see a photo, and the erasure hook for an entrant's account
- ``judging``  rounds (add, open, close), scoring criteria, the judges' panel, blind scoring
- ``voting``   the public vote
- ``ranking``  a round's results, advancing entries to the next round, the final ranking
- ``awards``   award tiers and their quotas, allocation, awards by hand, publication, certificates
- ``export``   the jury's deliberation workbook
- ``performance`` a performance's performers (name, mobile, limits) and its recording
- ``progress`` the entrant's strip (已报名 · 作品已提交 · 初赛 · 决赛 · 获奖) and the sign-up's next step

Callers import from here (``contests.services.X``); the names below are the package's public face.
"""
from __future__ import annotations

from .contest import (
    DEFAULT_PERFORMANCE_ENTRY_LIMIT, DEFAULT_PHOTO_ENTRY_LIMIT, MAX_ENTRY_LIMIT, PERFORMANCE_CRITERIA,
    PERFORMANCE_ROUNDS, PERFORMANCE_TIER_NAMES, PERFORMANCE_TIER_QUOTAS, PHOTO_CRITERIA, PHOTO_ROUNDS,
    PHOTO_TIER_NAMES, PHOTO_TIER_QUOTAS, ContestSettings, DefaultNames, contest_for_activity, get_contest,
    get_entry_of_contest, get_own_entry, get_round, is_contest_organiser, judge_of, setup_contest,
)
from .entries import (
    CODE_PREFIX, DEFAULT_MAX_IMAGES, DESCRIPTION_MAX, ERASED_TITLE, MEMBERS_MAX, NAME_MAX, TITLE_MAX,
    EntriesLocked, EntryData, EntryLimitReached, Upload, all_my_entries, can_view_image, contest_entries,
    entries_locked, has_signed_up, image_for, judging_started, recording_for, my_entries, submit_entry, update_entry,
    withdraw_entry,
)
from .judging import (
    CRITERION_NAME_MAX, MAX_CRITERION_SCORE, MAX_CRITERION_WEIGHT, ROUND_NAME_MAX, BlindEntry, JudgeRound,
    RoundClosed, SubmissionsStillOpen, add_criterion, add_judge, add_round, assign_entries, blind_entries, close_round, delete_criterion,
    delete_round, judge_round_for, judge_rounds, judges, next_round, open_round, previous_round,
    remove_judge, save_scores, score_sheet,
)
from .voting import AlreadyVoted, VoteClosed, cast_vote, my_vote_today, vote_counts, vote_entries
from .ranking import (
    MAX_ADVANCE, MSG_THRESHOLD, JudgeProgress, ResultRow, RoundResults, TieAtCut, advance, final_ranking,
    preview_cut, ranking_round, round_entry_ids, round_results, round_scores,
)
from .awards import (
    MAX_QUOTA, MSG_ANONYMOUS, TIER_NAME_MAX, Outcome, PublishedAward, PublishSummary, QuotaFull, allocate, awards,
    certificate_for, delete_tier, display_name, entry_outcome, publish_results, published_awards,
    publish_summary, save_tier, set_award, unpublish_results,
)
from .export import export_scores
from .performance import performers_text
from .progress import Progress, contest_followup, entries_progress, entry_progress, needs_entry, registration_progress

# The type of ContestSettings.format, for callers that build settings (e.g. tests/test_permission_matrix.py).
from ..models import ContestFormat
