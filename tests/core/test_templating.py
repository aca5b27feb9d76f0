"""Static URLs carry the file's content hash (so browsers may keep the file for a year)."""
from __future__ import annotations

import hashlib
import os

from unionevents.core.templating import static_url


def _version(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[:12]


def test_static_url_is_worked_out_once_per_process(app, tmp_path, monkeypatch):
    monkeypatch.setattr(app, "static_folder", str(tmp_path))
    monkeypatch.setitem(app.extensions, "unionevents_static_urls", {})
    (tmp_path / "app.css").write_bytes(b"body{}")
    with app.test_request_context("/"):
        first = static_url("app.css")
        assert first.endswith(f"app.css?v={_version(b'body{}')}")
        # A deployment replaces the files and restarts the processes: a running one keeps its URLs.
        (tmp_path / "app.css").write_bytes(b"body{color:red}")
        assert static_url("app.css") == first
        assert static_url("missing.css").endswith("missing.css?v=0")


def test_static_url_follows_the_file_in_debug_mode(app, tmp_path, monkeypatch):
    monkeypatch.setattr(app, "static_folder", str(tmp_path))
    monkeypatch.setitem(app.extensions, "unionevents_static_urls", {})
    monkeypatch.setattr(app, "debug", True)
    css = tmp_path / "app.css"
    css.write_bytes(b"body{}")
    with app.test_request_context("/"):
        assert static_url("app.css").endswith(f"v={_version(b'body{}')}")
        css.write_bytes(b"body{color:red}")
        # a new mtime: nanosecond clocks differ even within a second; force it to be sure
        stat = css.stat()
        os.utime(css, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        assert static_url("app.css").endswith(f"v={_version(b'body{color:red}')}")
