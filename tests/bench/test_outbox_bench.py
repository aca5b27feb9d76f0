"""The outbox benchmark and crash test, reduced: their checks run end to end on a temporary SQLite file
(the full sizes run under ``python -m bench outbox`` and ``outbox-crash``)."""
from __future__ import annotations

from bench import outbox, outbox_crash
from bench.outbox import Check, check


def test_the_check_counts_lost_duplicated_and_undead_messages():
    by_id = {1: ("13800000001", "sent"), 2: ("13800000002", "sent"), 3: ("13810000003", "dead"),
             4: ("13810000004", "failed"), 5: ("13820000005", "queued")}
    result = check(by_id, {"delivered": {1: 1, 2: 3}, "bad_signature": 0})
    assert result.lost == [5] and result.duplicates == 2 and result.refused_dead == 1
    assert result.refused_not_dead == [4] and result.pending == 2 and not result.ok
    assert check({1: ("13800000001", "sent")}, {"delivered": {1: 1}, "bad_signature": 0}).ok
    assert not Check(messages=1, bad_signatures=1).ok


def test_small_benchmark_delivers_every_good_message_once(capsys):
    assert outbox.main(["--database-url", "", "--messages", "200", "--workers", "1", "--batch", "10",
                        "--bare", "50"]) == 0
    out = capsys.readouterr().out
    assert "1 worker:" in out and "190 delivered exactly once, 0 lost, 0 duplicates" in out
    assert "10 refused → dead (0 not dead), 0 pending, 0 bad signatures — ok" in out


def test_small_crash_run_loses_nothing(capsys):
    assert outbox_crash.main(["--database-url", "", "--messages", "400", "--cycles", "2", "--batch", "5",
                              "--after", "0.2", "0.6", "--seed", "7"]) == 0
    out = capsys.readouterr().out
    assert "0 lost" in out and "0 pending" in out and "cycle 2: killed" in out
