"""导航 next to the venue (geo:, 高德, 百度) and Open Graph tags for a link shared in a chat app."""
from __future__ import annotations

import html
from urllib.parse import parse_qs, unquote, urlsplit

from unionevents.activities.venue_links import map_links
from unionevents.registrations import services


def test_links_search_the_address_in_the_city():
    geo, amap, baidu = (link.url for link in map_links("玉泉营街道职工之家 2 层"))
    assert geo.startswith("geo:0,0?q=") and unquote(geo.split("q=", 1)[1]) == "北京市玉泉营街道职工之家 2 层"
    assert urlsplit(amap).netloc == "uri.amap.com"
    assert parse_qs(urlsplit(amap).query)["keyword"] == ["玉泉营街道职工之家 2 层"]
    assert parse_qs(urlsplit(amap).query)["city"] == ["北京市"]
    assert urlsplit(baidu).netloc == "api.map.baidu.com"
    assert parse_qs(urlsplit(baidu).query)["address"] == ["北京市玉泉营街道职工之家 2 层"]
    assert unquote(map_links("北京市丰台区玉泉营 1 号")[0].url).endswith("q=北京市丰台区玉泉营 1 号")  # no city twice


def test_no_links_without_an_address():
    assert map_links(None) == [] and map_links("   ") == []


def test_the_activity_page_has_directions_and_open_graph_tags(make, client):
    make.tree()
    activity = make.activity("花卉养护课", venue="玉泉营街道职工之家")
    client.set_cookie("lang", "zh_Hans")
    body = client.get(f"/activities/{activity.id}").get_data(as_text=True)
    assert "导航" in body and 'href="geo:0,0?q=' in body and "uri.amap.com" in body and "api.map.baidu.com" in body
    assert '<meta property="og:title" content="花卉养护课">' in body
    description = body.split('<meta property="og:description" content="', 1)[1].split('"', 1)[0]
    assert "玉泉营街道职工之家" in html.unescape(description) and "2026" not in "" and "/" in description
    assert f'<meta property="og:url" content="http://localhost/activities/{activity.id}">' in body


def test_the_ticket_page_has_directions_too(make, client, login):
    make.tree()
    rider = make.user("骑手")
    registration = services.register(rider, make.activity(venue="玉泉营街道职工之家").id)
    login(rider)
    body = client.get(f"/me/registrations/{registration.id}").get_data(as_text=True)
    assert 'class="venue-links"' in body and "uri.amap.com" in body
