"""导航 for a venue: links that open the phone's map app at the activity's address (pure, no database).

Activities carry an address as text, not coordinates, so every link searches for it:
``geo:0,0?q=`` (the phone's default map app: Android, and apps that register the scheme), 高德
(``uri.amap.com/search``, which opens the Amap app when installed, else its web map) and 百度
(``api.map.baidu.com/geocoder``, the same for Baidu Maps).  The city narrows the search.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from flask_babel import lazy_gettext as _l

#: The federation's city: what a bare street address is searched in.
DEFAULT_CITY = "北京市"
SOURCE = "unionevents"


@dataclass(frozen=True)
class MapLink:
    label: Any
    url: str


def map_links(venue: str | None, city: str = DEFAULT_CITY) -> list[MapLink]:
    """Links to the venue in map apps; none without an address."""
    venue = " ".join((venue or "").split())
    if not venue:
        return []
    query = venue if venue.startswith(city[:2]) else f"{city}{venue}"
    return [
        MapLink(_l("Phone's map app"), "geo:0,0?q=" + quote(query, safe="")),
        MapLink(_l("Amap (高德)"), "https://uri.amap.com/search?" + urlencode(
            {"keyword": venue, "city": city, "view": "map", "src": SOURCE, "callnative": 1})),
        MapLink(_l("Baidu Maps (百度)"), "https://api.map.baidu.com/geocoder?" + urlencode(
            {"address": query, "output": "html", "src": SOURCE})),
    ]
