"""The demo world of a live server, brought to life through its own forms, and the ids the crawl needs.

``build_world(server)`` plays the demo's people the way they would use the site — workers sign up
(class with questions, health check with a slot and consent, swap), one cancels, two enter the contests
(a photo upload, a performance), organisers check someone in at the door, take a walk-in, record a swap
donation, create and edit an activity, open the public vote; a worker votes; the song contest is judged
and its results published (an award and a certificate) — each step through the page's form with its
CSRF token, asserting it worked.  Then it reads the ids of what now exists
straight from the server's database (``LiveDb``), to fill the crawl's URL arguments.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import create_engine, text

from .client import Browser, beijing_now, fresh_mobile
from .conftest import server_at

ADMIN = "13800000001"
ORGANISER_AOYUNCUN = "13800000002"   # the health check
ORGANISER_YUQUANYING = "13800000003"  # the flower class
OFFICER_CHAOYANG = "13800000004"
OFFICER_CITY = "13800000005"
ORGANISER_INDUSTRY = "13800000006"    # the photo contest
ORGANISER_JIANGONG = "13800000007"    # the book swap
ORGANISER_HUAIROU = "13800000008"     # the song contest
ORGANISER_TONGZHOU = "13800000009"    # the quota meeting
RIDER = "13900000001"
COURIER = "13900000002"
BUILDER = "13900000003"               # member of the swap's union
TEACHER = "13900000004"               # in 怀柔 (the song contest)
TECHNICIAN = "13900000005"
DRIVER = "13900000006"                # no union
JUDGE = "13700000001"
MEDICAL = "13700000002"

#: The identities of the crawl: every role of the demo (unionevents/demo.py) and anonymous; for roles
#: scoped to a union or an activity, the people whose scope holds the demo objects the crawl visits.
#: (The other demo organisers and workers differ from these only in scope.)
ROLES: dict[str, str | None] = {
    "anonymous": None,
    "admin": ADMIN,
    "organiser 奥运村 (health)": ORGANISER_AOYUNCUN,
    "organiser 玉泉营 (class)": ORGANISER_YUQUANYING,
    "organiser 工业 (photo contest)": ORGANISER_INDUSTRY,
    "organiser 建工 (swap)": ORGANISER_JIANGONG,
    "officer 朝阳区": OFFICER_CHAOYANG,
    "officer city": OFFICER_CITY,
    "worker rider": RIDER,
    "worker builder": BUILDER,
    "worker technician": TECHNICIAN,
    "judge": JUDGE,
    "medical staff": MEDICAL,
}


class LiveDb:
    """Read-only look-ups in the live server's database (ids for URL arguments, states to check)."""

    def __init__(self, url: str):
        self.engine = create_engine(url)

    def scalar(self, sql: str, **params):
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def scalars(self, sql: str, **params) -> list:
        with self.engine.connect() as conn:
            return list(conn.execute(text(sql), params).scalars())

    def rows(self, sql: str, **params) -> list:
        with self.engine.connect() as conn:
            return list(conn.execute(text(sql), params))

    def user_id(self, mobile: str) -> int:
        return self.scalar('SELECT id FROM "user" WHERE mobile = :m', m=mobile)

    def activity_id(self, title_part: str) -> int:
        return self.scalar("SELECT id FROM activity WHERE title LIKE :t ORDER BY id", t=f"%{title_part}%")

    def registration_id(self, activity_id: int, mobile: str) -> int | None:
        return self.scalar('SELECT r.id FROM registration r JOIN "user" u ON u.id = r.user_id '
                           "WHERE r.activity_id = :a AND u.mobile = :m ORDER BY r.id DESC", a=activity_id, m=mobile)

    def close(self) -> None:
        self.engine.dispose()


@dataclass
class World:
    base: str
    db: LiveDb
    ids: dict[str, int | None] = field(default_factory=dict)
    steps: list[str] = field(default_factory=list)  # the forms the setup submitted, for the report

    def browser(self, mobile: str | None) -> Browser:
        return Browser(self.base, mobile)


def _ok(response, what: str, *codes) -> None:
    codes = codes or (302, 303)
    assert response.status_code in codes, f"{what}: {response.status_code} {response.headers.get('Location')} " \
        f"{_flashes(response.text)}"


def _flashes(html: str) -> str:
    return " | ".join(m.strip() for m in re.findall(r'<(?:li|p|div)[^>]*class="[^"]*(?:flash|error)[^"]*"[^>]*>(.*?)</',
                                                    html or "", re.S))[:500]


