"""The jury's deliberation workbook (XLSX)."""
from __future__ import annotations

import io

from flask_babel import gettext as _
from sqlalchemy import select

from ...extensions import db
from ..models import Contest, Score
from .awards import awards
from .entries import contest_entries
from .judging import judges
from .ranking import final_ranking
from .voting import vote_counts


# --------------------------------------------------------------------------- export

def export_scores(contest: Contest) -> bytes:
    """An XLSX workbook for the jury's deliberation: every score, the public vote and the combined rank.

    Entrants appear by code and title only (the deliberation stays blind)."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = _("Ranking")[:31]
    round_, ranked, scores = final_ranking(contest)
    entries = {e.id: e for e in contest_entries(contest)}
    award_of = {a.entry_id: a.tier.name for a in awards(contest)}
    sheet.append([_("Rank"), _("Code"), _("Title"), _("Jury score (0–100)"), _("Mean z-score"),
                  _("Public votes"), _("Public score (0–100)"), _("Final score"), _("Award")])
    for item in ranked:
        s = scores[item.entry_id]
        entry = entries[item.entry_id]
        sheet.append([item.rank, entry.code, _safe(entry.title), _round(s.jury), _round(s.z, 3), s.votes,
                      _round(s.public), _round(s.final), award_of.get(item.entry_id, "")])

    detail = book.create_sheet(_("Scores")[:31])
    detail.append([_("Round"), _("Code"), _("Title"), _("Judge"), _("Criterion"), _("Weight"), _("Top score"),
                   _("Score")])
    criteria = {c.id: c for c in contest.criteria}
    judge_names = {j.user_id: j.user.name for j in judges(contest)}
    for round_row in contest.rounds:
        rows = db.session.execute(select(Score).where(Score.round_id == round_row.id)
                                  .order_by(Score.entry_id, Score.judge_id, Score.criterion_id)).scalars()
        for score in rows:
            entry, criterion = entries.get(score.entry_id), criteria.get(score.criterion_id)
            if entry is None or criterion is None:
                continue
            detail.append([round_row.name, entry.code, _safe(entry.title),
                           _safe(judge_names.get(score.judge_id, str(score.judge_id))), criterion.name,
                           criterion.weight, criterion.max_score, score.value])

    votes_sheet = book.create_sheet(_("Public vote")[:31])
    votes_sheet.append([_("Code"), _("Title"), _("Votes")])
    counts = vote_counts(contest)
    for entry in sorted(entries.values(), key=lambda e: e.code):
        votes_sheet.append([entry.code, _safe(entry.title), counts.get(entry.id, 0)])
    for ws in (sheet, detail, votes_sheet):
        ws.freeze_panes = "A2"
        for index in range(1, ws.max_column + 1):
            ws.column_dimensions[get_column_letter(index)].width = 16
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _round(value: float | None, digits: int = 2):
    return None if value is None else round(value, digits)


def _safe(text: str | None) -> str:
    """Cell text that spreadsheet programs never evaluate as a formula."""
    text = text or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
