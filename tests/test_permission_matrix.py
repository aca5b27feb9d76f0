"""Every route declares who may reach it, and each identity gets exactly what its rule says.

Add an identity to IDENTITIES (and what it holds) and every route is checked for it.  The full
matrix (``test_every_route_method_and_ownership_cell``) visits EVERY route × method × ownership variant
as each of MATRIX_IDENTITIES, URL parameters filled with real ids from SAMPLE_ARGS; an argument name
nobody maps fails ``test_every_url_argument_has_a_builder`` and a route left out fails
``test_every_route_is_in_the_matrix``.  How to add a route or a domain: see the comment above ``Arg``.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable

import pytest
from flask import url_for

from unionevents.accounts.models import Role
from unionevents.accounts.services import issue_token
from unionevents.core.permissions import ACCESS_ATTR
from tests.factories import check_in_at_the_door

#: Tests that judge before the entry deadline close submissions early, as an organiser may (with a reason).
EARLY = "评委日程提前，提前截止投稿"

EXEMPT_ENDPOINTS = {"static"}
EXEMPT_PREFIXES = ("api-docs.",)  # flask-smorest's OpenAPI document


@dataclass(frozen=True)
class Identity:
    name: str
    roles: frozenset[Role]           # node-scoped roles held (admin: all node-scoped roles)
    build: Callable | None           # (make, tree, world=None) -> User; None for an anonymous visitor
    organiser_scope: str | None = None  # the union whose activities this identity organises
    officer_scope: str | None = None    # the union whose reports this identity reads


def _user(name, role=None, scope="北京市总工会", union="玉泉营商场工会"):
    def build(make, tree, world=None):
        return make.user(name, union=tree[union], role=role, scope=tree[scope] if role else None)
    return build


def _activity_user(name, role, activity_attr):
    """A judge / medical staff member: a grant on one activity of the world (world.contest, world.health)."""
    def build(make, tree, world=None):
        return make.user(name, union=tree["玉泉营商场工会"], role=role,
                         activity=getattr(world, activity_attr))
    return build


IDENTITIES = [
    Identity("anonymous", frozenset(), None),
    Identity("worker", frozenset(), _user("职工")),
    Identity("organiser", frozenset({Role.ORGANISER}), _user("组织者", Role.ORGANISER, "丰台区玉泉营街道总工会")),
    Identity("officer", frozenset({Role.OFFICER}), _user("干部", Role.OFFICER, "朝阳区总工会")),
    Identity("admin", frozenset({Role.ADMIN, Role.ORGANISER, Role.OFFICER}), _user("管理员", Role.ADMIN)),
]


def classified_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in EXEMPT_ENDPOINTS or rule.endpoint.startswith(EXEMPT_PREFIXES):
            continue
        yield rule, getattr(app.view_functions[rule.endpoint], ACCESS_ATTR, None)


def expected_allowed(access_rule: str, identity: Identity) -> bool:
    if access_rule == "public":
        return True
    if identity.build is None:
        return False
    if access_rule in ("login", "token"):  # "token": any account, by bearer token (as_identity sends one)
        return True
    assert access_rule.startswith("role:"), access_rule
    needed = {Role(value) for value in access_rule[len("role:"):].split(",")}
    return bool(needed & identity.roles)


def is_denial(response) -> bool:
    if response.status_code in (401, 403):
        return True
    return response.status_code == 302 and response.headers["Location"].startswith("/account/login")


def is_allowed(response) -> bool:
    return 200 <= response.status_code < 400 and not is_denial(response)


def test_every_route_is_classified(app):
    unclassified = sorted(f"{rule.rule} ({rule.endpoint})" for rule, access in classified_rules(app)
                          if access is None)
    assert not unclassified, "routes without @public / @login_required / @token_required / @role_required: " + \
        ", ".join(unclassified)


def test_access_rules_are_known(app):
    for rule, access in classified_rules(app):
        assert access in ("public", "login", "token") or access.startswith("role:"), (rule.rule, access)
        if access.startswith("role:"):
            for value in access[len("role:"):].split(","):
                Role(value)


@pytest.fixture
def as_identity(app, make):
    """``as_identity(identity)`` -> (client, headers): a session for HTML, a bearer token for /api/."""
    tree = make.tree()

    def _as(identity: Identity):
        client = app.test_client()
        if identity.build is None:
            return client, {}
        user = identity.build(make, tree)
        with client.session_transaction() as session:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True
        return client, {"Authorization": f"Bearer {issue_token(user, 'matrix')}"}

    return _as


def get_routes_without_parameters(app):
    for rule, access in classified_rules(app):
        if "GET" in rule.methods and not rule.arguments:
            yield rule, access


@pytest.mark.parametrize("identity", IDENTITIES, ids=lambda i: i.name)
def test_get_routes_allow_and_deny_as_declared(app, as_identity, identity):
    client, headers = as_identity(identity)
    cells = []
    for rule, access in get_routes_without_parameters(app):
        response = client.get(rule.rule, headers=headers)
        assert response.status_code < 500, (rule.rule, response.status_code)
        if expected_allowed(access, identity):
            assert is_allowed(response), \
                f"{identity.name} denied {rule.rule} ({access}): {response.status_code}"
        else:
            assert is_denial(response), \
                f"{identity.name} reached {rule.rule} ({access}): {response.status_code}"
        cells.append(rule.rule)
    assert len(cells) >= 10


def _all_methods(app):
    """(rule, method, url, access) for every route and method, URL parameters filled with 1."""
    with app.test_request_context():
        for rule, access in classified_rules(app):
            url = url_for(rule.endpoint, **{arg: 1 for arg in rule.arguments})
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method, url, access


@pytest.mark.parametrize("identity", [i for i in IDENTITIES if not i.roles], ids=lambda i: i.name)
def test_protected_routes_deny_every_method_before_doing_anything(app, as_identity, identity):
    """Anonymous visitors are sent to log in (401 under /api/); workers get 403 from role routes."""
    client, headers = as_identity(identity)
    checked = 0
    for _rule, method, url, access in _all_methods(app):
        if expected_allowed(access, identity):
            continue
        response = client.open(url, method=method, headers=headers)
        if identity.build is None:
            expected = 401 if url.startswith("/api/") else 302
            assert response.status_code == expected and is_denial(response), \
                (method, url, response.status_code)
        else:
            assert response.status_code == 403, (method, url, response.status_code)
        checked += 1
    assert checked >= 3


# =========================================================================== the full matrix
#
# Every (route, method) × identity × ownership cell.  URL parameters get REAL ids: each argument maps to
# an ``Arg`` with the ownership variants it is tried in and a builder ``build(world, variant, args) ->
# id`` (``args`` holds the ids already built for this URL, so a round is built in the URL's contest).
# ``arg_spec`` finds it: first ARG_OVERRIDES by endpoint, then by blueprint, then SAMPLE_ARGS by name.
# An argument nobody maps fails ``test_every_url_argument_has_a_builder`` — a new route cannot escape.
#
# Adding a route or a domain:
#   1. a new URL argument gets ``"x_id": Arg(("own", "other's"), _build_x)`` in SAMPLE_ARGS, its builder
#      making the object through the domain's services (``world.user`` owns the identity's own object);
#      where the same name means another object on some routes, an ARG_OVERRIDES entry;
#   2. a rule beyond the decorator (organiser of THIS activity, judge of THIS contest, medical staff of
#      THIS health service) goes into OBJECT_RULES; "other's" variants are denied unless a rule says so;
#   3. API POSTs whose authorization depends on the body get a body in SAMPLE_BODIES, HTML POSTs that
#      refuse an empty form before loading the object a form in SAMPLE_FORMS; query arguments
#      that choose an object (the reports' ``?node=``) go into QUERY_ARGS.

STREET = "丰台区玉泉营街道总工会"            # the in-scope street: organiser in scope, most activities
OTHER_STREET = "朝阳区奥运村街道总工会"      # out of scope for them; inside the out-of-scope organiser's district
WORKPLACE = "玉泉营商场工会"                 # under STREET
OTHER_WORKPLACE = "奥运村快递驿站联合工会"   # under OTHER_STREET
ASSESSMENT = {"systolic": "128", "diastolic": "82", "heart_rate": "72", "height_cm": "172.5",
              "weight_kg": "68.4", "cervical": "mild", "lumbar": "normal", "advice": "多拉伸"}


@dataclass(frozen=True)
class Arg:
    variants: tuple[str, ...]
    build: Callable  # (world, variant, args) -> int (or the value itself, e.g. a download format)


class World:
    """The people and places of one matrix run; objects for allowed POST cells are built fresh per cell.

    ``world.contest`` is the contest the judge sits on (a photo contest, judged once ``scene("judged")``
    runs), ``world.health`` the health service of the medical staff; both exist before the identity."""

    def __init__(self, make, tree, identity: Identity):
        from unionevents.activities.models import ActivityKind
        from unionevents.contests import services as contests
        self.make, self.tree, self.identity = make, tree, identity
        self.other_worker = make.user("别人", union=tree[WORKPLACE])
        self.in_scope_node = tree[STREET]
        self.out_of_scope_node = tree[OTHER_STREET]
        self.organiser = make.user("活动组织者", union=tree[WORKPLACE], role=Role.ORGANISER, scope=tree[STREET])
        self.contest = make.activity("技能比赛", kind=ActivityKind.CONTEST, capacity=50)
        contests.setup_contest(self.organiser, self.contest.id, contests.ContestSettings(
            format=contests.ContestFormat.PHOTO, entry_limit=5))
        self.health = _health_activity(make, "体检", tree[STREET])
        self.user = identity.build(make, tree, self) if identity.build else None
        self.cache: dict = {}
        self.scenes: dict = {}

    def activity(self, variant: str, **fields):
        node = self.in_scope_node if variant == "in scope" else self.out_of_scope_node
        return self.make.activity(f"活动{variant}", node=node, **fields)

    def worker(self, name: str | None = None):
        """A worker of another union (never the identity): a new one by ``name``, else always the same
        one (each account costs a commit; one person may own many of the "other's" objects)."""
        if name is not None:
            return self.make.user(name, union=self.tree[OTHER_WORKPLACE])
        if "someone" not in self.scenes:
            self.scenes["someone"] = self.make.user("别人", union=self.tree[OTHER_WORKPLACE])
        return self.scenes["someone"]

    def owner(self, variant: str):
        """The identity for an "own" object (when it has an account), someone else otherwise."""
        return self.user if variant.startswith("own") and self.user is not None else self.worker()

    def scene(self, name: str, build: Callable):
        """Objects shared by many cells, built once per world: ``build(world) -> dict``."""
        if name not in self.scenes:
            self.scenes[name] = build(self)
        return self.scenes[name]


def _judge(name):
    """A judge on world.contest's panel (added through the contest service, which grants the role)."""
    def build(make, tree, world=None):
        from unionevents.contests.services import add_judge, contest_for_activity
        user = make.user(name, union=tree[WORKPLACE])
        add_judge(world.organiser, contest_for_activity(world.contest.id).id, user.mobile)
        return user
    return build


