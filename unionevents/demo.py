"""Demo data from the seed newspaper page (`flask seed-demo`), idempotent.

The unions the page names, one demo account per role, and its activities with
plausible future dates, capacities and time slots.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from .accounts.models import NEW_EMPLOYMENT_FORM, Occupation, Role, User
from .accounts.services import create_user, grant_role
from .activities.models import Activity, ActivityKind, QuestionKind, SignupMode, Visibility
from .activities.services import add_question, add_slots, create_activity, set_unit_quota
from .core.db import write_transaction
from .core.timeutil import local_to_utc, now, utc_to_local
from .extensions import db
from .unions.models import NodeLevel, UnionNode
from .unions.services import get_or_create_node

DEMO_PASSWORD = "demo1234"

# (name, level, parent name, district)
NODES = [
    ("北京市总工会", NodeLevel.CITY, None, None),
    ("通州区总工会", NodeLevel.DISTRICT, "北京市总工会", "通州区"),
    ("怀柔区总工会", NodeLevel.DISTRICT, "北京市总工会", "怀柔区"),
    ("朝阳区总工会", NodeLevel.DISTRICT, "北京市总工会", "朝阳区"),
    ("丰台区总工会", NodeLevel.DISTRICT, "北京市总工会", "丰台区"),
    ("北京市工业（国防）工会", NodeLevel.INDUSTRY, "北京市总工会", None),
    ("北京市交通运输工会", NodeLevel.INDUSTRY, "北京市总工会", None),
    ("通州区梨园镇总工会", NodeLevel.STREET, "通州区总工会", "通州区"),
    ("朝阳区奥运村街道总工会", NodeLevel.STREET, "朝阳区总工会", "朝阳区"),
    ("丰台区玉泉营街道总工会", NodeLevel.STREET, "丰台区总工会", "丰台区"),
    ("中国科学院大学工会", NodeLevel.WORKPLACE, "怀柔区总工会", "怀柔区"),
    ("北京京北职业技术学院工会", NodeLevel.WORKPLACE, "怀柔区总工会", "怀柔区"),
    ("北京长城电子装备有限责任公司工会", NodeLevel.WORKPLACE, "北京市工业（国防）工会", None),
    ("北京建工资源公司工会", NodeLevel.WORKPLACE, "北京市总工会", None),
    ("梨园社区卫生服务中心工会", NodeLevel.WORKPLACE, "通州区梨园镇总工会", "通州区"),
    ("奥运村快递驿站联合工会", NodeLevel.WORKPLACE, "朝阳区奥运村街道总工会", "朝阳区"),
]

# (mobile, name, union, occupation, role, role scope node)
USERS = [
    ("13800000001", "管理员", "北京市总工会", Occupation.OFFICE_WORKER, Role.ADMIN, "北京市总工会"),
    ("13800000002", "奥运村组织者", "朝阳区奥运村街道总工会", Occupation.OFFICE_WORKER, Role.ORGANISER,
     "朝阳区奥运村街道总工会"),
    ("13800000003", "玉泉营组织者", "丰台区玉泉营街道总工会", Occupation.OFFICE_WORKER, Role.ORGANISER,
     "丰台区玉泉营街道总工会"),
    ("13800000004", "朝阳区工会干部", "朝阳区总工会", Occupation.OFFICE_WORKER, Role.OFFICER, "朝阳区总工会"),
    ("13800000005", "市总工会干部", "北京市总工会", Occupation.OFFICE_WORKER, Role.OFFICER, "北京市总工会"),
    ("13800000006", "工业工会组织者", "北京市工业（国防）工会", Occupation.OFFICE_WORKER, Role.ORGANISER,
     "北京市工业（国防）工会"),
    ("13800000007", "建工资源组织者", "北京建工资源公司工会", Occupation.OFFICE_WORKER, Role.ORGANISER,
     "北京建工资源公司工会"),
    ("13800000008", "怀柔区组织者", "怀柔区总工会", Occupation.OFFICE_WORKER, Role.ORGANISER, "怀柔区总工会"),
    ("13800000009", "通州区组织者", "通州区总工会", Occupation.OFFICE_WORKER, Role.ORGANISER, "通州区总工会"),
    ("13900000001", "王骑手", "奥运村快递驿站联合工会", Occupation.RIDER, None, None),
    ("13900000002", "李快递", "奥运村快递驿站联合工会", Occupation.COURIER, None, None),
    ("13900000003", "张职工", "北京建工资源公司工会", Occupation.CONSTRUCTION_WORKER, None, None),
    ("13900000004", "赵老师", "北京京北职业技术学院工会", Occupation.TEACHER, None, None),
    ("13900000005", "刘技术员", "北京长城电子装备有限责任公司工会", Occupation.FACTORY_WORKER, None, None),
    ("13900000006", "陈师傅", None, Occupation.RIDE_HAILING_DRIVER, None, None),
    # Singers of 怀柔's "五月的鲜花" (the seed page names 周阳 of 国科大 and 孙明月 of 京北职业技术学院).
    ("13900000011", "周阳", "中国科学院大学工会", Occupation.TEACHER, None, None),
    ("13900000012", "孙明月", "北京京北职业技术学院工会", Occupation.TEACHER, None, None),
    ("13900000013", "钱建国", "怀柔区总工会", Occupation.CIVIL_SERVANT, None, None),
    ("13700000001", "评委周老师", "北京市工业（国防）工会", Occupation.OTHER, Role.JUDGE, None),
    ("13700000002", "孙医生", "朝阳区奥运村街道总工会", Occupation.MEDICAL_WORKER, Role.MEDICAL, None),
]

DEMO_LOGINS = [
    ("管理员 admin", "13800000001"),
    ("组织者 organiser (奥运村街道)", "13800000002"),
    ("组织者 organiser (玉泉营街道)", "13800000003"),
    ("工会干部 officer (朝阳区)", "13800000004"),
    ("评委 judge (摄影大赛)", "13700000001"),
    ("医护人员 medical staff (送健康)", "13700000002"),
    ("职工 worker (外卖骑手)", "13900000001"),
]


def _at(day: datetime, hour: int, minute: int = 0) -> datetime:
    """Naive UTC for a Beijing wall-clock time on ``day``."""
    return local_to_utc(datetime.combine(day.date(), time(hour, minute)))


class DemoRefused(RuntimeError):
    """The demo data (an admin with a published password) may not be loaded into a production database."""


def seed_demo() -> dict[str, int]:
    """Load the demo data once; a second run changes nothing. Returns what was created.

    Refused in production: the demo accounts' password ``demo1234`` is in the README."""
    if current_app.config.get("ENV_NAME") == "production":
        raise DemoRefused("seed-demo refused: UNIONEVENTS_ENV is production, and the demo accounts "
                          f"(a city admin among them) all have the published password {DEMO_PASSWORD!r}.")
    if db.session.scalar(select(Activity.id).limit(1)) is not None:
        return {"activities": 0, "users": 0, "nodes": 0}
    with write_transaction():  # the whole seed is one transaction
        photo, songs, organisers = _seed_unions_people_activities()
    _seed_contests(photo, songs, organisers["13800000006"], organisers["13800000008"])
    from .demo_showcase import ACTIVITIES, PEOPLE, seed_showcase

    showcase = seed_showcase()
    return {"activities": 7 + ACTIVITIES, "users": len(USERS) + len(PEOPLE), "nodes": len(NODES),
            **{f"{key}_id": value for key, value in showcase.items() if key != "series_dates"}}


