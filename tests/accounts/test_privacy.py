"""Personal information: export everything (R18), erase leaving no trace, masking, audit page, retention."""
from __future__ import annotations

import io
import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from unionevents.accounts import privacy
from unionevents.accounts.models import ApiToken, Occupation, Role, User
from unionevents.accounts.services import issue_token, user_for_token
from unionevents.activities.models import QuestionKind
from unionevents.activities.services import add_question
from unionevents.core.audit import AuditLog, log_action
from unionevents.core.outbox import OutboxMessage, enqueue
from unionevents.core.timeutil import now
from unionevents.extensions import db
from unionevents.registrations import services as registrations
from unionevents.registrations.models import Registration, RegistrationState

from ..factories import PASSWORD

CANARY_NAME = "金丝雀测试员"
CANARY_MOBILE = "13812349876"
CANARY_ANSWER = "金丝雀的过敏史：花粉"


@pytest.fixture
def canary(make, tree):
    return make.user(CANARY_NAME, mobile=CANARY_MOBILE, union=tree["奥运村快递驿站联合工会"],
                     occupation=Occupation.RIDER)


@pytest.fixture
def organiser(make, tree):
    return make.user("组织者", role=Role.ORGANISER, scope=tree["北京市总工会"])


@pytest.fixture
def scenario(make, tree, canary, organiser):
    """The canary touches every kind of row main knows: registrations (own and entered by others),
    a waiting list, answers, outbox messages, tokens, a role grant, audit rows, an account they made."""
    course = make.activity("花卉养护课", capacity=1)
    question = add_question(course, "过敏史", QuestionKind.TEXT)
    db.session.commit()
    full = make.activity("太极拳", capacity=1)
    other = make.user("李师傅")
    registrations.register(other, full.id)
    own = registrations.register(canary, course.id, answers={str(question.id): CANARY_ANSWER})
    waiting = registrations.register(canary, full.id)
    assert waiting.state == RegistrationState.WAITLISTED
    second = make.user("张大姐")
    waiter = registrations.register(second, course.id)  # waits behind the canary's place
    assert waiter.state == RegistrationState.WAITLISTED
    enqueue(canary.id, "test.note", f"{CANARY_NAME}，您好")
    db.session.commit()
    token = issue_token(canary, "华为手机")
    from unionevents.accounts.services import create_user, grant_role

    made = create_user("13700000001", "王小二", created_by=canary)  # an account the canary made
    grant_role(canary, Role.JUDGE, activity_id=full.id, granted_by=organiser)
    grant_role(second, Role.JUDGE, activity_id=full.id, granted_by=canary)  # a row the canary only acted on
    db.session.commit()
    make.activity("工会开放日", created_by=canary)
    registrations.register(make.user("钱师傅"), course.id, entered_by=canary)
    return {"course": course, "full": full, "own": own, "waiting": waiting, "waiter": waiter,
            "token": token, "made": made, "other": other, "second": second}


def _reference_counts(user_id: int) -> dict[tuple[str, str], int]:
    counts = {}
    for table, column in privacy.user_references():
        counts[(table.name, column.name)] = db.session.scalar(
            select(func.count()).select_from(table).where(column == user_id))
    return counts


# --------------------------------------------------------------------------- export

def test_export_holds_every_row_on_every_foreign_key_path(scenario, canary):
    data = privacy.export_data(canary)
    tables = data["tables"]
    assert data["format"] == privacy.EXPORT_FORMAT and data["user_id"] == canary.id
    assert tables["user"][0]["name"] == CANARY_NAME and tables["user"][0]["mobile"] == CANARY_MOBILE
    covered = set()
    for (table, column), count in _reference_counts(canary.id).items():
        if count == 0:
            continue
        covered.add((table, column))
        section = [rows for name, rows in tables.items()
                   if name == table or name == f"{table}.{column}"]
        exported = sum(1 for rows in section for row in rows if row.get(column) == canary.id)
        assert exported == count, (table, column)
    # The scenario reaches every reference path main has (new tables are found by the same walk).
    assert covered >= {("user", "created_by_id"), ("activity", "created_by_id"), ("api_token", "user_id"),
                       ("audit_log", "actor_id"), ("outbox_message", "user_id"), ("role_grant", "user_id"),
                       ("role_grant", "granted_by_id"), ("registration", "user_id"),
                       ("registration", "entered_by_id")}
    # Rows the canary only acted on carry their key and that column, nothing of the other person.
    assert all(set(row) == {"id", "entered_by_id"} for row in tables["registration.entered_by_id"])