# --------------------------------------------------------------------------- activities, registrations

def _register(user, activity_id):
    from unionevents.activities.models import Activity, ActivityKind
    from unionevents.extensions import db
    from unionevents.registrations.services import register
    activity = db.session.get(Activity, activity_id)  # a shared activity may have got slots by now
    health = activity.kind == ActivityKind.HEALTH
    return register(user, activity_id, slot_id=activity.slots[0].id if activity.slots else None,
                    health_consent=health).id


def _health_activity(make, title, node):
    from datetime import timedelta

    from unionevents.activities.models import ActivityKind
    from unionevents.activities.services import add_slots
    from unionevents.extensions import db
    activity = make.activity(title, kind=ActivityKind.HEALTH, node=node, capacity=0)
    add_slots(activity, activity.starts_at, activity.starts_at + timedelta(hours=1), 30, 50)
    db.session.commit()
    return activity


def _build_activity(world, variant, args):
    return world.activity(variant).id


def _build_registration(world, variant, args):
    return _register(world.owner(variant), world.activity("in scope").id)


def _build_nested_registration(world, variant, args):
    """On /manage/activities/<activity_id>/...: a registration of that activity, or of another one."""
    activity_id = args["activity_id"] if variant == "of this activity" else world.activity("in scope").id
    return _register(world.make.user("报名者", union=world.tree[WORKPLACE]), activity_id)


