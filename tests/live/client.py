"""HTTP clients for the live tier: a cookie-keeping browser that fills forms, and the JSON API.

``Browser`` GETs a page, parses its forms with the standard library's html.parser, fills every field the
way a person would (the CSRF token and other hidden values as the page sent them, the first real choice
of a select or radio group, plausible text) and POSTs it; ``Api`` gets a Bearer token from
``POST /api/v1/tokens``.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import requests

DEMO_PASSWORD = "demo1234"


def beijing_now() -> datetime:
    """Wall-clock time in Beijing (naive): what the app's forms take, whatever this machine's zone."""
    from zoneinfo import ZoneInfo
    return datetime.now(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None)
_fresh_mobiles = itertools.count(1)


def fresh_mobile(prefix: str = "1350") -> str:
    """A mobile number nobody in the demo data has (unique within this process)."""
    import os
    return f"{prefix}{os.getpid() % 1000:03d}{next(_fresh_mobiles):04d}"


@dataclass
class Field:
    tag: str                   # input | select | textarea
    type: str                  # text, hidden, checkbox, radio, file, submit, select, textarea, ...
    name: str
    value: str = ""
    checked: bool = False
    required: bool = False
    options: list[tuple[str, bool, bool]] = field(default_factory=list)  # (value, selected, disabled)
    accept: str = ""
    inputmode: str = ""


@dataclass
class Form:
    action: str
    method: str
    enctype: str
    fields: list[Field] = field(default_factory=list)

    def field_names(self) -> set[str]:
        return {f.name for f in self.fields}


class _FormParser(HTMLParser):
    def __init__(self, page_url: str):
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[Form] = []
        self.links: list[str] = []
        self._form: Form | None = None
        self._select: Field | None = None
        self._option: list | None = None
        self._textarea: Field | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(urljoin(self.page_url, a["href"]))
        if tag == "form":
            self._form = Form(urljoin(self.page_url, a.get("action") or self.page_url),
                              (a.get("method") or "get").upper(), a.get("enctype", ""))
            self.forms.append(self._form)
            return
        if self._form is None:
            return
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text").lower()
            self._form.fields.append(Field("input", kind, a["name"], a.get("value", "on" if kind in (
                "checkbox", "radio") else ""), "checked" in a, "required" in a, accept=a.get("accept", ""),
                inputmode=a.get("inputmode", "")))
        elif tag == "button" and a.get("name"):
            self._form.fields.append(Field("button", a.get("type", "submit"), a["name"], a.get("value", "")))
        elif tag == "select" and a.get("name"):
            self._select = Field("select", "select-multiple" if "multiple" in a else "select", a["name"],
                                 required="required" in a)
            self._form.fields.append(self._select)
        elif tag == "option" and self._select is not None:
            self._option = [a.get("value"), "selected" in a, "disabled" in a, ""]
        elif tag == "textarea" and a.get("name"):
            self._textarea = Field("textarea", "textarea", a["name"], required="required" in a)
            self._form.fields.append(self._textarea)

    def handle_data(self, data):
        if self._option is not None:
            self._option[3] += data
        if self._textarea is not None:
            self._textarea.value += data

    def handle_endtag(self, tag):
        if tag == "option" and self._option is not None and self._select is not None:
            value, selected, disabled, text = self._option
            self._select.options.append((value if value is not None else text.strip(), selected, disabled))
            self._option = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form":
            self._form = None


def parse_page(html: str, url: str) -> tuple[list[Form], list[str]]:
    parser = _FormParser(url)
    parser.feed(html)
    return parser.forms, parser.links


_NUMBERS = ("capacity", "quantity", "count", "amount", "minutes", "weight", "score", "points", "quota", "stock",
            "rate", "cap", "lot", "books", "limit", "top_n", "portions", "number", "seats", "places")


def _text_for(name: str, kind: str, inputmode: str = "") -> str:
    lowered = name.lower().split("-")[-1]
    soon = beijing_now() + timedelta(days=20)
    if kind == "datetime-local" or lowered.endswith("_at") or "start" in lowered or "end" in lowered:
        if kind in ("datetime-local", "text"):
            hours = {"signup_opens_at": -24 * 10, "signup_closes_at": -24, "cancel_cutoff_at": -48,
                     "ends_at": 2}.get(lowered, 0)
            return (soon + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M")
    if kind == "date":
        return soon.strftime("%Y-%m-%d")
    if kind == "time":
        return "09:00"
    if "mobile" in lowered or kind == "tel" or inputmode == "tel":
        return fresh_mobile()
    if kind == "number" or inputmode == "numeric" or any(word in lowered for word in _NUMBERS):
        return "5"
    if "mobile" in lowered:
        return fresh_mobile()
    if "password" in lowered or kind == "password":
        return DEMO_PASSWORD
    if kind == "email":
        return "demo@example.com"
    if kind == "url":
        return "https://example.com/"
    if lowered in ("q", "search"):
        return "王"
    return "测试内容"


def fill(form: Form, overrides: dict | None = None, *, files_ok: bool = True) -> tuple[dict, dict]:
    """(data, files) as a browser would send them after a person filled every field with valid-looking
    values; ``overrides`` win (a value of None leaves the field out)."""
    overrides = dict(overrides or {})
    data: dict[str, list[str]] = {}
    files: dict = {}
    radios_done: set[str] = set()
    for f in form.fields:
        if f.name in overrides:
            continue
        if f.type in ("submit", "button", "reset", "image"):
            continue
        if f.tag == "select":
            options = [(v, s) for v, s, d in f.options if not d]
            chosen = [v for v, s in options if s]
            if f.type == "select-multiple":  # a browser sends only what is selected
                data.setdefault(f.name, []).extend(chosen)
                continue
            chosen = chosen or [v for v, _s in options if v][:1] or [v for v, _ in options][:1]
            if chosen:
                data.setdefault(f.name, []).append(chosen[0])
        elif f.type == "radio":
            if f.name in radios_done:
                continue
            group = [g for g in form.fields if g.name == f.name and g.type == "radio"]
            checked = [g for g in group if g.checked] or group[:1]
            data.setdefault(f.name, []).append(checked[0].value)
            radios_done.add(f.name)
        elif f.type == "checkbox":
            wanted = f.checked or f.required or any(word in f.name.lower() for word in (
                "consent", "accept", "privacy", "agree", "confirm"))
            if wanted:
                data.setdefault(f.name, []).append(f.value)
        elif f.type == "file":
            if files_ok and f.name not in files:
                files[f.name] = ("photo.png", png_bytes(), "image/png") if "image" in f.accept or not f.accept.endswith(
                    ("csv", ".xlsx")) else ("import.csv", b"", "text/csv")
        elif f.type == "hidden" or f.value:
            data.setdefault(f.name, []).append(f.value)
        elif f.type in ("datetime-local", "date", "time") and not f.required:
            data.setdefault(f.name, []).append("")  # optional dates are left empty, as most people do
        else:
            data.setdefault(f.name, []).append(_text_for(f.name, f.type, f.inputmode))
    clicked = next((f for f in form.fields if f.type == "submit" and f.name), None)
    if clicked is not None and clicked.name not in overrides and clicked.name not in data:
        data[clicked.name] = [clicked.value]  # the button a person clicks is sent too
    for name, value in overrides.items():
        if value is None:
            continue
        data[name] = value if isinstance(value, list) else [value]
    return data, files


_PNG: bytes | None = None


def png_bytes() -> bytes:
    """A small real photo-like PNG (contest uploads check that it decodes)."""
    global _PNG
    if _PNG is None:
        import io

        from PIL import Image
        image = Image.new("RGB", (64, 48))
        image.putdata([((x * 4) % 256, (y * 5) % 256, 120) for y in range(48) for x in range(64)])
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        _PNG = buffer.getvalue()
    return _PNG


class Browser:
    """One person's browser: cookies kept, forms filled and submitted like a browser does."""

    def __init__(self, base_url: str, mobile: str | None = None, password: str = DEMO_PASSWORD):
        self.base = base_url
        self.http = requests.Session()
        self.http.headers["Accept-Language"] = "zh-CN,zh;q=0.9"
        self.mobile = mobile
        if mobile:
            self.login(mobile, password)

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.base + path

    def get(self, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("allow_redirects", False)
        kwargs.setdefault("timeout", 60)
        return self.http.get(self.url(path), **kwargs)

    def page(self, path: str) -> tuple[requests.Response, list[Form]]:
        response = self.get(path, allow_redirects=True)
        forms = parse_page(response.text, response.url)[0] if "html" in response.headers.get(
            "Content-Type", "") else []
        return response, forms

    def form(self, path: str, *, action: str | None = None, has: str | None = None) -> Form:
        """The form on ``path`` whose action ends with ``action`` (or that has a field ``has``)."""
        response, forms = self.page(path)
        assert response.status_code == 200, (path, response.status_code)
        for form in forms:
            if form.method != "POST":
                continue
            if action is not None and not urlsplit(form.action).path.endswith(action):
                continue
            if has is not None and has not in form.field_names():
                continue
            return form
        raise AssertionError(f"no POST form {action or has!r} on {path}: "
                             f"{[(f.action, sorted(f.field_names())) for f in forms]}")

    def submit(self, form: Form, overrides: dict | None = None, **kwargs) -> requests.Response:
        data, files = fill(form, overrides)
        kwargs.setdefault("allow_redirects", False)
        kwargs.setdefault("timeout", 60)
        return self.http.post(form.action, data=data, files=files or None, **kwargs)

    def fill_and_post(self, path: str, overrides: dict | None = None, *, action: str | None = None,
                      has: str | None = None) -> requests.Response:
        return self.submit(self.form(path, action=action, has=has), overrides)

    def login(self, mobile: str, password: str = DEMO_PASSWORD) -> requests.Response:
        response = self.fill_and_post("/account/login", {"mobile": mobile, "password": password},
                                      action="/account/login")
        assert response.status_code == 302, (mobile, response.status_code, _flash(response.text))
        return response


def _flash(html: str) -> str:
    return " ".join(re.findall(r'class="flash[^"]*"[^>]*>([^<]*)<', html))[:300]


class Api:
    """The JSON API with a Bearer token from ``POST /api/v1/tokens``."""

    def __init__(self, base_url: str, mobile: str | None = None, password: str = DEMO_PASSWORD):
        self.base = base_url
        self.http = requests.Session()
        if mobile:
            response = self.http.post(base_url + "/api/v1/tokens", json={"mobile": mobile, "password": password},
                                      timeout=60)
            assert response.status_code in (200, 201), (mobile, response.status_code, response.text[:300])
            self.http.headers["Authorization"] = "Bearer " + response.json()["token"]

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.http.get(self.base + path, timeout=60, **kwargs)

    def post(self, path: str, json=None, **kwargs) -> requests.Response:
        return self.http.post(self.base + path, json=json, timeout=60, **kwargs)
