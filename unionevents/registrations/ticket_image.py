"""The ticket as a picture (保存为图片): a PNG drawn on the server with Pillow, for WeChat's browser,
which can neither save nor print the ticket page but lets a long press save an image.

The picture holds the QR code, the ticket code, the title, the time and the place, in a CJK font the
project installs: WenQuanYi Micro Hei (Debian's ``fonts-wqy-microhei``, which
``scripts/ensure-browser.sh`` also installs for the browser tests).  Found in this order: the
``TICKET_FONT_PATH`` setting, Debian's path, then fontconfig (``fc-match``); without it the picture
is refused with a message naming the package (``TicketFontMissing``, 503) — never drawn in boxes.
"""
from __future__ import annotations

import functools
import io
import shutil
import subprocess
from pathlib import Path

import segno
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageDraw, ImageFont

from ..core.errors import DomainError
from . import ticket_codes

DEBIAN_FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
FONT_FAMILY = "WenQuanYi Micro Hei"
WIDTH, MARGIN = 720, 48
INK, MUTED, RED = (31, 31, 31), (85, 85, 85), (179, 38, 30)


class TicketFontMissing(DomainError):
    http_status = 503
    code = "ticket_font_missing"
    default_message = _l("The ticket picture cannot be drawn on this server: the font package "
                         "fonts-wqy-microhei is missing. Please show the ticket page instead.")


@functools.lru_cache(maxsize=4)
def find_font(configured: str | None = None) -> str:
    """The path of a font file with Chinese glyphs (see the module docstring), or TicketFontMissing."""
    for candidate in (configured, DEBIAN_FONT):
        if candidate and Path(candidate).is_file():
            return candidate
    fc_match = shutil.which("fc-match")
    if fc_match:
        try:
            found = subprocess.run([fc_match, "-f", "%{file}", FONT_FAMILY], capture_output=True, text=True,
                                   timeout=5, check=False).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            found = ""
        # fc-match always answers with *some* font: only one of the family will do.
        if found and "wqy" in found.lower() and Path(found).is_file():
            return found
    raise TicketFontMissing()


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> list[str]:
    """Lines of at most ``width`` pixels, broken anywhere (Chinese has no spaces to break at)."""
    lines, line = [], ""
    for char in text:
        if draw.textlength(line + char, font=font) > width and line:
            lines.append(line)
            line = char.lstrip()
        else:
            line += char
    return lines + ([line] if line else [])


def ticket_png(*, font_path: str, token: str, code: str, title: str, when: str, where: str,
               heading: str, code_label: str, note: str) -> bytes:
    """The PNG: heading, title, time, place, the QR code, the code large under it, a note."""
    def font(size):
        return ImageFont.truetype(font_path, size)

    qr_buffer = io.BytesIO()
    segno.make(token, error="m", micro=False).save(qr_buffer, kind="png", scale=12, border=2)
    qr = Image.open(io.BytesIO(qr_buffer.getvalue())).convert("RGB")
    scratch = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    inner = WIDTH - 2 * MARGIN
    title_lines = _wrap(scratch, title, font(40), inner)[:4]
    info_lines = [line for text in (when, where) if text for line in _wrap(scratch, text, font(28), inner)[:3]]
    note_lines = _wrap(scratch, note, font(24), inner)[:4]
    height = (MARGIN + 44 + 16 + 52 * len(title_lines) + 12 + 40 * len(info_lines) + 24 + qr.height + 16
              + 36 + 80 + 16 + 34 * len(note_lines) + MARGIN)
    image = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, WIDTH - 1, 12], fill=RED)
    y = MARGIN
    draw.text((MARGIN, y), heading, font=font(32), fill=RED)
    y += 44 + 16
    for line in title_lines:
        draw.text((MARGIN, y), line, font=font(40), fill=INK)
        y += 52
    y += 12
    for line in info_lines:
        draw.text((MARGIN, y), line, font=font(28), fill=MUTED)
        y += 40
    y += 24
    image.paste(qr, ((WIDTH - qr.width) // 2, y))
    y += qr.height + 16
    draw.text((WIDTH // 2, y), code_label, font=font(26), fill=MUTED, anchor="mt")
    y += 36
    draw.text((WIDTH // 2, y), ticket_codes.display(code), font=font(64), fill=INK, anchor="mt")
    y += 80 + 16
    for line in note_lines:
        draw.text((WIDTH // 2, y), line, font=font(24), fill=MUTED, anchor="mt")
        y += 34
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