def _build_message(world, variant, args):
    """/manage/activities/<activity_id>/messages/<message_id>: a message about that activity, or about
    another one, that was not delivered (so "send again" would act)."""
    from unionevents.core.db import write_transaction
    from unionevents.core.outbox import OutboxMessage, OutboxState, enqueue
    from unionevents.extensions import db
    activity_id = args["activity_id"] if variant == "of this activity" else world.activity("in scope").id
    with write_transaction():
        message_id = enqueue(world.other_worker.id, "test", "通知", activity_id=activity_id)
        db.session.execute(OutboxMessage.__table__.update().where(OutboxMessage.id == message_id)
                           .values(state=OutboxState.DEAD, attempts=1, last_error="relay refused: HTTP 400"))
    return message_id


def _build_slot(world, variant, args):
    from datetime import timedelta

    from unionevents.activities.models import Activity
    from unionevents.activities.services import add_slots
    from unionevents.extensions import db
    activity = db.session.get(Activity, args["activity_id"])
    slot = add_slots(activity, activity.starts_at, activity.starts_at + timedelta(minutes=30), 30, 2)[0]
    db.session.commit()
    return slot.id


def _build_question(world, variant, args):
    from unionevents.activities.models import Activity, QuestionKind
    from unionevents.activities.services import add_question
    from unionevents.extensions import db
    question = add_question(db.session.get(Activity, args["activity_id"]), "尺码", QuestionKind.TEXT)
    db.session.commit()
    return question.id


def _build_quota(world, variant, args):
    from unionevents.activities.models import Activity
    from unionevents.activities.services import set_unit_quota
    from unionevents.extensions import db
    quota = set_unit_quota(db.session.get(Activity, args["activity_id"]), world.tree[WORKPLACE], 2)
    db.session.commit()
    return quota.id


def _build_grant(world, variant, args):
    user = world.make.user("被授权者", union=world.tree[WORKPLACE], role=Role.OFFICER,
                           scope=world.tree["丰台区总工会"])
    return user.grants[0].id


def _build_token(world, variant, args):
    from sqlalchemy import select

    from unionevents.accounts.models import ApiToken
    from unionevents.extensions import db
    owner = world.user if variant == "own" and world.user is not None else world.other_worker
    issue_token(owner, f"matrix-{variant}")
    return db.session.scalars(select(ApiToken.id).where(ApiToken.user_id == owner.id)
                              .order_by(ApiToken.id.desc())).first()


def _build_node(world, variant, args):
    return (world.in_scope_node if variant == "in scope" else world.out_of_scope_node).id


def _build_unit(world, variant, args):
    return world.tree[WORKPLACE if variant == "in scope" else OTHER_WORKPLACE].id


def _build_enrol_activity(world, variant, args):
    """A city-wide activity any union may enrol into, or one with a quota for WORKPLACE only."""
    from unionevents.activities.models import Activity, SignupMode
    from unionevents.activities.services import set_unit_quota
    from unionevents.extensions import db
    quotas = variant == "quota for one union"
    activity = world.make.activity("全市活动", node=world.tree["北京市总工会"], capacity=20,
                                   mode=SignupMode.QUOTA if quotas else SignupMode.FIRST_COME)
    if quotas:
        set_unit_quota(db.session.get(Activity, activity.id), world.tree[WORKPLACE], 5)
        db.session.commit()
    return activity.id


def _build_format(world, variant, args):
    return "pdf" if variant == "unknown format" else variant


# --------------------------------------------------------------------------- contests

def _photo():
    import io

    from PIL import Image

    from unionevents.contests.services import Upload
    out = io.BytesIO()
    Image.new("RGB", (16, 12), (200, 40, 40)).save(out, "JPEG")
    return Upload(stream=io.BytesIO(out.getvalue()), filename="photo.jpg")


def _enter(activity_id: int, user, consent: bool = False):
    """``user``'s entry in the contest of ``activity_id`` (a photo, or a solo performance)."""
    from unionevents.contests import services as contests
    photo = contests.get_contest(activity_id).is_photo
    data = contests.EntryData(title="作品", description="", consent_publish_name=consent,
                              category=None if photo else "solo", team_leader="" if photo else user.name)
    return contests.submit_entry(user, activity_id, data, [_photo()] if photo else [])


def _image_of(entry_id: int) -> int:
    from sqlalchemy import select

    from unionevents.contests.models import EntryImage
    from unionevents.extensions import db
    return db.session.scalar(select(EntryImage.id).where(EntryImage.entry_id == entry_id))


def _judged(world, activity_id: int, with_identity: bool) -> dict:
    """Entries in a contest (one the judge is assigned, one not, and, ``with_identity``, the identity's
    own), then its first round opened: from then on the entries are locked."""
    from unionevents.contests import services as contests
    contest = contests.get_contest(activity_id)
    assigned = _enter(activity_id, world.worker("参赛者甲"))
    unassigned = _enter(activity_id, world.worker("参赛者乙"))
    own = _enter(activity_id, world.user) if with_identity and world.user is not None else unassigned
    panel = contests.judge_of(world.user, contest) if world.user is not None else None
    if panel is not None:
        contests.assign_entries(world.organiser, contest.id, panel.id, [assigned.code])
    round_ = contests.open_round(world.organiser, contest.id, contest.rounds[0].id, override_reason=EARLY)
    return {"round": round_.id, "assigned": assigned.id, "unassigned": unassigned.id, "own": own.id}


