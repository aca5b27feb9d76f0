"""Hostile-upload handling for contest photos (reliability R16).

An upload is accepted only when Pillow decodes it as JPEG, PNG or WebP within the byte and pixel
limits.  The pixels are then copied into a brand-new image (no EXIF, GPS, XMP, comments or text
chunks survive; the ICC colour profile is kept so colours stay true), turned upright by the EXIF
orientation first, and saved under a random name together with a JPEG thumbnail.
"""
from __future__ import annotations

import io
import os
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError

from ..core.files import open_private, private_dir

#: Pillow format name → (Content-Type, file extension).  Nothing else is ever stored or served.
FORMATS = {
    "JPEG": ("image/jpeg", ".jpg"),
    "PNG": ("image/png", ".png"),
    "WEBP": ("image/webp", ".webp"),
}
CONTENT_TYPES = {content_type for content_type, _ext in FORMATS.values()}
THUMB_BOX = (640, 640)
JPEG_QUALITY = 90

DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000

MSG_EMPTY = _l("The file is empty.")
MSG_NOT_IMAGE = _l("This file is not a photo we can read. Please upload a JPEG, PNG or WebP image.")
MSG_BAD_FORMAT = _l("Only JPEG, PNG and WebP photos are accepted.")


class UploadRejected(Exception):
    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


@dataclass
class CleanImage:
    data: bytes
    thumb: bytes
    content_type: str
    extension: str
    width: int
    height: int


def max_upload_bytes() -> int:
    return int(current_app.config.get("CONTEST_MAX_UPLOAD_BYTES") or DEFAULT_MAX_UPLOAD_BYTES)


def max_pixels() -> int:
    return int(current_app.config.get("CONTEST_MAX_IMAGE_PIXELS") or DEFAULT_MAX_PIXELS)


def upload_dir() -> Path:
    configured = current_app.config.get("UPLOAD_DIR")
    base = Path(configured) if configured else Path(current_app.instance_path) / "uploads"
    return private_dir(base / "contests")  # photos are personal data: folders 0700, files 0600


def read_limited(stream, limit: int) -> bytes:
    """Read at most ``limit`` bytes; one more means the file is too large."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise UploadRejected(_l("The file is larger than %(mb)d MB. Please upload a smaller photo.",
                                mb=max(1, limit // (1024 * 1024))))
    if not data:
        raise UploadRejected(MSG_EMPTY)
    return data


def sanitise(data: bytes, *, pixel_limit: int) -> CleanImage:
    """Decode, check and re-encode one photo; raises UploadRejected with a message to show."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as probe:  # reads the header only
                if probe.format not in FORMATS:
                    raise UploadRejected(MSG_BAD_FORMAT)
                width, height = probe.size
                if width <= 0 or height <= 0:
                    raise UploadRejected(MSG_NOT_IMAGE)
                if width * height > pixel_limit:
                    raise UploadRejected(_too_many_pixels(pixel_limit))
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                fmt = image.format
                image.load()
                upright = ImageOps.exif_transpose(image)
                icc = image.info.get("icc_profile")
                clean = _fresh_pixels(upright)
        except UploadRejected:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise UploadRejected(_too_many_pixels(pixel_limit))
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, TypeError, MemoryError):
            raise UploadRejected(MSG_NOT_IMAGE)
    content_type, extension = FORMATS[fmt]
    return CleanImage(data=_encode(clean, fmt, icc), thumb=_thumbnail(clean), content_type=content_type,
                      extension=extension, width=clean.width, height=clean.height)


def _too_many_pixels(pixel_limit: int):
    return _l("The photo has too many pixels (at most %(mp)d megapixels). Please upload a smaller version.",
              mp=max(1, pixel_limit // 1_000_000))


def _fresh_pixels(image: Image.Image) -> Image.Image:
    """The pixels alone, in a new image that carries no metadata at all."""
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        has_alpha = image.mode in ("P", "PA") and "transparency" in image.info or image.mode in ("PA", "RGBa")
        image = image.convert("RGBA" if has_alpha else "RGB")
    return Image.frombytes(image.mode, image.size, image.tobytes())


def _encode(image: Image.Image, fmt: str, icc: bytes | None) -> bytes:
    out = io.BytesIO()
    options = {"icc_profile": icc} if icc else {}
    if fmt == "JPEG":
        if image.mode not in ("RGB", "L"):
            image = _flatten(image)
        image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, **options)
    elif fmt == "PNG":
        image.save(out, "PNG", optimize=False, **options)
    else:
        image.save(out, "WEBP", quality=JPEG_QUALITY, **options)
    return out.getvalue()


def _flatten(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA"):
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        return background
    return image.convert("RGB")


def _thumbnail(image: Image.Image) -> bytes:
    thumb = _flatten(image) if image.mode not in ("RGB", "L") else image.copy()
    thumb.thumbnail(THUMB_BOX)
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=82)
    return out.getvalue()


def store(clean: CleanImage) -> tuple[str, str]:
    """Write the photo and its thumbnail under random names; returns (stored_name, thumb_name)."""
    folder = upload_dir()
    name = secrets.token_hex(16) + clean.extension
    thumb = secrets.token_hex(16) + ".jpg"
    for filename, payload in ((name, clean.data), (thumb, clean.thumb)):
        temporary = folder / (filename + ".part")
        with open_private(temporary, exclusive=False) as handle:
            handle.write(payload)
            handle.flush()
            if current_app.config.get("UPLOAD_FSYNC", True):
                os.fsync(handle.fileno())
        os.replace(temporary, folder / filename)
    return name, thumb


def remove(*names: str) -> None:
    folder = upload_dir()
    for name in names:
        if name:
            try:
                (folder / name).unlink()
            except FileNotFoundError:
                pass


def path_of(name: str) -> Path:
    """The stored file's path; names are ours (hex + extension), never a user's."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise FileNotFoundError(name)
    return upload_dir() / name
