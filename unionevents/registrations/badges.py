"""Name badges as a printable PDF: A4, 8 badges a page (2 × 4), cut lines between them.

Drawn with reportlab's built-in CJK CID font ``STSong-Light``: the PDF names the font and the viewer
supplies the glyphs, so no font file ships with the app (shared/docs/pitfalls.md).
"""
from __future__ import annotations

import io
from typing import Sequence

from flask_babel import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from .services.seating import BadgeRow

FONT = "STSong-Light"
COLUMNS, ROWS = 2, 4
PER_PAGE = COLUMNS * ROWS
MARGIN = 10 * mm


def _font() -> str:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def _fit(text: str, size: float, width: float, font: str, smallest: float = 8) -> float:
    """The largest size up to ``size`` at which ``text`` fits ``width``."""
    while size > smallest and pdfmetrics.stringWidth(text, font, size) > width:
        size -= 1
    return size


def _clip(text: str, size: float, width: float, font: str) -> str:
    while text and pdfmetrics.stringWidth(text, font, size) > width:
        text = text[:-1]
    return text


def badges_pdf(title: str, organiser: str, badges: Sequence[BadgeRow]) -> bytes:
    """The PDF bytes: one badge per delegate (an empty page when there is nobody yet)."""
    font = _font()
    buffer = io.BytesIO()
    page_w, page_h = A4
    pdf = canvas.Canvas(buffer, pagesize=A4, pageCompression=1)
    pdf.setTitle(_("%(title)s · name badges", title=title))
    pdf.setAuthor(organiser)
    cell_w = (page_w - 2 * MARGIN) / COLUMNS
    cell_h = (page_h - 2 * MARGIN) / ROWS
    if not badges:
        pdf.setFont(font, 14)
        pdf.drawString(MARGIN, page_h - MARGIN - 14, _("Nobody has a place yet."))
    for index, badge in enumerate(badges):
        if index and index % PER_PAGE == 0:
            pdf.showPage()
        slot = index % PER_PAGE
        x = MARGIN + (slot % COLUMNS) * cell_w
        y = page_h - MARGIN - (slot // COLUMNS + 1) * cell_h
        _badge(pdf, font, x, y, cell_w, cell_h, title, badge)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _badge(pdf, font: str, x: float, y: float, w: float, h: float, title: str, badge: BadgeRow) -> None:
    inner = w - 12 * mm
    pdf.setDash(3, 3)
    pdf.setLineWidth(0.5)
    pdf.rect(x, y, w, h)  # the cut line
    pdf.setDash()
    centre = x + w / 2
    pdf.setFont(font, 10)
    pdf.drawCentredString(centre, y + h - 12 * mm, _clip(title, 10, inner, font))
    name_size = _fit(badge.name, 30, inner, font)
    pdf.setFont(font, name_size)
    pdf.drawCentredString(centre, y + h / 2, _clip(badge.name, name_size, inner, font))
    unit_size = _fit(badge.unit, 13, inner, font)
    pdf.setFont(font, unit_size)
    pdf.drawCentredString(centre, y + h / 2 - 12 * mm, _clip(badge.unit, unit_size, inner, font))
    if badge.seat is not None:
        pdf.setFont(font, 12)
        pdf.drawCentredString(centre, y + 8 * mm, _("Row %(row)d, seat %(seat)d",
                                                    row=badge.seat.row, seat=badge.seat.seat))
