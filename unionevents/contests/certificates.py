"""Award certificates as files people keep: a printable A4 PDF and a PNG for phones.

Library choice (docs/design-decisions.md): the PDF is drawn with reportlab and its built-in CJK CID
font STSong-Light, which needs no font file (the PDF viewer supplies the glyphs); the PNG is drawn
with Pillow and Debian's ``fonts-wqy-microhei`` (the font the browser tests already need), and a
missing font is refused with a message naming the package.  Both carry the union, the contest, the
tier, the date and a verification code with a QR code that opens the public check page
(``/certificates/<code>``), where the winner's name is masked.
"""
from __future__ import annotations

import io
import os
import secrets
from dataclasses import dataclass
from datetime import datetime

import segno
from flask_babel import format_date, gettext as _, lazy_gettext as _l
from sqlalchemy import select

from ..core.errors import DomainError, NotFound
from ..core.masking import mask_name
from ..core.quoting import quotable
from ..extensions import db
from .models import Award

#: Codes are drawn from letters and digits that cannot be mistaken for one another (no 0/O, 1/I/L).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10
FONT_PATHS = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",)
PDF_FONT = "STSong-Light"
PNG_SIZE = (1080, 1528)  # portrait, the A4 ratio: fills a phone screen


class CertificateFontMissing(DomainError):
    http_status = 503
    code = "font_missing"
    default_message = _l("The picture certificate needs the CJK font package fonts-wqy-microhei on the server.")


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


@dataclass
class Certificate:
    union: str
    contest: str
    tier: str
    name: str
    entry_title: str
    entry_code: str
    published_at: datetime | None
    verify_code: str | None

    @property
    def date_text(self) -> str:
        return format_date(self.published_at, "long") if self.published_at else ""

    @property
    def text(self) -> str:
        return _("Your work “%(title)s” (%(code)s) in %(contest)s has won", title=quotable(self.entry_title),
                 code=self.entry_code, contest=quotable(self.contest))


def certificate_of(award: Award, *, masked: bool = False) -> Certificate:
    entry = award.entry
    activity = entry.contest.activity
    return Certificate(union=activity.node.name, contest=activity.title, tier=award.tier.name,
                       name=mask_name(entry.user.name) if masked else entry.user.name, entry_title=entry.title,
                       entry_code=entry.code, published_at=entry.contest.results_published_at,
                       verify_code=award.verify_code)


def check(code: str) -> Certificate:
    """The public check page's certificate: published awards only, the name masked."""
    code = (code or "").strip().upper()
    award = db.session.scalar(select(Award).where(Award.verify_code == code)) if code else None
    if award is None or not award.entry.contest.results_published:
        raise NotFound(_l("No published certificate has this code."))
    return certificate_of(award, masked=True)


def _qr_png(url: str, scale: int) -> bytes:
    out = io.BytesIO()
    segno.make(url, error="m", micro=False).save(out, kind="png", scale=scale, border=2)
    return out.getvalue()


def _check_line(cert: Certificate, url: str) -> str:
    return _("Check this certificate at %(url)s (code %(code)s)", url=url, code=cert.verify_code or "")


# --------------------------------------------------------------------------- PDF (reportlab)

def pdf(cert: Certificate, check_url: str) -> bytes:
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))
    width, height = landscape(A4)
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=(width, height), pageCompression=1)
    page.setTitle(f"{_('Certificate of Award')} · {cert.contest}")
    page.setAuthor(cert.union)
    page.setLineWidth(3)
    page.rect(28, 28, width - 56, height - 56)
    page.setLineWidth(1)
    page.rect(36, 36, width - 72, height - 72)

    def centred(text: str, y: float, size: int) -> None:
        page.setFont(PDF_FONT, size)
        for line in _wrap(text, lambda t: pdfmetrics.stringWidth(t, PDF_FONT, size), width - 160):
            page.drawCentredString(width / 2, y, line)
            y -= size * 1.4

    centred(cert.union, height - 90, 18)
    centred(_("Certificate of Award"), height - 160, 40)
    centred(cert.name, height - 230, 28)
    centred(cert.text, height - 285, 16)
    centred(cert.tier, height - 360, 34)
    centred(cert.date_text, height - 410, 14)
    qr = ImageReader(io.BytesIO(_qr_png(check_url, 4)))
    page.drawImage(qr, width - 150, 50, 96, 96)
    page.setFont(PDF_FONT, 9)
    page.drawRightString(width - 160, 60, _check_line(cert, check_url))
    page.showPage()
    page.save()
    return out.getvalue()


def _wrap(text: str, measure, limit: float) -> list[str]:
    """Lines no wider than ``limit``, breaking anywhere (Chinese has no spaces to break at)."""
    lines, line = [], ""
    for char in text:
        if line and measure(line + char) > limit:
            lines.append(line)
            line = char.lstrip()
        else:
            line += char
    return lines + [line] if line else lines


# --------------------------------------------------------------------------- PNG (Pillow)

def _font_path() -> str:
    for path in FONT_PATHS:
        if os.path.exists(path):
            return path
    raise CertificateFontMissing()


def png(cert: Certificate, check_url: str) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    path = _font_path()
    width, height = PNG_SIZE
    image = Image.new("RGB", PNG_SIZE, (255, 252, 243))
    draw = ImageDraw.Draw(image)
    draw.rectangle((24, 24, width - 25, height - 25), outline=(166, 28, 36), width=8)
    draw.rectangle((44, 44, width - 45, height - 45), outline=(166, 28, 36), width=2)
    fonts: dict[int, ImageFont.FreeTypeFont] = {}

    def centred(text: str, y: int, size: int, fill=(30, 30, 30)) -> int:
        font = fonts.setdefault(size, ImageFont.truetype(path, size))
        for line in _wrap(text, font.getlength, width - 160):
            draw.text((width / 2, y), line, font=font, fill=fill, anchor="mt")
            y += int(size * 1.45)
        return y

    y = centred(cert.union, 110, 40)
    y = centred(_("Certificate of Award"), y + 70, 88, fill=(166, 28, 36))
    y = centred(cert.name, y + 70, 64)
    y = centred(cert.text, y + 40, 38)
    y = centred(cert.tier, y + 50, 80, fill=(166, 28, 36))
    centred(cert.date_text, y + 40, 34)
    qr = Image.open(io.BytesIO(_qr_png(check_url, 8))).convert("RGB")
    side = 240
    qr = qr.resize((side, side), Image.NEAREST)
    image.paste(qr, ((width - side) // 2, height - side - 170))
    centred(_check_line(cert, check_url), height - 150, 26, fill=(80, 80, 80))
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()