def _judged_contest(world) -> dict:
    return _judged(world, world.contest.id, with_identity=True)


def _other_judged_contest(world) -> dict:
    """A contest in judging whose panel the judge is not on."""
    from unionevents.activities.models import ActivityKind
    from unionevents.contests import services as contests
    activity = world.make.activity("另一场比赛", kind=ActivityKind.CONTEST)
    contests.setup_contest(world.organiser, activity.id, contests.ContestSettings(
        format=contests.ContestFormat.PERFORMANCE, entry_limit=1))
    return _judged(world, activity.id, with_identity=False)


def _showcase(world) -> dict:
    """A photo contest open for entries and the public vote, its results (one winner) published."""
    from datetime import timedelta

    from unionevents.activities.models import ActivityKind
    from unionevents.contests import services as contests
    from unionevents.core.timeutil import now
    activity = world.make.activity("职工摄影展", kind=ActivityKind.CONTEST, capacity=200)
    contest = contests.setup_contest(world.organiser, activity.id, contests.ContestSettings(
        format=contests.ContestFormat.PHOTO, entry_limit=contests.MAX_ENTRY_LIMIT, public_vote=True,
        vote_opens_at=now() - timedelta(days=1), vote_closes_at=now() + timedelta(days=5)))
    winner = _enter(activity.id, world.worker("获奖者"), consent=True)
    contests.set_award(world.organiser, contest.id, winner.id, contest.tiers[0].id)
    contests.publish_results(world.organiser, contest.id)
    return {"activity": activity.id, "contest": contest.id, "winner": winner.id}


def _build_showcase(world, variant, args):
    return world.scene("showcase", _showcase)["activity"]


def _build_entry(world, variant, args):
    """/me/entries/<entry_id>: an entry of the identity's, or someone else's, in the open contest."""
    return _enter(world.scene("showcase", _showcase)["activity"], world.owner(variant)).id


def _build_awarded_entry(world, variant, args):
    """An entry holding a published award: the identity's own, or the showcase's winner."""
    from unionevents.contests import services as contests
    show = world.scene("showcase", _showcase)
    if not (variant.startswith("own") and world.user is not None):
        return show["winner"]
    entry = _enter(show["activity"], world.user)
    contest = contests.get_contest(show["activity"])
    contests.unpublish_results(world.organiser, contest.id)  # awards change only while unpublished
    contests.set_award(world.organiser, contest.id, entry.id, contest.tiers[0].id)
    contests.publish_results(world.organiser, contest.id)
    return entry.id


def _build_certificate_code(world, variant, args):
    """A certificate's verification code: the showcase winner's (published), or one nobody holds."""
    if variant != "of a published award":
        return "NOSUCHCODE"
    from sqlalchemy import select

    from unionevents.contests.models import Award
    from unionevents.extensions import db
    winner = world.scene("showcase", _showcase)["winner"]
    return db.session.scalar(select(Award.verify_code).where(Award.entry_id == winner))


def _build_voted_entry(world, variant, args):
    if variant == "of this contest":
        return world.scene("showcase", _showcase)["winner"]
    return world.scene("judged", _judged_contest)["unassigned"]


def _build_image(world, variant, args):
    if variant == "published winner's":
        return _image_of(world.scene("showcase", _showcase)["winner"])
    judged = world.scene("judged", _judged_contest)
    key = {"own": "own", "assigned to the judge": "assigned", "not assigned to the judge": "unassigned"}
    return _image_of(judged[key[variant]])


def _recorded(world) -> dict:
    """A singing contest (world.in_scope_node) whose solo entries carry a recording; a judge identity is
    put on its panel (no entries linked: the panel sees them all)."""
    import io

    from unionevents.activities.models import ActivityKind
    from unionevents.contests import services as contests
    from unionevents.core.permissions import has_role
    activity = world.make.activity("职工歌手赛", kind=ActivityKind.CONTEST)
    contest = contests.setup_contest(world.organiser, activity.id, contests.ContestSettings(
        format=contests.ContestFormat.PERFORMANCE, entry_limit=1))
    if world.user is not None and has_role(world.user, Role.JUDGE):
        contests.add_judge(world.organiser, contest.id, world.user.mobile)

    def sing(user) -> int:
        data = contests.EntryData(title="歌", description="", category="solo", team_leader=user.name)
        recording = contests.Upload(stream=io.BytesIO(b"ID3" + b"\0" * 200), filename="song.mp3")
        return contests.submit_entry(user, activity.id, data, [], recording=recording).id

    other = sing(world.worker("歌手乙"))
    return {"other": other, "own": sing(world.user) if world.user is not None else other}


def _build_recording(world, variant, args):
    return world.scene("recorded", _recorded)["own" if variant == "own" else "other"]


def _hears_recording(identity, variants, world, args) -> bool:
    """The entrant, the contest's organisers and its judges: never voters or the public."""
    if variants["entry_id"] == "own" and world.user is not None:
        return True
    return _organises(identity, world.in_scope_node, world) or Role.JUDGE in identity.roles


def _build_judge_round(world, variant, args):
    if variant == "of the judge's contest":
        return world.scene("judged", _judged_contest)["round"]
    return world.scene("other judged", _other_judged_contest)["round"]


def _build_judge_entry(world, variant, args):
    judged = world.scene("judged", _judged_contest)
    if args["round_id"] != judged["round"]:
        judged = world.scene("other judged", _other_judged_contest)
    return judged["assigned" if variant == "assigned to the judge" else "unassigned"]


