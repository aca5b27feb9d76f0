"""Uploaded photos are private to the app's user: files 0600, folders 0700, whatever the umask
(issue 14, defect 14: they were 0644/0755 in development)."""
from __future__ import annotations

import os
import stat

import pytest

from unionevents.contests import services

from .conftest import photo_bytes, upload


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def development_umask():
    previous = os.umask(0o022)  # the usual default: files 0644, folders 0755
    yield
    os.umask(previous)


def test_an_uploaded_photo_and_its_folders_are_owner_only(contest_world, worker, upload_dir,
                                                           development_umask):
    world = contest_world()
    entry = services.submit_entry(worker(), world.activity.id, services.EntryData(title="春天的工地"),
                                  [upload(photo_bytes())])
    files = list(upload_dir.iterdir())
    assert len(files) == 2  # photo + thumbnail
    assert {mode(f) for f in files} == {0o600}
    assert mode(upload_dir) == 0o700 and mode(upload_dir.parent) == 0o700
    # A replaced photo is written the same way.
    services.update_entry(entry.user, entry.id, services.EntryData(title="春天的工地"),
                          [upload(photo_bytes(color=(0, 90, 200)))])
    assert {mode(f) for f in upload_dir.iterdir()} == {0o600}


def test_a_loose_upload_folder_left_by_an_older_version_is_tightened(contest_world, worker, upload_dir,
                                                                     development_umask):
    upload_dir.mkdir(parents=True)
    os.chmod(upload_dir, 0o755)
    world = contest_world()
    services.submit_entry(worker(), world.activity.id, services.EntryData(title="春天的工地"),
                          [upload(photo_bytes())])
    assert mode(upload_dir) == 0o700
