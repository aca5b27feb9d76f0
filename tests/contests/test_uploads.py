"""Hostile uploads (R16): metadata stripped, fakes and bombs refused with messages, files served safely."""
from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from unionevents.contests import services
from unionevents.contests.models import EntryImage
from unionevents.core.errors import ValidationFailed
from unionevents.extensions import db

from .conftest import photo_bytes, submit_photo, upload

METADATA_MARKERS = (b"GPS", b"Exif", b"xmpmeta", b"ns.adobe.com", b"CanonTestCamera")


def _stored(upload_dir, image: EntryImage) -> bytes:
    return (upload_dir / image.stored_name).read_bytes()


def test_gps_exif_and_xmp_are_removed_from_the_stored_photo(contest_world, worker, upload_dir):
    original = photo_bytes(gps=True, xmp=True)
    with Image.open(io.BytesIO(original)) as check:  # the test photo really carries them
        assert check.getexif().get_ifd(0x8825)
    assert b"xmpmeta" in original and b"CanonTestCamera" in original
    entry = submit_photo(worker(), contest_world(), data=original)
    for image in entry.images:
        for data in (_stored(upload_dir, image), (upload_dir / image.thumb_name).read_bytes()):
            with Image.open(io.BytesIO(data)) as reopened:
                assert dict(reopened.getexif()) == {}
                assert "xmp" not in reopened.info and "exif" not in reopened.info
            for marker in METADATA_MARKERS:
                assert marker not in data, marker


def test_png_text_chunks_are_removed(contest_world, worker, upload_dir):
    image = Image.new("RGBA", (20, 20), (0, 128, 0, 128))
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "GPS 39.9N 116.4E 张小花 13912345678")
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>GPS</x:xmpmeta>")
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info)
    entry = submit_photo(worker(), contest_world(), data=out.getvalue())
    stored = _stored(upload_dir, entry.images[0])
    assert entry.images[0].content_type == "image/png"
    assert b"GPS" not in stored and b"13912345678" not in stored and b"tEXt" not in stored


def test_exif_orientation_is_applied_before_the_tag_is_dropped(contest_world, worker, upload_dir):
    entry = submit_photo(worker(), contest_world(), data=photo_bytes(size=(40, 20), orientation=6))
    image = entry.images[0]
    assert (image.width, image.height) == (20, 40)
    with Image.open(io.BytesIO(_stored(upload_dir, image))) as reopened:
        assert reopened.size == (20, 40)


def test_webp_is_accepted_and_stays_webp(contest_world, worker):
    entry = submit_photo(worker(), contest_world(), data=photo_bytes(fmt="WEBP"))
    assert entry.images[0].content_type == "image/webp" and entry.images[0].stored_name.endswith(".webp")


@pytest.mark.parametrize("data, filename", [
    (b"this is not a photo, just text\n", "holiday.jpg"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "x.svg"),
    (b"<html><script>alert(1)</script></html>", "page.jpg"),
    (photo_bytes(fmt="GIF"), "anim.gif"),
    (photo_bytes()[:60], "truncated.jpg"),
    (b"", "empty.jpg"),
])
def test_fakes_and_other_formats_are_refused_with_a_message(contest_world, worker, upload_dir, data, filename):
    with pytest.raises(ValidationFailed) as caught:
        submit_photo(worker(), contest_world(), data=data)
    assert caught.value.errors["photos"][0]
    assert not upload_dir.exists() or list(upload_dir.iterdir()) == []


def _png_claiming(width: int, height: int) -> bytes:
    """A small real PNG whose header claims ``width`` × ``height`` pixels (a decompression bomb's calling card)."""
    data = bytearray(photo_bytes(size=(4, 4), fmt="PNG"))
    ihdr = data.index(b"IHDR")
    data[ihdr + 4:ihdr + 12] = struct.pack(">II", width, height)
    data[ihdr + 17:ihdr + 21] = struct.pack(">I", zlib.crc32(bytes(data[ihdr:ihdr + 17])) & 0xFFFFFFFF)
    return bytes(data)


def test_decompression_bomb_is_refused_before_decoding(contest_world, worker):
    with pytest.raises(ValidationFailed) as caught:
        submit_photo(worker(), contest_world(), data=_png_claiming(100_000, 100_000))
    assert "40" in caught.value.errors["photos"][0]  # "at most 40 megapixels"


def test_pixel_cap_is_configurable(app, contest_world, worker):
    app.config["CONTEST_MAX_IMAGE_PIXELS"] = 1000
    try:
        with pytest.raises(ValidationFailed):
            submit_photo(worker(), contest_world(), data=photo_bytes(size=(40, 40)))
    finally:
        app.config.pop("CONTEST_MAX_IMAGE_PIXELS")
        app.config["CONTEST_MAX_IMAGE_PIXELS"] = 40_000_000


def test_oversize_photo_gets_a_clear_message(app, contest_world, worker):
    app.config["CONTEST_MAX_UPLOAD_BYTES"] = 200
    try:
        with pytest.raises(ValidationFailed) as caught:
            submit_photo(worker(), contest_world(), data=photo_bytes(size=(64, 64), color=(1, 2, 3)) + b"\0" * 300)
    finally:
        app.config["CONTEST_MAX_UPLOAD_BYTES"] = 20 * 1024 * 1024
    assert "MB" in caught.value.errors["photos"][0]


def test_too_many_photos_are_refused(app, contest_world, worker):
    with pytest.raises(ValidationFailed):
        services.submit_entry(worker(), contest_world().activity.id, services.EntryData(title="组照"),
                              [upload(photo_bytes()) for _ in range(5)])


def test_stored_names_are_random_and_never_the_uploaders(contest_world, worker):
    entry = services.submit_entry(worker(), contest_world().activity.id, services.EntryData(title="作品"),
                                  [upload(photo_bytes(), "../../etc/张小花.jpg")])
    image = db.session.get(EntryImage, entry.images[0].id)
    assert "张小花" not in image.stored_name and "/" not in image.stored_name and len(image.stored_name) == 36