def test_export_leaves_out_secrets_and_other_peoples_data(scenario, canary, organiser, make):
    # The organiser entered a walk-in for someone else: the organiser's export says so, without that data.
    walk_in = make.user("赵工")
    entered = registrations.register(walk_in, scenario["full"].id, entered_by=organiser)
    data = privacy.export_data(organiser)
    assert data["tables"]["registration.entered_by_id"] == [{"id": entered.id, "entered_by_id": organiser.id}]
    assert "赵工" not in json.dumps(data, ensure_ascii=False)

    text = json.dumps(privacy.export_data(canary), ensure_ascii=False)
    user = db.session.get(User, canary.id)
    assert user.password_hash not in text
    digest = db.session.scalar(select(ApiToken.digest).where(ApiToken.user_id == canary.id))
    assert digest not in text
    for name in ("password_hash", "activation_code_hash", "digest", "ticket_secret"):
        assert f'"{name}"' not in text
    assert CANARY_ANSWER in text  # their own answers are theirs to see


def test_download_json_and_xlsx_from_the_account_page(scenario, canary, client, login):
    login(canary)
    page = client.get("/account/profile").get_data(as_text=True)
    assert "/account/data.json" in page and "/account/data.xlsx" in page and "/account/delete" in page

    response = client.get("/account/data.json")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "attachment" in response.headers["Content-Disposition"]
    assert json.loads(response.data)["tables"]["user"][0]["id"] == canary.id

    response = client.get("/account/data.xlsx")
    assert response.status_code == 200
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(response.data))
    assert {"user", "registration", "api_token", "outbox_message"} <= set(book.sheetnames)
    header = [cell.value for cell in book["user"][1]]
    assert "mobile" in header and "password_hash" not in header
    actions = db.session.scalars(select(AuditLog.action).where(AuditLog.actor_id == canary.id)).all()
    assert actions.count("privacy.export") == 2  # the reads are audited


def test_xlsx_never_turns_text_into_a_formula(make, client, login):
    worker = make.user("=HYPERLINK(\"http://evil\")")
    login(worker)
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(client.get("/account/data.xlsx").data))
    header = [cell.value for cell in book["user"][1]]
    cell = book["user"].cell(row=2, column=header.index("name") + 1)
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")


def test_downloads_need_a_login(client):
    assert client.get("/account/data.json").status_code == 302
    assert client.get("/account/data.xlsx").status_code == 302


# --------------------------------------------------------------------------- erasure

def _scan_database_for(*needles: str) -> list[tuple[str, str]]:
    """Every (table, column) whose value contains a needle, over every column of every table."""
    db.session.expire_all()
    hits = []
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(select(table)):
            for key, value in row._mapping.items():
                if value is None:
                    continue
                text = json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)
                if any(needle in text for needle in needles):
                    hits.append((table.name, key))
    return hits


def test_erasure_leaves_no_canary_anywhere_in_the_database(scenario, canary):
    assert _scan_database_for(CANARY_NAME, CANARY_MOBILE, CANARY_ANSWER)  # the scan finds them before
    privacy.erase_account(canary)
    assert _scan_database_for(CANARY_NAME, CANARY_MOBILE, CANARY_ANSWER, "华为手机") == []


def test_erasure_frees_places_promotes_the_waiting_list_and_keeps_the_counts(scenario, canary):
    course = scenario["course"]
    before = db.session.scalar(select(func.count()).select_from(Registration)
                               .where(Registration.activity_id == course.id))
    privacy.erase_account(canary)
    db.session.expire_all()
    own = db.session.get(Registration, scenario["own"].id)
    assert own.state == RegistrationState.CANCELLED and own.answers is None and own.user_id == canary.id
    assert db.session.get(Registration, scenario["waiting"].id).state == RegistrationState.CANCELLED
    assert db.session.get(Registration, scenario["waiter"].id).state == RegistrationState.CONFIRMED
    assert db.session.get(type(course), course.id).taken == 1
    after = db.session.scalar(select(func.count()).select_from(Registration)
                              .where(Registration.activity_id == course.id))
    assert after == before  # reports still count the sign-up


