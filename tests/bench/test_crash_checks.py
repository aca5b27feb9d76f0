"""The crash benchmark's journal and checker must not report "0 lost" when something is lost."""
from __future__ import annotations

from bench.crash import Journal, Snapshot, check, read_journal, read_snapshot
from unionevents.extensions import db
from unionevents.registrations import services


def healthy(**changes) -> Snapshot:
    fields = dict(states={1: "confirmed", 2: "waitlisted", 3: "confirmed"}, taken=2, capacity=2,
                  duplicate_live_workers=0, integrity="ok")
    fields.update(changes)
    return Snapshot(**fields)


def test_journal_round_trip_ignores_a_torn_last_line(tmp_path):
    journal = Journal(tmp_path / "j.txt")
    for rid in (5, 7, 9):
        journal.append(rid)
    journal.close()
    with open(tmp_path / "j.txt", "a") as f:
        f.write("1")  # a write torn before its newline: never confirmed to the client
    assert read_journal(tmp_path / "j.txt") == [5, 7, 9]
    assert read_journal(tmp_path / "missing.txt") == []


def test_a_healthy_state_reports_nothing_lost():
    result = check([1, 2, 3], healthy())
    assert result.ok and result.lost == [] and result.journaled == 3


def test_one_journaled_id_missing_from_the_database_is_one_lost():
    result = check([1, 2, 3, 4], healthy())
    assert result.lost == [4]
    assert not result.ok


def test_a_journaled_registration_no_longer_live_is_reported():
    result = check([1, 2, 3], healthy(states={1: "confirmed", 2: "cancelled", 3: "confirmed"}))
    assert result.not_live == [2] and not result.ok


def test_counter_capacity_duplicate_and_integrity_problems_are_reported():
    assert check([], healthy(taken=1)).problems == ["taken 1 != 2 registrations holding a place"]
    over = check([], healthy(states={1: "confirmed", 2: "confirmed", 3: "confirmed"}, taken=3))
    assert over.problems == ["taken 3 > capacity 2"]
    assert not check([], healthy(duplicate_live_workers=1)).ok
    assert not check([], healthy(integrity="*** in database main ***")).ok
    assert check([], healthy(integrity="n/a")).ok  # PostgreSQL has no integrity_check


def test_snapshot_reads_the_real_tables(app, make):
    activity = make.activity(capacity=1)
    first, second = make.user("甲"), make.user("乙")
    confirmed = services.register(first, activity.id)
    waitlisted = services.register(second, activity.id)
    with db.engine.connect() as conn, conn.begin():
        snap = read_snapshot(conn, activity.id)
    assert snap.states == {confirmed.id: "confirmed", waitlisted.id: "waitlisted"}
    assert (snap.taken, snap.capacity, snap.duplicate_live_workers) == (1, 1, 0)
    assert check([confirmed.id, waitlisted.id], snap).ok
    assert check([confirmed.id, waitlisted.id, waitlisted.id + 1], snap).lost == [waitlisted.id + 1]