def _build_managed_contest(world, variant, args):
    from unionevents.activities.models import ActivityKind
    from unionevents.contests import services as contests
    activity = world.activity(variant, kind=ActivityKind.CONTEST)
    contests.setup_contest(world.organiser, activity.id, contests.ContestSettings(
        format=contests.ContestFormat.PERFORMANCE, entry_limit=1))
    return activity.id


def _other_contest(world) -> dict:
    """Another in-scope contest, not started, with an entry and a judge: every action the organiser
    pages offer would succeed on it, so reaching it through another contest's URL would show."""
    from unionevents.contests.services import add_judge
    activity_id = _build_managed_contest(world, "in scope", {})
    entry = _enter(activity_id, world.worker("别的参赛者"))
    judge = add_judge(world.organiser, entry.contest_id, world.worker("别的评委").mobile)
    return {"activity": activity_id, "entry": entry.id, "judge": judge.id}


def _contest_of(world, variant, args):
    """The contest of the URL's activity, or (variant "of another contest") the other contest."""
    from unionevents.contests.services import get_contest
    return get_contest(args["activity_id"] if variant == "of this contest"
                       else world.scene("other contest", _other_contest)["activity"])


def _build_round(world, variant, args):
    return _contest_of(world, variant, args).rounds[0].id


def _build_criterion(world, variant, args):
    return _contest_of(world, variant, args).criteria[0].id


def _build_tier(world, variant, args):
    return _contest_of(world, variant, args).tiers[0].id


def _build_panel_judge(world, variant, args):
    from unionevents.contests.services import add_judge
    if variant == "of another contest":
        return world.scene("other contest", _other_contest)["judge"]
    return add_judge(world.organiser, _contest_of(world, variant, args).id, world.worker().mobile).id


def _build_contest_entry(world, variant, args):
    if variant == "of this contest":
        return _enter(args["activity_id"], world.worker()).id
    return world.scene("other contest", _other_contest)["entry"]


# --------------------------------------------------------------------------- health

_SECOND_OWNERS = itertools.count(1)


def _takes_part(user, activity_id) -> bool:
    from sqlalchemy import select

    from unionevents.extensions import db
    from unionevents.registrations.models import TAKING_PART_STATES, Registration
    return db.session.scalar(select(Registration.id).where(
        Registration.user_id == user.id, Registration.activity_id == activity_id,
        Registration.state.in_(TAKING_PART_STATES))) is not None


def _medic(world):
    return {"medic": world.make.user("体检医生", union=world.tree[WORKPLACE], role=Role.MEDICAL,
                                     activity=world.health)}


def _build_assessment(world, variant, args):
    from unionevents.health.services import record_assessment
    owner = world.owner(variant)
    if owner is not world.user and _takes_part(owner, world.health.id):
        # One registration taking part per person and activity: someone else's second assessment
        # (a fresh object for a POST cell) belongs to another person.
        owner = world.worker(f"体检职工{next(_SECOND_OWNERS)}")
    registration_id = _register(owner, world.health.id)
    check_in_at_the_door(registration_id, world.organiser)
    return record_assessment(world.scene("medic", _medic)["medic"], registration_id, ASSESSMENT).id


def _build_health_activity(world, variant, args):
    if variant == "served by the medical staff":
        return world.health.id
    return world.scene("other health", _other_health)["id"]


def _other_health(world) -> dict:
    return {"id": _health_activity(world.make, "另一场体检", world.tree[STREET]).id}


def _build_health_registration(world, variant, args):
    other = _build_health_activity(world, "another health service", args)
    activity_id = args["activity_id"] if variant == "of this activity" else \
        (other if args["activity_id"] != other else world.health.id)
    return _register(world.make.user("体检职工", union=world.tree[WORKPLACE]), activity_id)


def _build_meeting(world, variant, args):
    from unionevents.activities.models import ActivityKind
    return world.activity(variant, kind=ActivityKind.MEETING).id


def _build_swap(world, variant, args):
    from unionevents.activities.models import ActivityKind
    return world.activity(variant, kind=ActivityKind.SWAP).id


NESTED = ("of this activity", "of another activity")
OF_CONTEST = ("of this contest", "of another contest")
IN_OUT = ("in scope", "out of scope")
SAMPLE_ARGS: dict[str, Arg] = {
    "activity_id": Arg(IN_OUT, _build_activity),
    "registration_id": Arg(("own", "other's"), _build_registration),
    "slot_id": Arg(("of this activity",), _build_slot),
    "question_id": Arg(("of this activity",), _build_question),
    "quota_id": Arg(("of this activity",), _build_quota),
    "grant_id": Arg(("someone's",), _build_grant),
    "token_id": Arg(("own", "other's"), _build_token),
    "node_id": Arg(IN_OUT, _build_node),
    "unit_id": Arg(IN_OUT, _build_unit),
    "fmt": Arg(("csv", "xlsx", "unknown format"), _build_format),
    "entry_id": Arg(("own", "other's"), _build_entry),
    "image_id": Arg(("own", "assigned to the judge", "not assigned to the judge", "published winner's"),
                    _build_image),
    "assessment_id": Arg(("own", "other's"), _build_assessment),
    "round_id": Arg(OF_CONTEST, _build_round),
    "criterion_id": Arg(OF_CONTEST, _build_criterion),
    "tier_id": Arg(OF_CONTEST, _build_tier),
    "judge_id": Arg(OF_CONTEST, _build_panel_judge),
    "message_id": Arg(NESTED, _build_message),
}
NESTED_REGISTRATION = Arg(NESTED, _build_nested_registration)
# The same argument name meaning another object: (endpoint or blueprint, argument) -> Arg.
ARG_OVERRIDES: dict[tuple[str, str], Arg] = {
    ("swaps", "activity_id"): Arg(IN_OUT, _build_swap),
    ("seating", "activity_id"): Arg(IN_OUT, _build_meeting),  # seating and the door dashboard
    ("api_organiser", "activity_id"): Arg(IN_OUT, _build_meeting),  # their JSON read-outs
    ("health", "activity_id"): Arg(("served by the medical staff", "another health service"),
                                   _build_health_activity),
    ("health", "registration_id"): Arg(NESTED, _build_health_registration),
    ("enrol", "activity_id"): Arg(("first come", "quota for one union"), _build_enrol_activity),
    ("contest_manage", "activity_id"): Arg(IN_OUT, _build_managed_contest),
    ("contest_manage", "entry_id"): Arg(OF_CONTEST, _build_contest_entry),
    ("contests", "activity_id"): Arg(("open contest",), _build_showcase),
    ("contests.vote", "entry_id"): Arg(OF_CONTEST, _build_voted_entry),
    ("contests.certificate", "entry_id"): Arg(("own, awarded", "other's, awarded"), _build_awarded_entry),
    ("contests.certificate_pdf", "entry_id"): Arg(("own, awarded", "other's, awarded"), _build_awarded_entry),
    ("contests.certificate_png", "entry_id"): Arg(("own, awarded", "other's, awarded"), _build_awarded_entry),
    ("contests.check_certificate", "code"): Arg(("of a published award", "unknown"), _build_certificate_code),
    ("contests.judge_round", "round_id"): Arg(("of the judge's contest", "of another contest"),
                                              _build_judge_round),
    ("contests.judge_entry", "round_id"): Arg(("of the judge's contest", "of another contest"),
                                              _build_judge_round),
    ("contests.judge_entry", "entry_id"): Arg(("assigned to the judge", "not assigned to the judge"),
                                              _build_judge_entry),
    ("contests.recording", "entry_id"): Arg(("own", "other's"), _build_recording),
}
ARG_ORDER = ("activity_id", "round_id")  # built first, in this order; the others may hang off them