def _local(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M")


def build_world(base_url: str, database_url: str) -> World:
    db = LiveDb(database_url)
    world = World(base_url, db)
    ids = world.ids
    for key, title in (("health", "健康评估"), ("class", "花卉养护课"), ("swap", "以书换蔬"), ("photo", "摄影大赛"),
                       ("songs", "歌咏"), ("meeting", "报告会"), ("exchange", "交流座谈")):
        ids[key] = db.activity_id(title)

    # Workers sign up through the sign-up forms.
    rider = world.browser(RIDER)
    _ok(rider.fill_and_post(f"/activities/{ids['class']}/signup", action="/signup"), "rider signs up for the class")
    _ok(rider.fill_and_post(f"/activities/{ids['health']}/signup", action="/signup"), "rider books a health slot")
    courier = world.browser(COURIER)
    _ok(courier.fill_and_post(f"/activities/{ids['class']}/signup", action="/signup"), "courier signs up")
    ids["courier_class"] = db.registration_id(ids["class"], COURIER)
    _ok(courier.fill_and_post(f"/me/registrations/{ids['courier_class']}/cancel", action="/cancel"),
        "courier cancels")
    builder = world.browser(BUILDER)
    _ok(builder.fill_and_post(f"/activities/{ids['swap']}/signup", action="/signup"), "builder signs up for the swap")
    ids["rider_class"] = db.registration_id(ids["class"], RIDER)
    ids["rider_health"] = db.registration_id(ids["health"], RIDER)
    ids["builder_swap"] = db.registration_id(ids["swap"], BUILDER)
    assert all(ids[k] for k in ("rider_class", "rider_health", "builder_swap")), ids

    # Contest entries: a photo (multipart upload) and a song.
    technician = world.browser(TECHNICIAN)
    _ok(technician.fill_and_post(f"/activities/{ids['photo']}/signup", action="/signup"),
        "technician signs up for the photo contest (the entry form comes after the sign-up)")
    _ok(technician.fill_and_post(f"/contests/{ids['photo']}/enter", {"title": "长城晨光"}, action="/enter"),
        "technician enters a photo")
    teacher = world.browser(TEACHER)
    _ok(teacher.fill_and_post(f"/activities/{ids['songs']}/signup", action="/signup"),
        "teacher signs up for the singing contest")
    # A solo (the first category) lists no members; the recording is optional (a photo is not one).
    _ok(teacher.fill_and_post(f"/contests/{ids['songs']}/enter", {"title": "五月的鲜花", "members": "",
                                                                  "recording": None}, action="/enter"),
        "teacher enters a song")
    ids["photo_entry"] = db.scalar("SELECT e.id FROM contest_entry e JOIN contest c ON c.id = e.contest_id "
                                   "WHERE c.activity_id = :a ORDER BY e.id", a=ids["photo"])
    ids["song_entry"] = db.scalar("SELECT e.id FROM contest_entry e JOIN contest c ON c.id = e.contest_id "
                                  'JOIN "user" u ON u.id = e.user_id WHERE c.activity_id = :a AND u.mobile = :m '
                                  "ORDER BY e.id", a=ids["songs"], m=TEACHER)  # the demo has singers' entries too
    ids["image"] = db.scalar("SELECT id FROM contest_entry_image WHERE entry_id = :e", e=ids["photo_entry"])
    assert ids["photo_entry"] and ids["song_entry"] and ids["image"], ids

    # The organiser creates an activity starting soon (so its door is open) and edits it; the rider signs
    # up; the organiser checks them in by search at the door and takes a walk-in.
    door = world.browser(ORGANISER_YUQUANYING)
    start = beijing_now() + timedelta(minutes=90)
    new = door.fill_and_post("/manage/activities/new", {
        "title": "爬山健步走", "starts_at": _local(start), "ends_at": _local(start + timedelta(hours=3)),
        "signup_opens_at": _local(beijing_now() - timedelta(hours=1)),
        "signup_closes_at": _local(start - timedelta(minutes=30)), "cancel_cutoff_at": "", "capacity": "40"},
        action="/manage/activities/new")
    _ok(new, "organiser creates an activity")
    ids["created"] = db.activity_id("爬山健步走")
    _ok(door.fill_and_post(f"/manage/activities/{ids['created']}/edit", {"title": "爬山健步走（周六）"},
                           action="/edit"), "organiser edits the activity")
    _ok(door.fill_and_post(f"/manage/activities/{ids['created']}", action="/publish"), "organiser publishes it")
    _ok(rider.fill_and_post(f"/activities/{ids['created']}/signup", action="/signup"), "rider signs up for the walk")
    ids["rider_created"] = db.registration_id(ids["created"], RIDER)
    form = door.form(f"/manage/activities/{ids['created']}/checkin?q=王骑手",
                     action=f"/checkin/{ids['rider_created']}")
    _ok(door.submit(form), "organiser checks the rider in")
    assert db.scalar("SELECT checked_in_at FROM registration WHERE id = :r", r=ids["rider_created"]) is not None
    _ok(door.fill_and_post(f"/manage/activities/{ids['created']}/walk-in", {"name": "现场职工"}, action="/walk-in"),
        "organiser takes a walk-in")

    # The swap desk: a donation recorded for the builder.
    swap_desk = world.browser(ORGANISER_JIANGONG)
    _ok(swap_desk.fill_and_post(f"/manage/activities/{ids['swap']}/swap", {"books_per_lot": "2"}, action="/rule"),
        "swap rule saved")
    _ok(swap_desk.fill_and_post(f"/manage/activities/{ids['swap']}/swap/registrations/{ids['builder_swap']}",
                                {"books": "3"}, action=f"/registrations/{ids['builder_swap']}"), "swap donation recorded")

    # The photo contest's organiser opens the public vote; a worker votes.
    contest_organiser = world.browser(ORGANISER_INDUSTRY)
    _ok(contest_organiser.fill_and_post(f"/manage/activities/{ids['photo']}/contest", {
        "public_vote": "y", "vote_opens_at": _local(beijing_now() - timedelta(hours=2)),
        "vote_closes_at": _local(beijing_now() + timedelta(days=2))}, has="public_vote"), "vote opened")
    _ok(rider.fill_and_post(f"/contests/{ids['photo']}/vote", action=f"/vote/{ids['photo_entry']}"), "rider votes")
    # ... opens the first round, assigns the entry to the judge, who scores it.
    ids.update(_ids(db, ids))
    rounds = f"/manage/activities/{ids['photo']}/contest/rounds"
    # Entries are still open, so opening the first round closes them early, with a reason.
    _ok(contest_organiser.fill_and_post(rounds, {"reason": "评委日程提前"}, action=f"/rounds/{ids['photo_round']}/open"),
        "round opened")
    code = db.scalar("SELECT code FROM contest_entry WHERE id = :e", e=ids["photo_entry"])
    _ok(contest_organiser.fill_and_post(f"/manage/activities/{ids['photo']}/contest/judges", {"codes": code},
                                        action=f"/judges/{ids['photo_judge']}/assign"), "entry assigned to the judge")
    judge = world.browser(JUDGE)
    score_form = judge.form(f"/judge/rounds/{ids['photo_round']}/entries/{ids['photo_entry']}",
                            action=f"/entries/{ids['photo_entry']}")
    scores = {f.name: "8" for f in score_form.fields if re.fullmatch(r"c\d+", f.name)}
    _ok(judge.submit(score_form, scores), "judge scores")
    assert db.scalar("SELECT count(*) FROM contest_score WHERE entry_id = :e", e=ids["photo_entry"]) == len(scores) > 0

    # The song contest is taken through to published results (the photo contest stays in its open round,
    # which the concurrency tier judges): its organiser puts the judge on the panel and opens the first
    # round; the judge scores the song; the organiser closes the round, allocates the awards by rank and
    # publishes the results — so the teacher holds an award and a certificate.
    songs_organiser = world.browser(ORGANISER_HUAIROU)
    songs_manage = f"/manage/activities/{ids['songs']}/contest"
    _ok(songs_organiser.fill_and_post(f"{songs_manage}/judges", {"mobile": JUDGE}, has="mobile"),
        "judge put on the song panel")
    songs_contest = db.scalar("SELECT id FROM contest WHERE activity_id = :a", a=ids["songs"])
    ids["song_round"] = db.scalar("SELECT id FROM contest_round WHERE contest_id = :c ORDER BY position",
                                  c=songs_contest)
    _ok(songs_organiser.fill_and_post(f"{songs_manage}/rounds", {"reason": "评委日程提前"},
                                      action=f"/rounds/{ids['song_round']}/open"), "song round opened")
    score_form = judge.form(f"/judge/rounds/{ids['song_round']}/entries/{ids['song_entry']}",
                            action=f"/entries/{ids['song_entry']}")
    scores = {f.name: "9" for f in score_form.fields if re.fullmatch(r"c\d+", f.name)}
    _ok(judge.submit(score_form, scores), "judge scores the song")
    song_scores = db.scalar("SELECT count(*) FROM contest_score WHERE entry_id = :e", e=ids["song_entry"])
    assert song_scores == len(scores) > 0, (song_scores, scores)
    _ok(songs_organiser.fill_and_post(f"{songs_manage}/rounds", action=f"/rounds/{ids['song_round']}/close"),
        "song round closed")
    _ok(songs_organiser.fill_and_post(f"{songs_manage}/awards", action="/awards/allocate"), "song awards allocated")
    _ok(songs_organiser.fill_and_post(f"{songs_manage}/results/publish", {"confirm": "y"}, action="/results/publish"),
        "song results published after the summary is confirmed")
    assert db.scalar("SELECT results_published_at FROM contest WHERE id = :c", c=songs_contest) is not None
    ids["song_tier"] = db.scalar("SELECT a.tier_id FROM contest_award a WHERE a.entry_id = :e", e=ids["song_entry"])
    ids["song_certificate"] = db.scalar("SELECT verify_code FROM contest_award WHERE entry_id = :e",
                                        e=ids["song_entry"])
    assert ids["song_tier"], "the teacher's song holds no award"

    # The health check's organiser checks the rider in; the medical staff record the assessment.  (Health
    # slots are days away: where check-in is refused before the slot, there is no assessment to crawl.)
    health_door = world.browser(ORGANISER_AOYUNCUN)
    form = health_door.form(f"/manage/activities/{ids['health']}/checkin?q=王骑手",
                            action=f"/checkin/{ids['rider_health']}")
    assert health_door.submit(form).status_code < 500
    if db.scalar("SELECT checked_in_at FROM registration WHERE id = :r", r=ids["rider_health"]) is not None:
        medical = world.browser(MEDICAL)
        _ok(medical.fill_and_post(f"/medical/activities/{ids['health']}/registrations/{ids['rider_health']}", {
            "systolic": "120", "diastolic": "80", "heart_rate": "70", "height_cm": "172", "weight_kg": "66",
            "cervical": "mild", "lumbar": "normal"}, has="systolic"), "medical assessment saved")

    # Profile edit; an account made by the sign-up form, then deleted by its owner.
    driver = world.browser(DRIVER)
    _ok(driver.fill_and_post("/account/profile", {"name": "陈师傅"}, action="/account/profile"), "profile saved")
    newcomer = world.browser(None)
    newcomer_mobile = fresh_mobile("1360")
    signup_form = newcomer.form("/account/signup", action="/account/signup")
    assert newcomer.submit(signup_form, {"mobile": newcomer_mobile, "send": "y", "submit": None}).status_code == 200
    code = server_at(base_url).sms_codes([newcomer_mobile])[newcomer_mobile]  # read on the phone
    _ok(newcomer.submit(signup_form, {"mobile": newcomer_mobile, "name": "新职工", "code": code}),
        "a worker creates an account with the code sent to the number")
    _ok(newcomer.fill_and_post("/account/delete", action="/account/delete"), "the worker deletes the account")
    assert db.scalar('SELECT count(*) FROM "user" WHERE mobile = :m', m=newcomer_mobile) == 0

    ids.update(_ids(db, ids))
    return world


def _ids(db: LiveDb, ids: dict) -> dict:
    photo_contest = db.scalar("SELECT id FROM contest WHERE activity_id = :a", a=ids["photo"])
    return {
        "photo_round": db.scalar("SELECT id FROM contest_round WHERE contest_id = :c ORDER BY position",
                                 c=photo_contest),
        "photo_criterion": db.scalar("SELECT id FROM contest_criterion WHERE contest_id = :c ORDER BY position",
                                     c=photo_contest),
        "photo_tier": db.scalar("SELECT id FROM contest_award_tier WHERE contest_id = :c ORDER BY position",
                                c=photo_contest),
        "photo_judge": db.scalar("SELECT id FROM contest_judge WHERE contest_id = :c", c=photo_contest),
        "class_question": db.scalar("SELECT id FROM question WHERE activity_id = :a ORDER BY position", a=ids["class"]),
        "health_slot": db.scalar("SELECT id FROM time_slot WHERE activity_id = :a ORDER BY starts_at",
                                 a=ids["health"]),
        "meeting_quota": db.scalar("SELECT id FROM unit_quota WHERE activity_id = :a ORDER BY id", a=ids["meeting"]),
        "meeting_unit": db.scalar("SELECT node_id FROM unit_quota WHERE activity_id = :a ORDER BY id",
                                  a=ids["meeting"]),
        "swap_node": db.scalar("SELECT node_id FROM activity WHERE id = :a", a=ids["swap"]),
        # The union tree page: the top union, and a district (it has member unions, so it cannot be retired).
        "union_root": db.scalar("SELECT id FROM union_node WHERE parent_id IS NULL ORDER BY id"),
        "union_district": db.scalar("SELECT p.id FROM union_node p WHERE p.depth = 1 AND EXISTS "
                                    "(SELECT 1 FROM union_node c WHERE c.parent_id = p.id) ORDER BY p.id"),
        "grant": db.scalar("SELECT id FROM role_grant ORDER BY id DESC"),
        "token": db.scalar("SELECT id FROM api_token ORDER BY id"),
        "assessment": db.scalar("SELECT id FROM health_assessment ORDER BY id"),
    }
