"""The worker's activity catalogue: each filter, the organiser subtree, bad input, pagination."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from werkzeug.datastructures import MultiDict

from unionevents.accounts.models import Occupation
from unionevents.activities.models import ActivityKind, SignupMode, Visibility
from unionevents.activities.services import set_unit_quota
from unionevents.activities.queries import (
    MAX_PAGE_SIZE, CatalogueFilters, catalogue, parse_catalogue_filters,
)
from unionevents.extensions import db

NOW = datetime(2026, 12, 1, 0, 0)  # 08:00 on 1 December in Beijing


@pytest.fixture
def tree(make, frozen_time):
    frozen_time(NOW)
    return make.tree()


def titles(page) -> set[str]:
    return {a.title for a in page.items}


def run(args=None, user=None):
    return catalogue(parse_catalogue_filters(MultiDict(args or {})), user)


def test_lists_only_published_public_activities_that_have_not_ended(make, tree):
    make.activity("花卉养护课")
    make.activity("草稿", publish=False)
    make.activity("代表交流", visibility=Visibility.INVITATION)
    make.activity("已结束", starts_in=timedelta(days=-3), signup_opens_at=NOW - timedelta(days=10))
    page = run()
    assert titles(page) == {"花卉养护课"}
    assert (page.total, page.page, page.pages) == (1, 1, 1)


def test_kind_filter(make, tree):
    make.activity("花卉养护课", kind=ActivityKind.CLASS_)
    make.activity("送健康", kind=ActivityKind.HEALTH)
    assert titles(run({"kind": "health"})) == {"送健康"}
    assert titles(run({"kind": "class"})) == {"花卉养护课"}


def test_organiser_filter_includes_every_union_below(make, tree):
    make.activity("奥运村送健康", node="朝阳区奥运村街道总工会")
    make.activity("驿站读书会", node="奥运村快递驿站联合工会")
    make.activity("朝阳区劳模报告会", node="朝阳区总工会")
    make.activity("花卉养护课", node="丰台区玉泉营街道总工会")
    chaoyang = tree["朝阳区总工会"].id
    street = tree["朝阳区奥运村街道总工会"].id
    assert titles(run({"node": str(chaoyang)})) == {"奥运村送健康", "驿站读书会", "朝阳区劳模报告会"}
    assert titles(run({"node": str(street)})) == {"奥运村送健康", "驿站读书会"}
    assert titles(run({"node": str(tree["北京市总工会"].id)})) == {
        "奥运村送健康", "驿站读书会", "朝阳区劳模报告会", "花卉养护课"}


def test_district_filter(make, tree):
    make.activity("奥运村送健康", node="朝阳区奥运村街道总工会")
    make.activity("花卉养护课", node="丰台区玉泉营街道总工会")
    assert titles(run({"district": "丰台区"})) == {"花卉养护课"}
    assert titles(run({"district": "朝阳区"})) == {"奥运村送健康"}


def test_date_range_is_in_beijing_time_and_may_reach_into_the_past(make, tree):
    # 15:30 UTC on 3 December is 23:30 in Beijing, still 3 December there.
    make.activity("深夜课", starts_in=timedelta(days=2, hours=15, minutes=30))
    # 16:00 UTC on 3 December is midnight, 4 December, in Beijing.
    make.activity("午夜课", starts_in=timedelta(days=2, hours=16))
    make.activity("上周的课", starts_in=timedelta(days=-7), signup_opens_at=NOW - timedelta(days=20))
    assert titles(run({"from": "2026-12-03", "to": "2026-12-03"})) == {"深夜课"}
    assert titles(run({"from": "2026-12-05"})) == set()
    assert titles(run({"from": "2026-11-20", "to": "2026-11-30"})) == {"上周的课"}
    assert "上周的课" not in titles(run())


def test_open_for_signup_now(make, tree):
    make.activity("正在报名")
    make.activity("尚未开放", signup_opens_at=NOW + timedelta(days=1))
    make.activity("已截止", starts_in=timedelta(hours=1), signup_opens_at=NOW - timedelta(days=3),
                  signup_closes_at=NOW - timedelta(minutes=5))
    assert titles(run({"open": "1"})) == {"正在报名"}
    assert len(run().items) == 3


def test_places_left(make, tree):
    make.activity("还有名额", capacity=2)
    full = make.activity("已满", capacity=1)
    full.taken = 1
    db.session.commit()
    assert titles(run({"places": "on"})) == {"还有名额"}


def test_search_by_title_treats_wildcards_literally(make, tree):
    make.activity("花卉养护课")
    make.activity("以书换蔬")
    make.activity("100%满意课")
    assert titles(run({"q": "花卉"})) == {"花卉养护课"}
    assert titles(run({"q": "%"})) == {"100%满意课"}
    assert titles(run({"q": "_"})) == set()


def test_eligible_filter_in_sql(make, tree):
    rider = make.user("骑手", union="奥运村快递驿站联合工会", occupation=Occupation.RIDER)
    outsider = make.user("非会员", occupation=Occupation.RIDER)
    make.activity("人人可报")
    make.activity("会员专享", members_only=True)
    make.activity("骑手专场", occupations=[Occupation.RIDER, Occupation.COURIER])
    make.activity("教师专场", occupations=[Occupation.TEACHER])
    make.activity("朝阳职工", eligible_nodes=[tree["朝阳区总工会"]])
    make.activity("丰台职工", eligible_nodes=[tree["丰台区总工会"]])
    chaoyang_quota = make.activity("朝阳代表名额", mode=SignupMode.QUOTA)
    set_unit_quota(chaoyang_quota, tree["朝阳区奥运村街道总工会"], 3)
    fengtai_quota = make.activity("丰台代表名额", mode=SignupMode.QUOTA)
    set_unit_quota(fengtai_quota, tree["丰台区总工会"], 3)
    db.session.commit()
    assert titles(run({"eligible": "1"}, rider)) == {"人人可报", "会员专享", "骑手专场", "朝阳职工", "朝阳代表名额"}
    assert titles(run({"eligible": "1"}, outsider)) == {"人人可报", "骑手专场"}
    assert len(run({}, rider).items) == 8


def test_eligible_filter_agrees_with_the_registration_engine(make, tree):
    from unionevents.registrations.services import signup_state

    workers = [make.user("骑手", union="奥运村快递驿站联合工会", occupation=Occupation.RIDER),
               make.user("商场职工", union="玉泉营商场工会", occupation=Occupation.SERVICE_WORKER),
               make.user("非会员", occupation=Occupation.COURIER)]
    make.activity("人人可报")
    make.activity("会员专享", members_only=True)
    make.activity("快递专场", occupations=[Occupation.COURIER])
    make.activity("丰台职工", eligible_nodes=[tree["丰台区总工会"]])
    quota = make.activity("朝阳代表名额", mode=SignupMode.QUOTA)
    set_unit_quota(quota, tree["朝阳区总工会"], 2)
    db.session.commit()
    for worker in workers:
        listed = titles(run({"eligible": "1"}, worker))
        allowed = {a.title for a in run({}, worker).items if signup_state(worker, a).can_sign_up}
        assert listed == allowed, worker.name


def test_eligible_filter_needs_a_login_and_says_so(make, tree):
    make.activity("会员专享", members_only=True)
    filters = parse_catalogue_filters(MultiDict({"eligible": "1"}))
    page = catalogue(filters, None)
    assert titles(page) == {"会员专享"}
    assert filters.messages and not filters.eligible


def test_pagination_is_bounded_and_counts_pages(make, tree):
    for day in range(5):
        make.activity(f"课程{day}", starts_in=timedelta(days=day + 1))
    page = run({"per_page": "2"})
    assert [a.title for a in page.items] == ["课程0", "课程1"]
    assert (page.total, page.pages, page.page) == (5, 3, 1)
    assert [a.title for a in run({"per_page": "2", "page": "3"}).items] == ["课程4"]
    past_end = run({"per_page": "2", "page": "40"})
    assert past_end.page == 3 and [a.title for a in past_end.items] == ["课程4"]
    huge = parse_catalogue_filters(MultiDict({"per_page": "100000"}))
    assert huge.per_page == MAX_PAGE_SIZE and huge.messages


def test_page_totals_hold_whether_or_not_the_catalogue_is_counted(make, tree):
    """A short page is the last one, so its total needs no count; a full page or one past the end is
    counted."""
    assert (run({}).total, run({}).pages, run({}).page, run({}).items) == (0, 1, 1, [])
    assert (run({"page": "5"}).total, run({"page": "5"}).page) == (0, 1)
    for day in range(4):
        make.activity(f"课程{day}", starts_in=timedelta(days=day + 1))
    assert [(p.total, p.pages, p.page, len(p.items)) for p in (
        run({"per_page": "2"}), run({"per_page": "2", "page": "2"}), run({"per_page": "2", "page": "3"}),
        run({"per_page": "3", "page": "2"}), run({"per_page": "4"}), run({"per_page": "5"}),
    )] == [(4, 2, 1, 2), (4, 2, 2, 2), (4, 2, 2, 2), (4, 2, 2, 1), (4, 1, 1, 4), (4, 1, 1, 4)]


@pytest.mark.parametrize("args", [
    {"kind": "party"}, {"node": "abc"}, {"node": "999999"}, {"node": "-3"}, {"from": "2026-13-45"},
    {"to": "yesterday"}, {"open": "maybe"}, {"places": "2"}, {"page": "0"}, {"page": "x"},
    {"page": "99999999999999999999"}, {"per_page": "-1"}, {"district": "区" * 41},
    {"from": "2026-12-10", "to": "2026-12-01"}, {"q": "花" * 200},
])
def test_bad_input_is_ignored_with_a_message(make, tree, args):
    make.activity("花卉养护课")
    filters = parse_catalogue_filters(MultiDict(args))
    assert filters.messages
    page = catalogue(filters, None)
    assert page.page >= 1
    if "q" not in args:
        assert titles(page) == {"花卉养护课"}


def test_good_input_parses_without_messages(tree):
    filters = parse_catalogue_filters(MultiDict({
        "kind": "class", "node": str(tree["朝阳区总工会"].id), "district": "朝阳区", "from": "2026-12-01",
        "to": "2026-12-31", "open": "1", "places": "1", "eligible": "1", "q": "花卉", "page": "2",
        "per_page": "20"}))
    assert filters.messages == []
    assert filters == CatalogueFilters(kind=ActivityKind.CLASS_, node_id=tree["朝阳区总工会"].id,
                                       district="朝阳区", date_from=date(2026, 12, 1),
                                       date_to=date(2026, 12, 31), open_now=True, places_left=True,
                                       eligible=True, q="花卉", page=2, per_page=20)


def test_catalogue_page_renders_filters_messages_and_pager(client, make, tree):
    for day in range(3):
        make.activity(f"课程{day}", starts_in=timedelta(days=day + 1))
    response = client.get("/activities/?per_page=2&kind=party")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "课程0" in page and "课程1" in page and "课程2" not in page
    assert 'rel="next"' in page and "per_page=2" in page
    assert 'class="notice"' in page
    second = client.get("/activities/?per_page=2&page=2").get_data(as_text=True)
    assert "课程2" in second and 'rel="prev"' in second


def test_home_links_to_the_catalogue(client, tree):
    page = client.get("/").get_data(as_text=True)
    assert 'href="/activities/"' in page


def _offered(tree, page) -> set[str]:
    html = page.get_data(as_text=True)
    return {name for name, node in tree.items() if f'<option value="{node.id}"' in html}


def test_organiser_filter_offers_the_organising_unions_and_those_above_them(make, tree, client, login):
    """At city scale every workplace union in the select made the page hundreds of kilobytes on a
    rider's phone: it offers the streets and districts that organise what a worker may find (a
    workplace union's activities count for the street above it), and the worker's own union."""
    make.activity("驿站读书会", node="奥运村快递驿站联合工会")
    make.activity("代表交流", node="丰台区总工会", visibility=Visibility.INVITATION)
    make.activity("草稿", node="丰台区玉泉营街道总工会", publish=False)
    page = client.get("/activities/")
    assert page.status_code == 200
    assert _offered(tree, page) == {"北京市总工会", "朝阳区总工会", "朝阳区奥运村街道总工会"}
    # A union named in the address stays selected though it organises nothing yet.
    fengtai = tree["丰台区总工会"].id
    named = client.get(f"/activities/?node={fengtai}")
    assert f'<option value="{fengtai}" selected>' in named.get_data(as_text=True)
    assert _offered(tree, named) == {"北京市总工会", "朝阳区总工会", "朝阳区奥运村街道总工会", "丰台区总工会"}
    # A worker also finds their own workplace union, and the filter works for it.
    login(make.user("商场职工", union="玉泉营商场工会"))
    mine = client.get("/activities/")
    assert {"玉泉营商场工会", "丰台区玉泉营街道总工会"} <= _offered(tree, mine)
    workplace = tree["奥运村快递驿站联合工会"].id
    assert "驿站读书会" in client.get(f"/activities/?node={workplace}&joinable=0").get_data(as_text=True)