# Query arguments that choose an object (endpoint -> name -> Arg), tried like URL arguments.
QUERY_ARGS: dict[str, dict[str, Arg]] = {
    endpoint: {"node": Arg(IN_OUT, _build_node)}
    for endpoint in ("reports.dashboard", "reports.export", "api_reports.Summary")
}


def arg_spec(rule, name: str) -> Arg:
    blueprint = rule.endpoint.split(".")[0]
    for key in ((rule.endpoint, name), (blueprint, name)):
        if key in ARG_OVERRIDES:
            return ARG_OVERRIDES[key]
    if name == "registration_id" and "activity_id" in rule.arguments:
        return NESTED_REGISTRATION  # the organiser's view of one registration of the URL's activity
    query = QUERY_ARGS.get(rule.endpoint, {})
    return query[name] if name in query else SAMPLE_ARGS[name]


def _iso(dt):
    return dt.isoformat(timespec="seconds") + "Z"


def _checkin_body(world, args):
    from unionevents.extensions import db
    from unionevents.registrations.models import Registration
    from unionevents.registrations.services import ticket_token
    registration = db.session.get(Registration, _build_nested_registration(
        world, "of this activity", {"activity_id": world.activity("in scope").id}))
    return {"token": ticket_token(registration)}


def _activity_body(world, args):
    from datetime import timedelta

    from unionevents.core.timeutil import now
    start = now().replace(microsecond=0) + timedelta(days=20)
    return {"title": "接口建的活动", "kind": "class", "node_id": world.in_scope_node.id,
            "starts_at": _iso(start), "ends_at": _iso(start + timedelta(hours=1)),
            "signup_opens_at": _iso(start - timedelta(days=5)),
            "signup_closes_at": _iso(start - timedelta(days=1)), "capacity": 5}


# API POSTs whose authorization depends on the body: a valid body about an in-scope object.
SAMPLE_BODIES: dict[str, Callable] = {
    "api_checkin.CheckIns": _checkin_body,
    "api_activities.ActivityCreateView": _activity_body,
    "api_registrations.ActivityRegistrations": lambda world, args: {},
    "api_accounts.Tokens": lambda world, args: {"mobile": world.other_worker.mobile, "password": "secret123"},
}
# HTML POSTs that check their form before the object: a valid form, so the object check is reached.
SAMPLE_FORMS: dict[str, Callable] = {
    "contest_manage.set_award": lambda world, args: {"tier_id": ""},  # "" takes the award away
    "seating.seating_page": lambda world, args: {"rows": "2", "seats_per_row": "5"},
}
# Token routes that also need an organiser, and whether the scope that counts is the URL's activity
# (True) or the in-scope union named in the body (False).
ORGANISER_API_ENDPOINTS = {"api_checkin.ScannerRoster": True, "api_checkin.CheckIns": False,
                           "api_activities.ActivityCreateView": False,
                           "api_organiser.SeatingChart": True, "api_organiser.DoorDashboard": True}


# --------------------------------------------------------------------------- object-level expectations

def _covers(scope: str | None, node, world) -> bool:
    return scope is not None and node.path.startswith(world.tree[scope].path)


def _organises(identity: Identity, node, world) -> bool:
    return _covers(identity.organiser_scope, node, world)


def _activity_node(activity_id):
    from unionevents.activities.models import Activity
    from unionevents.extensions import db
    return db.session.get(Activity, activity_id).node


def _node(node_id):
    from unionevents.extensions import db
    from unionevents.unions.models import UnionNode
    return db.session.get(UnionNode, node_id)


def _all_of_this(variants) -> bool:
    """Every object below the URL's first one belongs to it ("of this activity", "of this contest")."""
    return not any(v.startswith("of another") for k, v in variants.items() if k != "activity_id")


def _manages_activity(identity, variants, world, args) -> bool:
    return _organises(identity, _activity_node(args["activity_id"]), world) and _all_of_this(variants)


def _organises_node(identity, variants, world, args) -> bool:
    return _organises(identity, _node(args["node_id"]), world)