def _seed_unions_people_activities() -> tuple[Activity, Activity, dict[str, User]]:
    """The union tree, the people and their roles, the activities (written by the caller's transaction)."""
    nodes: dict[str | None, UnionNode] = {}
    for name, level, parent, district in NODES:
        nodes[name] = get_or_create_node(name, level, nodes.get(parent), district)

    users: dict[str, User] = {}
    for mobile, name, union, occupation, _role, _scope in USERS:
        existing = db.session.scalar(select(User).where(User.mobile == mobile))
        users[mobile] = existing or create_user(mobile, name, DEMO_PASSWORD, union=nodes.get(union),
                                                occupation=occupation, accept_privacy=True)
    for mobile, _name, _union, _occ, role, scope in USERS:
        if role is not None and scope is not None:
            grant_role(users[mobile], role, node=nodes[scope])

    today = utc_to_local(now())
    opens = now() - timedelta(days=1)
    organisers = {m: users[m] for m in users}

    health_day = today + timedelta(days=14)
    health = create_activity(
        title="奥运骑手服务联盟·暖心健康评估服务", kind=ActivityKind.HEALTH,
        node=nodes["朝阳区奥运村街道总工会"], venue="朝阳区奥运村街道 百草园",
        description=("为新就业形态劳动者提供基础健康检查，针对颈椎病、腰椎病等职业病进行诊断和康复指导，"
                     "解答日常保健、疾病预防方面的问题。请选择一个时间段，现场出示电子票签到。"),
        starts_at=_at(health_day, 9), ends_at=_at(health_day, 12),
        signup_opens_at=opens, signup_closes_at=_at(health_day - timedelta(days=1), 20),
        capacity=0, occupations=sorted(NEW_EMPLOYMENT_FORM, key=lambda o: o.value),
        publish=True, created_by=organisers["13800000002"],
    )
    add_slots(health, _at(health_day, 9), _at(health_day, 12), 20, 3)

    class_day = today + timedelta(days=10)
    flowers = create_activity(
        title="“园艺扮靓办公场所和生活”花卉养护课", kind=ActivityKind.CLASS_,
        node=nodes["丰台区玉泉营街道总工会"], venue="玉泉营街道职工之家 二层活动室",
        description=("邀请花乡花卉专科医院的花卉医生授课：识别绿植黄叶、虫害、烂根等常见问题，"
                     "急救方法，枝叶修剪示范和养花小秘籍。名额有限，报满后可排队候补。"),
        starts_at=_at(class_day, 14), ends_at=_at(class_day, 16),
        signup_opens_at=opens, signup_closes_at=_at(class_day - timedelta(days=1), 18),
        cancel_cutoff_at=_at(class_day - timedelta(days=1), 12),
        capacity=30, publish=True, created_by=organisers["13800000003"],
    )
    add_question(flowers, "您家里或办公室养了哪些植物？", QuestionKind.TEXT)
    add_question(flowers, "最希望花卉医生讲解的问题", QuestionKind.SINGLE_CHOICE, required=True,
                 choices=["黄叶", "虫害", "烂根", "修剪"])

    swap_day = today + timedelta(days=7)
    create_activity(
        title="以书换蔬 共建书屋", kind=ActivityKind.SWAP, node=nodes["北京建工资源公司工会"],
        venue="公司办公楼一层大厅",
        description=("把家中闲置的书籍带到活动地点，按捐赠数量换取新鲜蔬菜。"
                     "捐赠的书籍全部充实到公司职工书屋。"),
        starts_at=_at(swap_day, 11), ends_at=_at(swap_day, 14),
        signup_opens_at=opens, signup_closes_at=_at(swap_day, 10),
        capacity=150, members_only=True, eligible_nodes=[nodes["北京建工资源公司工会"]],
        publish=True, created_by=organisers["13800000007"],
    )

    photo_close = today + timedelta(days=30)
    photo = create_activity(
        title="“凝心铸魂跟党走 团结奋斗新征程”职工摄影大赛", kind=ActivityKind.CONTEST,
        node=nodes["北京市工业（国防）工会"], venue="北京长城电子装备有限责任公司（承办）",
        description=("展现祖国发展建设的伟大成就和职工群众追求美好生活的生动图景。"
                     "每人最多提交3幅作品。奖项：特等奖5个、一等奖15个、二等奖25个、三等奖35个、优秀奖40个。"),
        starts_at=_at(photo_close + timedelta(days=1), 9), ends_at=_at(photo_close + timedelta(days=20), 17),
        signup_opens_at=opens, signup_closes_at=_at(photo_close, 23, 59),
        capacity=1000, waitlist_enabled=False, publish=True, created_by=organisers["13800000006"],
    )
    grant_role(users["13700000001"], Role.JUDGE, activity_id=photo.id)

    song_close = today + timedelta(days=21)
    songs = create_activity(
        title="怀柔区“五月的鲜花”职工群众歌咏活动", kind=ActivityKind.CONTEST,
        node=nodes["怀柔区总工会"], venue="怀柔区图书馆",
        description=("主题“奋进新时代 劳动创未来”。采用“初赛+决赛+颁奖展演”梯次赛制，"
                     "设独唱、组合唱、合唱三个类别。"),
        starts_at=_at(song_close + timedelta(days=7), 9), ends_at=_at(song_close + timedelta(days=35), 17),
        signup_opens_at=opens, signup_closes_at=_at(song_close, 18),
        capacity=2500, waitlist_enabled=False, eligible_nodes=[nodes["怀柔区总工会"]],
        publish=True, created_by=organisers["13800000008"],
    )
    # Category (独唱/组合唱/合唱), song and members are asked on the contest's entry form.

    meeting_day = today + timedelta(days=18)
    meeting = create_activity(
        title="通州区劳模先进事迹报告会暨“副中心有我”建功立业行动推进大会", kind=ActivityKind.MEETING,
        node=nodes["通州区总工会"], venue="通州区职工服务中心报告厅",
        description="全国、北京市劳动模范、先进工作者和模范集体事迹报告，部署“副中心有我”建功立业行动。",
        starts_at=_at(meeting_day, 9), ends_at=_at(meeting_day, 11, 30),
        signup_opens_at=opens, signup_closes_at=_at(meeting_day - timedelta(days=2), 18),
        capacity=200, mode=SignupMode.QUOTA, publish=True, created_by=organisers["13800000009"],
    )
    set_unit_quota(meeting, nodes["通州区梨园镇总工会"], 60)
    set_unit_quota(meeting, nodes["梨园社区卫生服务中心工会"], 20)

    exchange_day = today + timedelta(days=25)
    exchange = create_activity(
        title="北京市总工会与东京地下铁劳动组合代表团交流座谈", kind=ActivityKind.MEETING,
        node=nodes["北京市总工会"], venue="北京市总工会职工服务中心",
        description="就工会活动组织方式、轨道交通发展等进行经验交流（邀请参加）。",
        starts_at=_at(exchange_day, 14), ends_at=_at(exchange_day, 16, 30),
        signup_opens_at=opens, signup_closes_at=_at(exchange_day - timedelta(days=3), 18),
        capacity=20, mode=SignupMode.QUOTA, visibility=Visibility.INVITATION, publish=True,
        created_by=organisers["13800000001"],
    )
    set_unit_quota(exchange, nodes["北京市交通运输工会"], 8)
    set_unit_quota(exchange, nodes["北京市总工会"], 6)

    grant_role(users["13700000002"], Role.MEDICAL, activity_id=health.id)
    return photo, songs, organisers


