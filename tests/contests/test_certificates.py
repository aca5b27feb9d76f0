"""Certificates as files: an A4 PDF and a PNG per award, each parsed; the verification code opens a public
check page with the winner's name masked; nobody else downloads someone's certificate."""
from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from pypdf import PdfReader

from unionevents.contests import services
from unionevents.contests.certificates import CODE_ALPHABET, CODE_LENGTH, PNG_SIZE
from unionevents.core.masking import mask_name
from unionevents.extensions import db

from .conftest import submit_photo
from .test_views import as_user

WINNER = "欧阳独特"


@pytest.fixture
def published(make, contest_world):
    world = contest_world()
    winner = make.user(WINNER, union="奥运村快递驿站联合工会")
    entry = submit_photo(winner, world, title="“春天”的工地", consent=True)
    contest = world.refresh()
    services.set_award(world.organiser, contest.id, entry.id, contest.tiers[0].id)
    services.publish_results(world.organiser, contest.id)
    db.session.expire_all()
    return world, winner, db.session.get(type(entry), entry.id)


def test_the_pdf_is_one_a4_page_with_the_award_and_code(app, published):
    world, winner, entry = published
    code = entry.award.verify_code
    assert len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET)
    response = as_user(app, winner).get(f"/me/entries/{entry.id}/certificate.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"] and "no-store" in response.headers["Cache-Control"]
    assert response.data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(response.data))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert sorted((round(float(box.width)), round(float(box.height)))) == [595, 842]  # A4
    text = reader.pages[0].extract_text()
    for expected in (WINNER, world.activity.title, entry.award.tier.name, code, "朝阳区总工会"):
        assert expected in text, (expected, text)
    assert "““" not in text and "‘春天’的工地" in text  # the title's own marks nest, never double
    fonts = [font.get_object()["/BaseFont"] for font in reader.pages[0]["/Resources"]["/Font"].values()]
    assert any("STSong-Light" in name for name in fonts)  # the built-in CJK CID font: no font file embedded
    images = reader.pages[0].images
    assert len(images) == 1  # the QR code


def test_the_png_opens_as_a_phone_sized_picture(app, published):
    _world, winner, entry = published
    response = as_user(app, winner).get(f"/me/entries/{entry.id}/certificate.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    image = Image.open(io.BytesIO(response.data))
    image.verify()
    image = Image.open(io.BytesIO(response.data))
    assert image.format == "PNG" and image.size == PNG_SIZE
    colours = image.convert("L").getcolors(maxcolors=1 << 16)
    assert colours and len(colours) > 10  # text and the QR code were drawn, not a blank page


def test_the_code_opens_a_public_check_page_with_the_name_masked(app, published):
    world, winner, entry = published
    code = entry.award.verify_code
    page = app.test_client().get(f"/certificates/{code}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and mask_name(WINNER) in html and WINNER not in html
    assert entry.award.tier.name in html and world.activity.title in html
    assert app.test_client().get(f"/certificates/{code.lower()}").status_code == 200
    assert app.test_client().get("/certificates/ZZZZZZZZZZ").status_code == 404
    services.unpublish_results(world.organiser, world.contest.id)
    assert app.test_client().get(f"/certificates/{code}").status_code == 404


def test_only_the_winner_and_the_organisers_download_it(app, make, published):
    world, _winner, entry = published
    other = make.user("别人", union="奥运村快递驿站联合工会")
    for kind in ("pdf", "png"):
        url = f"/me/entries/{entry.id}/certificate.{kind}"
        assert as_user(app, other).get(url).status_code == 404
        assert app.test_client().get(url).status_code == 302  # log in first
        assert as_user(app, world.organiser).get(url).status_code == 200


def test_the_html_certificate_links_both_files_and_the_check_page(app, published):
    _world, winner, entry = published
    html = as_user(app, winner).get(f"/me/entries/{entry.id}/certificate").get_data(as_text=True)
    assert f"/me/entries/{entry.id}/certificate.pdf" in html and f"/me/entries/{entry.id}/certificate.png" in html
    assert re.search(rf'href="/certificates/{entry.award.verify_code}"', html)


@pytest.mark.parametrize(("name", "masked"), [("欧阳独特", "欧**特"), ("张小花", "张*花"), ("张三", "张*"),
                                              ("王", "王"), ("", ""), ("Alexandra", "A***a")])
def test_mask_name(name, masked):
    assert mask_name(name) == masked
