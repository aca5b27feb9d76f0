"""The demo's organiser showcase (issue 20), loaded by ``flask seed-demo`` after the seed page's data:

* a small published contest — five entries, tiers as maxima (one first, one second, one third prize),
  so two entries win nothing;
* a lottery activity whose seed was committed at publication and whose draw is done and published
  (``flask activities verify-draw <id>`` agrees);
* a weekly class series (six Tuesdays, sign-up for every date at once allowed);
* a delegates' meeting with unit quotas, a hall layout and seats assigned.

Everything goes through the same services as the pages (each its own transaction).  Its people are
accounts of their own (``PEOPLE``), so the seed page's demo accounts keep their own history.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import select, update

from .accounts.models import Occupation, User
from .accounts.services import create_user
from .activities.models import Activity, ActivityKind, SignupMode
from .core.db import write_transaction
from .core.timeutil import local_to_utc, now, utc_to_local
from .extensions import db
from .unions.models import UnionNode

#: (mobile, name, union): workers who take part in the showcase only.
PEOPLE = [
    ("13600000001", "周晓梅", "通州区梨园镇总工会"),
    ("13600000002", "吴建国", "通州区梨园镇总工会"),
    ("13600000003", "郑丽华", "梨园社区卫生服务中心工会"),
    ("13600000004", "冯志强", "梨园社区卫生服务中心工会"),
    ("13600000005", "何春燕", "奥运村快递驿站联合工会"),
    ("13600000006", "许文军", "奥运村快递驿站联合工会"),
    ("13600000007", "韩小雨", "北京建工资源公司工会"),
    ("13600000008", "曹立新", "北京建工资源公司工会"),
]

CONTEST_TITLE = "奥运村街道“我的劳动之歌”职工歌手小赛"
DRAW_TITLE = "冬奥场馆开放日参观（名额抽签）"
SERIES_TITLE = "职工八段锦晨练课（每周二）"
SEATED_TITLE = "通州区职工代表座谈会"
#: Activities made here: a contest, a lottery, a meeting and the series' dates.
SERIES_DATES = 6
ACTIVITIES = 3 + SERIES_DATES
EARLY_CLOSE = "演示数据：作品已全部收齐，提前截止报名"
#: (song, marks 0-10 for singing, expression, stage presence): five solo entries for three prizes.
SONGS = [("咱们工人有力量", 9.5, 9, 9), ("劳动最光荣", 9, 8.5, 8), ("我和我的祖国", 8, 8, 7.5),
         ("歌唱祖国", 7.5, 7, 7), ("打起手鼓唱起歌", 7, 6.5, 6.5)]


def _at(day: datetime, hour: int, minute: int = 0) -> datetime:
    return local_to_utc(datetime.combine(day.date(), time(hour, minute)))


def _create(**fields) -> Activity:
    from .activities.services import create_activity

    return create_activity(**fields)


def seed_showcase() -> dict[str, int]:
    """Load the showcase once (the caller checks the database was empty). Returns the activity ids
    (``contest``, ``draw``, ``series`` — its first date —, ``meeting``) and ``series_dates``."""
    nodes = {n.name: n for n in db.session.scalars(select(UnionNode))}
    users = {m: db.session.execute(select(User).where(User.mobile == m)).scalar_one() for m in
             ("13800000002", "13800000003", "13800000009", "13700000001")}
    with write_transaction():
        people = [create_user(mobile, name, None, union=nodes[union], occupation=Occupation.OTHER,
                              accept_privacy=True) for mobile, name, union in PEOPLE]
    return {
        "contest": _small_contest(users["13800000002"], users["13700000001"], nodes, people[:5]),
        "draw": _drawn_lottery(users["13800000002"], nodes, people[2:8]),
        "series": _weekly_series(users["13800000003"], nodes),
        "meeting": _seated_meeting(users["13800000009"], nodes, people[:4]),
        "series_dates": SERIES_DATES,
    }


def _small_contest(organiser: User, judge: User, nodes, entrants: list[User]) -> int:
    from .contests.models import ContestFormat
    from .contests.services import (
        ContestSettings, EntryData, add_judge, allocate, close_round, delete_round, get_contest, open_round,
        publish_results, save_scores, save_tier, setup_contest, submit_entry,
    )

    today = utc_to_local(now())
    with write_transaction():
        activity = _create(
            title=CONTEST_TITLE, kind=ActivityKind.CONTEST, node=nodes["朝阳区奥运村街道总工会"],
            venue="奥运村街道职工之家 多功能厅",
            description="街道职工自荐演唱一首歌颂劳动的歌曲。设一等奖、二等奖、三等奖各一名（最多），评委按演唱、"
                        "表现力、台风打分。",
            starts_at=_at(today + timedelta(days=5), 14), ends_at=_at(today + timedelta(days=5), 17),
            signup_opens_at=now() - timedelta(days=10), signup_closes_at=_at(today + timedelta(days=3), 18),
            capacity=50, waitlist_enabled=False, publish=True, created_by=organiser)
    contest = setup_contest(organiser, activity.id, ContestSettings(format=ContestFormat.PERFORMANCE,
                                                                     entry_limit=1))
    contest = get_contest(activity.id)
    for extra in contest.rounds[1:][::-1]:  # one scored round is enough for a small contest
        delete_round(organiser, contest.id, extra.id)
    for tier, name in zip(get_contest(activity.id).tiers, ("一等奖", "二等奖", "三等奖")):
        save_tier(organiser, contest.id, tier.id, name, 1)  # at most one each: not everyone wins
    add_judge(organiser, contest.id, judge.mobile)
    entries = [submit_entry(person, activity.id, EntryData(
        title=song, category="solo", team_leader=person.name, consent_publish_name=True))
        for person, (song, *_marks) in zip(entrants, SONGS)]
    contest = get_contest(activity.id)
    first = contest.rounds[0]
    open_round(organiser, contest.id, first.id, override_reason=EARLY_CLOSE)
    judge = db.session.execute(select(User).where(User.id == judge.id)).scalar_one()  # after the commits
    for entry, (_song, *marks) in zip(entries, SONGS):
        save_scores(judge, first.id, entry.id, {c.id: str(m) for c, m in zip(contest.criteria, marks)})
    close_round(organiser, contest.id, first.id)
    allocate(organiser, contest.id)
    publish_results(organiser, contest.id)
    return activity.id


def _drawn_lottery(organiser: User, nodes, applicants: list[User]) -> int:
    from .registrations import services as registrations

    today = utc_to_local(now())
    day = today + timedelta(days=12)
    with write_transaction():
        activity = _create(
            title=DRAW_TITLE, kind=ActivityKind.CLASS_, node=nodes["朝阳区奥运村街道总工会"],
            venue="国家速滑馆（冰丝带） 北门集合",
            description="名额 3 个，报名人数超过名额时抽签决定，未抽中者按抽签顺序进入候补。报名开放时页面公布"
                        "种子的 SHA-256，抽签后公布种子和完整顺序，任何人都可以复算。",
            starts_at=_at(day, 9), ends_at=_at(day, 11, 30),
            signup_opens_at=now() - timedelta(days=5), signup_closes_at=_at(today + timedelta(days=1), 20),
            capacity=3, mode=SignupMode.LOTTERY, publish=True, created_by=organiser)
    for person in applicants:
        registrations.register(person, activity.id)
    with write_transaction():  # the demo's sign-up ran its course: it closed a moment ago
        db.session.execute(update(Activity).where(Activity.id == activity.id)
                           .values(signup_closes_at=now() - timedelta(minutes=1)))
    registrations.draw_lottery(activity.id, organiser)
    return activity.id


def _weekly_series(organiser: User, nodes) -> int:
    from .activities import series_rules
    from .activities.services import series

    today = utc_to_local(now())
    tuesday = today + timedelta(days=(1 - today.weekday()) % 7 or 7)
    with write_transaction():
        first = _create(
            title=SERIES_TITLE, kind=ActivityKind.CLASS_, node=nodes["丰台区玉泉营街道总工会"],
            venue="玉泉营街道职工之家 一层大厅",
            description="每周二早上七点半，太极拳老师带练八段锦，每次 45 分钟。可以只报某一次，也可以一次报全部日期。",
            starts_at=_at(tuesday, 7, 30), ends_at=_at(tuesday, 8, 15),
            signup_opens_at=now() - timedelta(days=1), signup_closes_at=_at(tuesday - timedelta(days=1), 20),
            capacity=20, publish=True, created_by=organiser)
    start = utc_to_local(first.starts_at)
    series.create_series(organiser, first.id, series_rules.weekly(start.date(), start.weekday(), start.time(),
                                                                 SERIES_DATES),
                         whole_series_signup=True)
    return first.id


def _seated_meeting(organiser: User, nodes, delegates: list[User]) -> int:
    from .activities.services import set_unit_quota
    from .registrations import services as registrations
    from .registrations.services import seating

    today = utc_to_local(now())
    day = today + timedelta(days=16)
    with write_transaction():
        meeting = _create(
            title=SEATED_TITLE, kind=ActivityKind.MEETING, node=nodes["通州区总工会"],
            venue="通州区职工服务中心 第二会议室",
            description="各基层工会按名额推荐职工代表参加，座位按代表团（单位）安排，胸牌和座次表会前打印。",
            starts_at=_at(day, 14), ends_at=_at(day, 16), signup_opens_at=now() - timedelta(days=2),
            signup_closes_at=_at(day - timedelta(days=2), 18), capacity=24, mode=SignupMode.QUOTA,
            publish=True, created_by=organiser)
        set_unit_quota(meeting, nodes["通州区梨园镇总工会"], 10)
        set_unit_quota(meeting, nodes["梨园社区卫生服务中心工会"], 6)
    for person in delegates:
        registrations.register(person, meeting.id, unit_node_id=person.union_id)
    seating.save_layout(organiser, meeting.id, 4, 6)
    seating.assign_seats(organiser, meeting.id)
    return meeting.id