def _manages_below(identity, variants, world, args) -> bool:
    """The union tree: an organiser renames, moves, retires or merges only the unions strictly below
    the union of their grant (admins: below the city, i.e. every union but the top)."""
    node = _node(args["node_id"])
    scope = identity.organiser_scope
    return _covers(scope, node, world) and node.id != world.tree[scope].id


def _may_enrol(identity, variants, world, args) -> bool:
    """Organises the unit, and the unit may enrol into the activity (a quota activity: only WORKPLACE)."""
    return _organises(identity, _node(args["unit_id"]), world) and not (
        variants["activity_id"] == "quota for one union" and variants["unit_id"] == "out of scope")


def _reports_on(identity, variants, world, args) -> bool:
    """Known download format; the union asked for (by URL activity or ?node=) in the officer's scope
    (an activity's statistics: also its organisers)."""
    if variants.get("fmt") == "unknown format":
        return False
    if "activity_id" in args:
        node = _activity_node(args["activity_id"])
        return _covers(identity.officer_scope, node, world) or _organises(identity, node, world)
    return "node" not in args or _covers(identity.officer_scope, _node(args["node"]), world)


def _medical_staff_of(identity, variants, world, args) -> bool:
    return variants["activity_id"] == "served by the medical staff" and _all_of_this(variants)


def _judges(identity, variants, world, args) -> bool:
    return variants["round_id"] == "of the judge's contest" and \
        variants.get("entry_id", "assigned to the judge") == "assigned to the judge"


def _sees_image(identity, variants, world, args) -> bool:
    """Everyone sees a published winner; the entrant, the contest's organisers and its judge (for the
    entries assigned to them) see the rest."""
    variant = variants["image_id"]
    if variant == "published winner's":
        return True
    if variant == "own" and world.user is not None:
        return True
    if _organises(identity, world.contest.node, world):
        return True
    return Role.JUDGE in identity.roles and variant == "assigned to the judge"


def _certificate(identity, variants, world, args) -> bool:
    return (variants["entry_id"] == "own, awarded" and world.user is not None) or \
        _organises(identity, world.in_scope_node, world)  # the showcase contest's union


OBJECT_RULES: dict[str, Callable] = {  # endpoint -> (identity, variants, world, args) -> bool
    "api_checkin.CheckInUndo": _manages_activity,  # the URL's activity, and a registration of it
    "swaps.library_node": _organises_node,
    "union_admin.node": _organises_node,
    "union_admin.add_child": _organises_node,
    "union_admin.rename": _manages_below,
    "union_admin.move": _manages_below,
    "union_admin.merge": _manages_below,
    "union_admin.retire": _manages_below,
    "enrol.enrol": _may_enrol,
    "enrol.upload": _may_enrol,
    "reports.dashboard": _reports_on,
    "reports.export": _reports_on,
    "reports.activity": _reports_on,
    "reports.activity_export": _reports_on,
    "api_reports.Summary": _reports_on,
    "health.attendees": _medical_staff_of,
    "health.assess": _medical_staff_of,
    "contests.judge_round": _judges,
    "contests.judge_entry": _judges,
    "contests.image": _sees_image,
    "contests.thumbnail": _sees_image,
    "contests.recording": _hears_recording,
    "contests.vote": lambda identity, variants, world, args: _all_of_this(variants),
    "contests.certificate": _certificate,
    "contests.certificate_pdf": _certificate,
    "contests.certificate_png": _certificate,
    "contests.check_certificate": lambda identity, variants, world, args: variants["code"] == "of a published award",
}


def object_level_allowed(rule, method, identity: Identity, variants: dict, world: World, args: dict) -> bool:
    """The object-level part of the expectation (the decorator's part is ``expected_allowed``)."""
    endpoint = rule.endpoint
    if endpoint in ORGANISER_API_ENDPOINTS:
        by_url = ORGANISER_API_ENDPOINTS[endpoint]
        node = _activity_node(args["activity_id"]) if by_url else world.in_scope_node
        return _organises(identity, node, world)
    if endpoint in OBJECT_RULES:
        return OBJECT_RULES[endpoint](identity, variants, world, args)
    if rule.rule.startswith("/manage/activities/<int:activity_id>"):
        return _manages_activity(identity, variants, world, args)
    return "other's" not in variants.values()  # nobody reaches someone else's registration, entry, record


def _arg_names(rule) -> list[str]:
    def order(name):
        return ARG_ORDER.index(name) if name in ARG_ORDER else len(ARG_ORDER), name
    names = sorted(rule.arguments, key=order)
    return names + sorted(QUERY_ARGS.get(rule.endpoint, {}))


def _cells(app):
    for rule, access in classified_rules(app):
        options = [[(name, v) for v in arg_spec(rule, name).variants] for name in _arg_names(rule)]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for combination in itertools.product(*options):
                yield rule, access, method, dict(combination)


def _build_args(world, rule, variants, fresh: bool) -> dict:
    args: dict = {}
    for name, variant in variants.items():
        spec = arg_spec(rule, name)
        key = (spec.build, variant, tuple(sorted(args.items())))
        if fresh or key not in world.cache:
            world.cache[key] = spec.build(world, variant, args)
        args[name] = world.cache[key]
    return args


def test_every_url_argument_has_a_builder(app):
    missing = []
    for rule, _access in classified_rules(app):
        for name in rule.arguments:
            try:
                arg_spec(rule, name)
            except KeyError:
                missing.append(f"{name} (in {rule.rule})")
    assert not missing, "add a builder to SAMPLE_ARGS (or ARG_OVERRIDES) for: " + ", ".join(sorted(missing))


def test_every_route_is_in_the_matrix(app):
    """No route is left out of the full matrix (once, some domains' routes were deferred)."""
    covered = {cell[0].rule for cell in _cells(app)}
    assert covered == {rule.rule for rule, _access in classified_rules(app)}