def test_erased_row_keeps_only_what_reports_need(app, scenario, canary, tree):
    privacy.erase_account(canary)
    user = db.session.get(User, canary.id, populate_existing=True)
    assert user.mobile == privacy.erased_mobile(canary.id) and not re.fullmatch(r"1[3-9]\d{9}", user.mobile)
    from flask_babel import force_locale

    with force_locale(app.config["BABEL_DEFAULT_LOCALE"]):
        assert user.name == str(privacy.DELETED_NAME)  # in the site's language, whatever the catalog says
    with force_locale("en"):
        assert str(user.display_name) == "Deleted account"  # and in each viewer's language
    assert user.password_hash is None and user.activated is False and user.erased_at is not None
    assert user.union_id == tree["奥运村快递驿站联合工会"].id and user.occupation == Occupation.RIDER
    assert user.grants == []
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)
                             .where(OutboxMessage.user_id == canary.id)) == 0
    audit = db.session.scalars(select(AuditLog).where(AuditLog.action == "user.erase")).one()
    assert audit.object_id == canary.id and audit.actor_id == canary.id


def test_a_place_past_the_cut_off_stays_taken_but_anonymised(make, canary, frozen_time):
    activity = make.activity("健康讲座", capacity=5, starts_in=timedelta(days=2),
                             cancel_cutoff_at=now() + timedelta(days=1))
    registration = registrations.register(canary, activity.id)
    old_secret = registration.ticket_secret
    frozen_time(activity.cancel_cutoff_at + timedelta(minutes=30))  # too late for the worker to cancel
    privacy.erase_account(canary)
    db.session.expire_all()
    kept = db.session.get(Registration, registration.id)
    assert kept.state == RegistrationState.CONFIRMED
    assert kept.ticket_secret != old_secret  # the old ticket QR no longer works
    assert db.session.get(type(activity), activity.id).taken == 1


def test_erasure_ends_sessions_and_tokens_and_frees_the_number(scenario, canary, client, login, make):
    login(canary)
    assert client.get("/account/profile").status_code == 200
    privacy.erase_account(canary)
    assert client.get("/account/profile").status_code == 302  # the old session no longer works
    assert user_for_token(scenario["token"]) is None
    assert db.session.scalar(select(func.count()).select_from(ApiToken)
                             .where(ApiToken.user_id == canary.id)) == 0
    again = make.user("新账号", mobile=CANARY_MOBILE)  # the worker may come back as a new account
    assert again.id != canary.id
    with pytest.raises(privacy.AlreadyErased):
        privacy.erase_account(db.session.get(User, canary.id))


def test_the_app_factory_hands_privacy_every_domains_erasure_hooks(app):
    """Hooks are registered by each domain's ``init_app`` (called by ``create_app``), not as a side
    effect of some import: an erasure that missed one would leave personal data behind."""
    from unionevents.contests.services.entries import erase_entrant
    from unionevents.health.services import erase_health_records
    from unionevents.registrations.services import erasure
    from unionevents.results.services import erase_feedback_comments

    assert {erasure.anonymise_registrations, erasure.erase_checkin_override_reasons, erase_feedback_comments,
            erase_health_records, erase_entrant} <= set(privacy.erasure_hooks)
    assert erasure.cancel_live_registrations in privacy.pre_erasure_hooks


def test_erasure_hooks_run_inside_the_transaction(canary):
    seen = []

    def hook(user_id):
        seen.append(user_id)
        log_action(None, "test.hook", None, user_id=user_id)

    privacy.register_erasure_hook(hook)
    privacy.register_erasure_hook(hook)
    try:
        privacy.erase_account(canary)
    finally:
        privacy.erasure_hooks.remove(hook)
    assert seen == [canary.id]
    assert db.session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "test.hook")) == 1


def test_delete_page_asks_for_the_password_and_confirmation(scenario, canary, client, login, row_counts):
    login(canary)
    assert client.get("/account/delete").status_code == 200
    before = row_counts()
    wrong = client.post("/account/delete", data={"password": "not-it-123", "understood": "y"})
    assert wrong.status_code == 422 and 'id="password-error"' in wrong.get_data(as_text=True)
    unticked = client.post("/account/delete", data={"password": PASSWORD})
    assert unticked.status_code == 422
    assert row_counts() == before
    assert "Clear-Site-Data" not in wrong.headers and "Clear-Site-Data" not in unticked.headers
    done = client.post("/account/delete", data={"password": PASSWORD, "understood": "y"})
    assert done.status_code == 302 and done.location.endswith("/")
    assert "Clear-Site-Data" not in done.headers  # a worker's pages store nothing on the phone
    assert db.session.get(User, canary.id, populate_existing=True).erased_at is not None
    assert client.get("/account/profile").status_code == 302


def test_an_organiser_deleting_their_account_clears_the_phone(organiser, client, login):
    """As at logout: no door roster copies or offline pages stay on the phone."""
    login(organiser)
    done = client.post("/account/delete", data={"password": PASSWORD, "understood": "y"})
    assert done.status_code == 302
    assert done.headers["Clear-Site-Data"] == '"storage"'