def _seed_contests(photo: Activity, songs: Activity, photo_organiser: User, song_organiser: User) -> None:
    """The two contests of the seed page, with its award quotas, rounds and criteria in its own words."""
    from .contests.models import ContestFormat
    from .contests.services import ContestSettings, DefaultNames, add_judge, setup_contest

    photo_contest = setup_contest(photo_organiser, photo.id, ContestSettings(format=ContestFormat.PHOTO,
                                                                              entry_limit=3),
                                  DefaultNames(tiers=("特等奖", "一等奖", "二等奖", "三等奖", "优秀奖"),
                                               rounds=("初评", "终评"), criteria=("主题", "创意", "技术")))
    add_judge(photo_organiser, photo_contest.id, "13700000001")
    setup_contest(song_organiser, songs.id, ContestSettings(format=ContestFormat.PERFORMANCE, entry_limit=2),
                  DefaultNames(tiers=("一等奖", "二等奖", "三等奖"), rounds=("初赛", "决赛", "颁奖展演"),
                               criteria=("演唱", "表现力", "台风")))
    _seed_song_entries(songs)


#: Demo entries of the singing contest, one per category: (entrant's mobile, category, song, members).
SONG_ENTRIES = (
    ("13900000011", "solo", "一路生花", ""),
    ("13900000012", "group", "唱支山歌给党听", "孙明月 13901000001\n李晓光 13901000002\n王春燕 13901000003"),
    ("13900000013", "choir", "红旗飘飘", "\n".join(f"合唱团员{n:02d} 139020000{n:02d}" for n in range(1, 13))),
)


