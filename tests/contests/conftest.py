"""Contest fixtures: a photo contest ready for entries, judges, generated photos, a private upload folder."""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta

import pytest
from PIL import Image

from unionevents.accounts.models import Role, User
from unionevents.activities.models import Activity, ActivityKind
from unionevents.contests import services
from unionevents.contests.models import Contest, ContestFormat
from unionevents.core.timeutil import now
from unionevents.extensions import db

ORGANISER_NODE = "朝阳区总工会"
WORKER_UNION = "奥运村快递驿站联合工会"


@pytest.fixture(autouse=True)
def upload_dir(app, tmp_path):
    """Every test stores uploads in its own folder, never in instance/."""
    previous = app.config.get("UPLOAD_DIR")
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    yield tmp_path / "uploads" / "contests"
    app.config["UPLOAD_DIR"] = previous


def photo_bytes(size=(32, 24), fmt="JPEG", color=(200, 40, 40), gps=False, xmp=False, orientation=None) -> bytes:
    """A small generated photo; optionally with GPS EXIF, an XMP packet and an EXIF orientation."""
    image = Image.new("RGB", size, color)
    out = io.BytesIO()
    options = {}
    exif = Image.Exif()
    if gps:
        exif[0x010F] = "CanonTestCamera"  # Make
        exif[0x8825] = {1: "N", 2: (39.0, 54.0, 26.0), 3: "E", 4: (116.0, 23.0, 29.0)}  # GPSInfo IFD
    if orientation:
        exif[0x0112] = orientation
    if gps or orientation:
        options["exif"] = exif.tobytes()
    if xmp:
        options["xmp"] = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-'
                          b'rdf-syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" '
                          b'exif:GPSLatitude="39,54N"/></rdf:RDF></x:xmpmeta>')
    image.save(out, fmt, **options)
    return out.getvalue()


def upload(data: bytes, filename: str = "photo.jpg") -> services.Upload:
    return services.Upload(stream=io.BytesIO(data), filename=filename)


@dataclass
class ContestWorld:
    activity: Activity
    contest: Contest
    organiser: User

    def refresh(self) -> Contest:
        db.session.expire_all()
        self.contest = db.session.get(Contest, self.contest.id)
        return self.contest


@pytest.fixture
def contest_world(make):
    """``contest_world(format=PHOTO, entry_limit=3, capacity=1000, public_vote=False, **settings)``."""

    def _build(format=ContestFormat.PHOTO, entry_limit=3, capacity=1000, closes_in=timedelta(days=5), **settings):
        tree = make.tree()
        organiser = make.user("组织者", role=Role.ORGANISER, scope=tree[ORGANISER_NODE])
        activity = make.activity("职工摄影大赛", node=tree[ORGANISER_NODE], kind=ActivityKind.CONTEST,
                                 capacity=capacity, starts_in=closes_in + timedelta(days=2),
                                 signup_closes_at=now() + closes_in, waitlist_enabled=False)
        contest = services.setup_contest(organiser, activity.id, services.ContestSettings(
            format=format, entry_limit=entry_limit, **settings))
        return ContestWorld(activity=activity, contest=contest, organiser=organiser)

    return _build


@pytest.fixture
def worker(make):
    def _worker(name="张小花"):
        make.tree()
        return make.user(name, union=WORKER_UNION)

    return _worker


@pytest.fixture
def judge_user(make):
    def _judge(world: ContestWorld, name="评委周老师"):
        make.tree()
        person = make.user(name)
        services.add_judge(world.organiser, world.contest.id, person.mobile)
        db.session.expire_all()
        return db.session.get(User, person.id)

    return _judge


def submit_photo(user, world: ContestWorld, title="春天的工地", consent=False, data=None, **extra):
    return services.submit_entry(user, world.activity.id, services.EntryData(
        title=title, description="在工地拍摄", consent_publish_name=consent, **extra),
        [upload(data if data is not None else photo_bytes())])
