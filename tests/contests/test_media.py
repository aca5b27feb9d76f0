"""A performance's recording: its type read from the first bytes (never the name), its size limits by
kind, and where it is kept (in the private upload folder, removed with the entry)."""
from __future__ import annotations

import io
import struct

import pytest

from unionevents.contests import media, services
from unionevents.contests.images import UploadRejected


def mp3_bytes(size: int = 4096) -> bytes:
    return b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + b"\x00" * max(0, size - 14)


def ftyp(brand: bytes, size: int = 4096) -> bytes:
    return struct.pack(">I", 24) + b"ftyp" + brand + b"\x00\x00\x00\x00" + b"isom" + b"\x00" * (size - 20)


def wav_bytes(size: int = 4096) -> bytes:
    return b"RIFF" + struct.pack("<I", size - 8) + b"WAVEfmt " + b"\x00" * (size - 16)


def upload(data: bytes, filename: str) -> services.Upload:
    return services.Upload(stream=io.BytesIO(data), filename=filename)


@pytest.mark.parametrize("head, expected", [
    (mp3_bytes(64), "audio/mpeg"),
    (b"\xff\xfb\x90\x64" + b"\x00" * 60, "audio/mpeg"),  # a bare MPEG-1 layer III frame, no ID3 tag
    (b"\xff\xf1\x50\x80" + b"\x00" * 60, "audio/aac"),  # ADTS
    (wav_bytes(64), "audio/wav"),
    (ftyp(b"M4A ", 64), "audio/mp4"),
    (ftyp(b"isom", 64), "video/mp4"),
    (ftyp(b"mp42", 64), "video/mp4"),
    (ftyp(b"qt  ", 64), "video/quicktime"),
])
def test_recordings_are_known_by_their_first_bytes(head, expected):
    assert media.sniff(head) == expected


@pytest.mark.parametrize("head", [
    b"<?php system($_GET['c']); ?>",  # a script named song.mp3
    b"\x89PNG\r\n\x1a\n" + b"\x00" * 20,
    b"%PDF-1.7\n",
    b"MZ\x90\x00",  # a Windows program
    ftyp(b"heic", 64),  # an ftyp box, but a photo format
    b"\xff\xe9\x00\x00",  # frame sync with a reserved MPEG version
    b"", b"ID",
])
def test_anything_else_is_not_a_recording(head):
    assert media.sniff(head) is None


def test_each_type_has_its_kind_and_limit(app):
    with app.app_context():
        assert media.limit_for("audio/mpeg") == media.limit_for("audio/wav") == 20 * 1024 * 1024
        assert media.limit_for("video/mp4") == media.limit_for("video/quicktime") == 50 * 1024 * 1024
        # The request limit of the entry pages carries the largest file and the form around it.
        assert app.config["CONTEST_MAX_ENTRY_REQUEST_BYTES"] > media.limit_for("video/mp4")


def test_a_stored_recording_is_private_and_named_by_us(app, upload_dir):
    with app.test_request_context():
        stored = media.store(io.BytesIO(mp3_bytes()))
    assert stored.content_type == "audio/mpeg" and stored.size == 4096 and stored.name.endswith(".mp3")
    path = upload_dir / stored.name
    assert path.read_bytes() == mp3_bytes()
    assert path.stat().st_mode & 0o077 == 0


def test_an_oversize_recording_is_refused_with_the_limit_and_leaves_nothing(app, upload_dir):
    app.config["CONTEST_MAX_AUDIO_BYTES"] = 10_000
    try:
        with app.test_request_context(), pytest.raises(UploadRejected) as caught:
            media.store(io.BytesIO(mp3_bytes(10_001)))
        with app.test_request_context():
            media.store(io.BytesIO(mp3_bytes(10_000)))  # exactly the limit is fine
    finally:
        app.config["CONTEST_MAX_AUDIO_BYTES"] = 20 * 1024 * 1024
    assert "音频文件太大" in str(caught.value.message)
    assert [p.suffix for p in upload_dir.iterdir()] == [".mp3"]  # the refused one's part file is gone


def test_a_script_named_mp3_is_refused(app):
    with app.test_request_context(), pytest.raises(UploadRejected) as caught:
        media.store(io.BytesIO(b"#!/bin/sh\nrm -rf /\n"))
    assert "MP3" in str(caught.value.message) and "MP4" in str(caught.value.message)
