"""保存为图片: the ticket as a PNG drawn with Pillow in WenQuanYi Micro Hei, for WeChat's browser."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from unionevents.registrations import services, ticket_image


@pytest.fixture
def rider(make):
    make.tree()
    return make.user("骑手小陈")


def test_my_ticket_as_a_picture(make, rider, client, login):
    activity = make.activity("花卉养护课（第二期）", venue="玉泉营街道职工之家")
    registration = services.register(rider, activity.id)
    login(rider)
    page = client.get(f"/me/registrations/{registration.id}").get_data(as_text=True)
    assert f"/me/registrations/{registration.id}/ticket.png" in page
    response = client.get(f"/me/registrations/{registration.id}/ticket.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert "no-store" in response.headers["Cache-Control"]
    picture = Image.open(io.BytesIO(response.data))
    assert picture.format == "PNG" and picture.width == ticket_image.WIDTH and picture.height > 900
    assert len(response.data) < 150 * 1024
    dark = sum(picture.convert("L").histogram()[:64])
    assert dark > 20_000  # the QR code and the text are drawn


def test_the_font_is_the_installed_cjk_one():
    path = ticket_image.find_font(None)
    assert "wqy" in path.lower()


def test_no_picture_without_a_place_or_for_someone_else(make, rider, client, login):
    activity = make.activity(capacity=1)
    first = make.user("先到的人")
    theirs = services.register(first, activity.id)
    waiting = services.register(rider, activity.id)
    assert client.get(f"/me/registrations/{waiting.id}/ticket.png").status_code == 302  # log in first
    login(rider)
    refused = client.get(f"/me/registrations/{waiting.id}/ticket.png")
    assert refused.status_code in (302, 409) and refused.mimetype != "image/png"  # said, not drawn
    assert client.get(f"/me/registrations/{theirs.id}/ticket.png").status_code == 404


def test_a_missing_font_is_said_plainly(make, rider, client, login, monkeypatch):
    monkeypatch.setattr(ticket_image, "DEBIAN_FONT", "/nonexistent/wqy.ttc")
    monkeypatch.setattr(ticket_image.shutil, "which", lambda _name: None)
    ticket_image.find_font.cache_clear()
    try:
        with pytest.raises(ticket_image.TicketFontMissing):
            ticket_image.find_font(None)
        registration = services.register(rider, make.activity().id)
        login(rider)
        client.set_cookie("lang", "en")
        response = client.get(f"/me/registrations/{registration.id}/ticket.png", follow_redirects=True)
        assert response.mimetype != "image/png"
        assert "fonts-wqy-microhei is missing" in response.get_data(as_text=True)
    finally:
        ticket_image.find_font.cache_clear()
