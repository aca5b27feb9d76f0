"""R5's fixed-rate soak: the multipart body a browser would send, and the verdict on R5's bars."""
from __future__ import annotations

import io

from werkzeug.formparser import parse_form_data

from bench.soak import Stats, closed_loop_misses, hold_line, multipart, r5_verdict, write_lock_holds


def test_the_multipart_body_parses_as_a_form_with_a_file():
    body, content_type = multipart({"csrf_token": "abc", "title": "压测作品"}, [("photos", "p.jpg", b"\xff\xd8jpeg")])
    environ = {"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": content_type,
               "REQUEST_METHOD": "POST"}
    _stream, form, files = parse_form_data(environ)
    assert form["csrf_token"] == "abc" and form["title"] == "压测作品"
    assert files["photos"].filename == "p.jpg" and files["photos"].read() == b"\xff\xd8jpeg"


def stats_with(**latencies) -> Stats:
    stats = Stats()
    for kind, values in latencies.items():
        for ms in values:
            stats.record(kind, "200", ms)
    stats.actions = sum(len(v) for v in latencies.values())
    return stats


def test_fast_answers_at_the_asked_rate_hold():
    stats = stats_with(browse=[50.0] * 95, signup=[100.0] * 5)
    figures, missed = r5_verdict(stats, wall=1.0, rate=100)
    assert missed == [] and figures["actions_per_s"] == 100


def test_slow_reads_slow_sign_ups_errors_and_a_lagging_rate_each_miss():
    stats = stats_with(browse=[50.0] * 80 + [400.0] * 20, upload_form=[10.0], signup=[900.0] * 10)
    stats.record("checkin", "500", 20.0)
    stats.record("upload", "dropped", None)
    _figures, missed = r5_verdict(stats, wall=1.0, rate=200)
    text = " | ".join(missed)
    assert "reads p95 400 ms" in text and "sign-up p95 900 ms" in text
    assert "1 5xx" in text and "1 failed or dropped" in text and "< 95 % of 200" in text


def test_write_lock_holds_are_read_from_the_request_lines_after_the_offset(tmp_path):
    log = tmp_path / "server.log"
    earlier = '{"logger": "unionevents.request", "path": "/old", "write_lock_ms": 900.0}\n'
    log.write_text(
        earlier
        + '[2026-11-27 14:00:00 +0000] [7] [WARNING] a gunicorn line\n'
        + '{"logger": "unionevents.request", "path": "/api/v1/checkins", "status": 200, "write_lock_ms": 12.5}\n'
        + '{"logger": "unionevents.request", "path": "/activities/", "status": 200}\n'
        + '{"logger": "unionevents.request", "path": "/me/entries/3/edit", "write_lock_ms": 40.0}\n'
        + '{"logger": "unionevents.request", "path": "/cut", "write_lock_ms": 7',  # the log's unfinished end
        encoding="utf-8")
    holds = write_lock_holds(log, start=len(earlier.encode()))
    assert holds == [(12.5, "/api/v1/checkins"), (40.0, "/me/entries/3/edit")]
    line = hold_line(holds)
    assert line.startswith("SQLite write lock: longest hold 40.0 ms (/me/entries/3/edit)")
    assert "over 2 writing requests" in line


def test_no_hold_logged_says_so():
    assert "no hold logged" in hold_line([])


def test_the_baseline_probe_measures_the_token_lookup_of_the_baseline_app(tmp_path):
    """The soak's machine-speed probe: real gunicorn, real requests, every one answered 200."""
    import argparse

    from bench.common import raw_tokens
    from bench.soak import baseline_probe, describe_baseline

    opts = argparse.Namespace(database_url=None, baseline_seconds=1.0, concurrency=4, gunicorn_workers=2,
                              worker_class="sync", threads=1)
    stats = baseline_probe(opts, tmp_path, raw_tokens(20))
    assert stats.total() > 0 and stats.statuses == {"baseline": {"200": stats.total()}}
    assert stats.wall >= 1.0  # the probe ran its whole time (how long it took under load is no test)
    line = describe_baseline(stats)
    assert line.startswith(f"baseline  GET /me of bench/baseline_app.py (token lookup): {stats.total()} requests")
    assert line.endswith("errors 0")


def test_the_closed_loop_judges_each_read_kind_by_its_p95():
    """At concurrency 32 the soak's reads (browse and reports, each) must answer within 300 ms at p95;
    slow sign-ups and check-ins are printed but not judged there."""
    assert closed_loop_misses(stats_with(browse=[120.0] * 100, reports=[250.0] * 20, signup=[900.0] * 5)) == []
    missed = closed_loop_misses(stats_with(browse=[100.0] * 90 + [350.0] * 10, reports=[200.0] * 17 + [420.0] * 3))
    assert missed == ["browse p95 350 ms > 300 ms", "reports p95 420 ms > 300 ms"]
    assert closed_loop_misses(Stats()) == []  # a kind with no request is not judged