def _seed_song_entries(songs: Activity) -> None:
    """Each singer signs up through the engine, then enters: the flow a worker follows on the site."""
    from .contests.services import EntryData, submit_entry
    from .registrations.services import register

    for mobile, category, song, members in SONG_ENTRIES:
        singer = db.session.scalars(select(User).where(User.mobile == mobile)).one()
        register(singer, songs.id)
        submit_entry(singer, songs.id, EntryData(title=song, category=category, team_leader=singer.name,
                                                 members=members, consent_publish_name=True))


@click.command("seed-demo", help="Load the demo unions, users and activities from the seed page (once).")
@with_appcontext
def seed_demo_command():
    try:
        created = seed_demo()
    except DemoRefused as error:
        raise click.ClickException(str(error)) from None
    if created["activities"] == 0:
        click.echo("demo data already present; nothing changed")
    else:
        click.echo(f"loaded {created['nodes']} unions, {created['users']} users, "
                   f"{created['activities']} activities")
        click.echo(f"showcase: contest results /contests/{created['contest_id']}/results, draw /activities/"
                   f"{created['draw_id']} (flask activities verify-draw {created['draw_id']}), series "
                   f"/activities/{created['series_id']}, seating /manage/activities/{created['meeting_id']}/seating")


def print_demo_logins() -> None:
    click.echo("Demo logins (development only), password: " + DEMO_PASSWORD)
    for label, mobile in DEMO_LOGINS:
        click.echo(f"  {label:<32} {mobile}")