MATRIX_IDENTITIES = [
    Identity("anonymous", frozenset(), None),
    Identity("worker", frozenset(), _user("职工")),
    Identity("worker of another union", frozenset(), _user("外单位职工", union=OTHER_WORKPLACE)),
    Identity("organiser in scope", frozenset({Role.ORGANISER}), _user("组织者", Role.ORGANISER, STREET), STREET),
    Identity("organiser out of scope", frozenset({Role.ORGANISER}),
             _user("外区组织者", Role.ORGANISER, "朝阳区总工会"), "朝阳区总工会"),
    Identity("judge", frozenset({Role.JUDGE}), _judge("评委")),
    Identity("medical staff", frozenset({Role.MEDICAL}), _activity_user("医务人员", Role.MEDICAL, "health")),
    Identity("officer in scope", frozenset({Role.OFFICER}), _user("干部", Role.OFFICER, "丰台区总工会"),
             officer_scope="丰台区总工会"),
    Identity("officer out of scope", frozenset({Role.OFFICER}), _user("外区干部", Role.OFFICER, "朝阳区总工会"),
             officer_scope="朝阳区总工会"),
    Identity("admin", frozenset({Role.ADMIN, Role.ORGANISER, Role.OFFICER}), _user("管理员", Role.ADMIN),
             "北京市总工会", "北京市总工会"),
]
CELL_COUNTS: dict[str, int] = {}  # identity -> cells checked (printed with -s)


@pytest.mark.parametrize("identity", MATRIX_IDENTITIES, ids=lambda i: i.name)
def test_every_route_method_and_ownership_cell(app, make, identity):
    """Each identity against every (route, method, ownership) cell: allowed exactly where the access rule
    and the object-level scope say; denied (401/403/404, or the login page) everywhere else."""
    from unionevents.accounts.models import User
    from unionevents.extensions import db
    tree = make.tree()
    world = World(make, tree, identity)
    token = issue_token(world.user, "matrix") if world.user else None
    checked, failures, routes = 0, [], set()
    cells = sorted(_cells(app), key=lambda c: (c[2] != "GET", c[0].rule == "/account/logout"))
    for rule, access, method, variants in cells:
        # A denied cell must change nothing, so it may reuse objects; an allowed POST gets fresh ones
        # (it may delete or cancel them).  A denied cell that did change something is caught below.
        # (Builders are deterministic in scope and ownership, so the expectation holds for both.)
        args = _build_args(world, rule, variants, fresh=False)
        expected = expected_allowed(access, identity) and \
            object_level_allowed(rule, method, identity, variants, world, args)
        if expected and method != "GET":
            args = _build_args(world, rule, variants, fresh=True)
        client = app.test_client()
        headers = {}
        if world.user is not None:
            user = db.session.get(User, world.user.id)
            db.session.refresh(user)
            with client.session_transaction() as session:
                session["_user_id"] = user.get_id()
                session["_fresh"] = True
            headers = {"Authorization": f"Bearer {token}"}
        with app.test_request_context():
            url = url_for(rule.endpoint, **args)
        before = _snapshot(args) if method != "GET" else None
        body = SAMPLE_BODIES.get(rule.endpoint)
        form = SAMPLE_FORMS.get(rule.endpoint)
        kwargs = {"json": body(world, args)} if body and method == "POST" else \
            {"data": form(world, args)} if form and method == "POST" else {}
        response = client.open(url, method=method, headers=headers, **kwargs)
        db.session.rollback()
        where = f"{method} {rule.rule} {variants} as {identity.name}: {response.status_code}"
        if response.status_code >= 500:
            failures.append("5xx " + where)
        elif expected and not _matrix_allowed(response, method):
            failures.append("denied " + where)
        elif not expected and not _matrix_denied(response) and not (
                method != "GET" and response.status_code == 302 and _snapshot(args) == before):
            # (a form POST may answer a refusal with a flash and a redirect: then nothing may change)
            failures.append("REACHED " + where)
        checked += 1
        routes.add(rule.rule)
    CELL_COUNTS[identity.name] = checked
    print(f"\npermission matrix: {len(routes)} routes, {checked} cells checked as {identity.name}")
    assert not failures, "\n".join(failures)
    assert checked >= 100


def _models():
    from unionevents.accounts.models import ApiToken, RoleGrant
    from unionevents.activities.models import Activity, Question, TimeSlot, UnitQuota
    from unionevents.contests.models import AwardTier, ContestJudge, Criterion, Entry, EntryImage, Round
    from unionevents.core.outbox import OutboxMessage
    from unionevents.health.models import HealthAssessment
    from unionevents.registrations.models import Registration
    from unionevents.unions.models import UnionNode
    return {"activity_id": Activity, "registration_id": Registration, "slot_id": TimeSlot,
            "question_id": Question, "quota_id": UnitQuota, "grant_id": RoleGrant, "token_id": ApiToken,
            "node_id": UnionNode, "unit_id": UnionNode, "entry_id": Entry, "image_id": EntryImage,
            "assessment_id": HealthAssessment, "round_id": Round, "criterion_id": Criterion,
            "tier_id": AwardTier, "judge_id": ContestJudge, "message_id": OutboxMessage}


def _snapshot(args: dict) -> dict:
    """Every column of every object the URL names (None once deleted)."""
    from unionevents.extensions import db
    db.session.expire_all()
    models, shot = _models(), {}
    for name, ident in args.items():
        obj = db.session.get(models[name], ident) if name in models else None
        shot[name] = None if obj is None else {c.key: getattr(obj, c.key) for c in obj.__table__.columns}
    return shot


def _matrix_denied(response) -> bool:
    return is_denial(response) or response.status_code == 404


def _matrix_allowed(response, method) -> bool:
    if _matrix_denied(response):
        return False
    # A GET that passed the checks shows its page; a POST may still refuse its (empty) input.
    return response.status_code < 400 if method == "GET" else response.status_code < 500
