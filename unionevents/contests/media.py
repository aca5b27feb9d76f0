"""Audio and video recordings of a performance entry: what a file really is, how large it may be,
and where it is kept.

The type comes from the file's first bytes (its "magic"), never from the name or the Content-Type
the browser sent: an ``.mp3`` that is really a script is refused.  Accepted:

=========  ======================================  =====================
kind       first bytes                             stored as
=========  ======================================  =====================
audio      ``ID3`` or an MPEG audio frame sync     ``audio/mpeg`` .mp3
audio      ADTS frame sync (``FFF1``/``FFF9``)     ``audio/aac``  .aac
audio      ``RIFF`` … ``WAVE``                     ``audio/wav``  .wav
audio      ``ftyp`` brand ``M4A``/``M4B``          ``audio/mp4``  .m4a
video      ``ftyp`` brand ``qt``                   ``video/quicktime`` .mov
video      ``ftyp`` brand isom/mp41/mp42/avc1/…    ``video/mp4``  .mp4
=========  ======================================  =====================

Limits: audio ``CONTEST_MAX_AUDIO_BYTES`` (20 MiB), video ``CONTEST_MAX_VIDEO_BYTES`` (50 MiB).  The
request as a whole may carry ``CONTEST_MAX_ENTRY_REQUEST_BYTES`` on the entry pages only (the
contests blueprint raises ``request.max_content_length`` there; nginx allows the same on those
paths), everything else keeps ``MAX_CONTENT_LENGTH``.  Files are written in chunks (never held in
memory whole) under a random name, in the same private folder as the photos, and served only to
the entrant, the contest's organisers and its judges.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l

from ..core.files import open_private
from .images import UploadRejected, upload_dir

AUDIO = "audio"
VIDEO = "video"

#: Content-Type → (extension, kind).  Nothing else is ever stored or served.
MEDIA_TYPES = {
    "audio/mpeg": (".mp3", AUDIO),
    "audio/aac": (".aac", AUDIO),
    "audio/wav": (".wav", AUDIO),
    "audio/mp4": (".m4a", AUDIO),
    "video/mp4": (".mp4", VIDEO),
    "video/quicktime": (".mov", VIDEO),
}
AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P "}
VIDEO_BRANDS = {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V ", b"MSNV",
                b"mmp4", b"dash", b"3gp4", b"3gp5"}
QUICKTIME_BRAND = b"qt  "

DEFAULT_MAX_AUDIO_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_VIDEO_BYTES = 50 * 1024 * 1024
#: A sniffing window: every signature above lies in the first 12 bytes.
HEAD_BYTES = 64
CHUNK = 1024 * 1024

ACCEPT = "audio/mpeg,audio/mp4,audio/aac,audio/wav,audio/x-m4a,video/mp4,video/quicktime,.mp3,.m4a,.aac,.wav,.mp4,.mov"
MSG_BAD_TYPE = _l("This file is not a recording we accept. Please upload audio (MP3, M4A, AAC or WAV) "
                  "or video (MP4 or MOV).")
MSG_EMPTY = _l("The file is empty.")


def sniff(head: bytes) -> str | None:
    """The Content-Type the first bytes of a file show, or None when they show nothing we accept."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in AUDIO_BRANDS:
            return "audio/mp4"
        if brand == QUICKTIME_BRAND:
            return "video/quicktime"
        if brand in VIDEO_BRANDS:
            return "video/mp4"
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[:3] == b"ID3":
        return "audio/mpeg"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        layer = head[1] & 0x06
        if layer == 0:  # ADTS (AAC): sync 1111 1111 1111, layer 00
            return "audio/aac" if head[1] & 0xF0 == 0xF0 else None
        version = head[1] & 0x18
        return "audio/mpeg" if version != 0x08 else None  # 01 is a reserved MPEG version
    return None


def limit_for(content_type: str) -> int:
    """The most bytes a file of this type may have."""
    _ext, kind = MEDIA_TYPES[content_type]
    if kind == AUDIO:
        return int(current_app.config.get("CONTEST_MAX_AUDIO_BYTES") or DEFAULT_MAX_AUDIO_BYTES)
    return int(current_app.config.get("CONTEST_MAX_VIDEO_BYTES") or DEFAULT_MAX_VIDEO_BYTES)


def too_large_message(content_type: str | None = None):
    """The Chinese (translated) refusal of an oversize recording, naming the limits that apply."""
    audio_mb = int(current_app.config.get("CONTEST_MAX_AUDIO_BYTES") or DEFAULT_MAX_AUDIO_BYTES) // 2 ** 20
    video_mb = int(current_app.config.get("CONTEST_MAX_VIDEO_BYTES") or DEFAULT_MAX_VIDEO_BYTES) // 2 ** 20
    if content_type and MEDIA_TYPES[content_type][1] == AUDIO:
        return _l("The audio file is too large: at most %(mb)d MB. Please upload a shorter or more "
                  "compressed recording.", mb=audio_mb)
    if content_type:
        return _l("The video file is too large: at most %(mb)d MB. Please upload a shorter or more "
                  "compressed recording.", mb=video_mb)
    return _l("The upload is too large: audio at most %(audio)d MB, video at most %(video)d MB, "
              "photos at most %(photo)d MB each. Please choose a smaller file.",
              audio=audio_mb, video=video_mb,
              photo=int(current_app.config.get("CONTEST_MAX_UPLOAD_BYTES") or 0) // 2 ** 20)


@dataclass
class StoredMedia:
    name: str
    content_type: str
    size: int


def store(stream) -> StoredMedia:
    """Check and write one recording; raises UploadRejected (nothing left behind) with the message."""
    head = stream.read(HEAD_BYTES)
    if not head:
        raise UploadRejected(MSG_EMPTY)
    content_type = sniff(head)
    if content_type is None:
        raise UploadRejected(MSG_BAD_TYPE)
    limit = limit_for(content_type)
    folder = upload_dir()
    name = secrets.token_hex(16) + MEDIA_TYPES[content_type][0]
    temporary = folder / (name + ".part")
    size = 0
    try:
        with open_private(temporary, exclusive=False) as handle:
            chunk = head
            while chunk:
                size += len(chunk)
                if size > limit:
                    raise UploadRejected(too_large_message(content_type))
                handle.write(chunk)
                chunk = stream.read(CHUNK)
            handle.flush()
            if current_app.config.get("UPLOAD_FSYNC", True):
                os.fsync(handle.fileno())
        os.replace(temporary, folder / name)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return StoredMedia(name=name, content_type=content_type, size=size)


def remove(*names: str | None) -> None:
    folder = upload_dir()
    for name in names:
        if name:
            (folder / name).unlink(missing_ok=True)


def path_of(name: str) -> Path:
    """The stored file's path; names are ours (hex + extension), never a user's."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise FileNotFoundError(name)
    return upload_dir() / name