def test_cli_erase(canary, app):
    result = app.test_cli_runner().invoke(args=["privacy", "erase", CANARY_MOBILE, "--yes"])
    assert result.exit_code == 0, result.output
    assert CANARY_MOBILE not in result.output
    assert db.session.get(User, canary.id, populate_existing=True).erased_at is not None


# --------------------------------------------------------------------------- masking

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def test_no_template_prints_a_full_mobile_number():
    """Lists show 138****1234; a template that really needs the full number says why in a comment."""
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for expression in re.findall(r"\{\{(.*?)\}\}", line):
                if re.search(r"(?<!form)(\.mobile\b|\[['\"]mobile['\"]\])(?!\s*\|\s*mask_mobile)", expression) \
                        and "full-mobile:" not in line:
                    offenders.append(f"{path.relative_to(TEMPLATES)}:{number}")
    assert offenders == []


# --------------------------------------------------------------------------- audit page

@pytest.fixture
def admin(make, tree):
    return make.user("管理员", role=Role.ADMIN, scope=tree["北京市总工会"])


def test_audit_page_is_for_admins_only(client, login, canary, organiser):
    assert client.get("/admin/audit").status_code == 302
    login(canary)
    assert client.get("/admin/audit").status_code == 403
    login(organiser)
    assert client.get("/admin/audit").status_code == 403


def test_audit_page_filters_and_pages(client, login, admin, canary, frozen_time):
    frozen_time(datetime(2026, 3, 1, 2, 0))
    for _ in range(60):
        log_action(canary.id, "test.read", canary)
    db.session.flush()  # the time is taken at flush
    frozen_time(datetime(2026, 3, 5, 2, 0))
    log_action(admin.id, "test.admin", None, node_id=1)
    db.session.commit()
    frozen_time(None)
    login(admin)

    page = client.get("/admin/audit?action=test.read").get_data(as_text=True)
    assert page.count("<code>test.read") == 50 and "page=2" in page and "page=0" not in page
    assert client.get("/admin/audit?action=test.read&page=2").get_data(as_text=True).count("<code>test.read") == 10
    page = client.get(f"/admin/audit?actor={admin.mobile}").get_data(as_text=True)
    assert "test.admin" in page and "<code>test.read" not in page
    assert CANARY_MOBILE not in client.get("/admin/audit").get_data(as_text=True)  # masked: 138****9876
    page = client.get("/admin/audit?from=2026-03-04&to=2026-03-05").get_data(as_text=True)
    assert "<code>test.admin" in page
    assert "<code>test.read" not in page
    assert client.get("/admin/audit?from=yesterday").status_code == 422
    assert client.get("/admin/audit?actor=13999999999").status_code == 422


def test_searching_people_is_audited_without_the_search_text(client, login, admin, canary):
    login(admin)
    client.get(f"/admin/users?q={CANARY_MOBILE}")
    row = db.session.scalars(select(AuditLog).where(AuditLog.action == "admin.user_search")).one()
    assert row.actor_id == admin.id and row.data == {"results": 1}


# --------------------------------------------------------------------------- retention

def test_purge_outbox_deletes_only_old_sent_messages(app, canary, frozen_time):
    start = datetime(2026, 1, 1, 0, 0)
    frozen_time(start)
    ids = (enqueue(canary.id, "t", "old sent"), enqueue(canary.id, "t", "old unsent"),
           enqueue(canary.id, "t", "recent sent"))
    db.session.get(OutboxMessage, ids[0]).sent_at = start
    db.session.get(OutboxMessage, ids[2]).sent_at = start + timedelta(days=80)
    db.session.commit()

    frozen_time(start + timedelta(days=90, hours=1))
    result = app.test_cli_runner().invoke(args=["privacy", "purge-outbox"])
    assert result.exit_code == 0 and "deleted 1" in result.output
    left = set(db.session.scalars(select(OutboxMessage.id).where(OutboxMessage.id.in_(ids))))
    assert left == {ids[1], ids[2]}
    audit = db.session.scalars(select(AuditLog).where(AuditLog.action == "retention.purge")).one()
    assert audit.data == {"job": "outbox", "deleted": 1} and audit.at == now()

    frozen_time(start + timedelta(days=171))
    result = app.test_cli_runner().invoke(args=["privacy", "purge-all"])
    assert "outbox: deleted 1" in result.output
    assert set(db.session.scalars(select(OutboxMessage.id).where(OutboxMessage.id.in_(ids)))) == {ids[1]}
