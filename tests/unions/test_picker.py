"""The sign-up page's union picker copes with a large tree: a bounded list, a search step without
JavaScript that lists matches with their paths, and the script that searches the API as you type."""
from __future__ import annotations

import re

from unionevents.unions.imports import import_unions


def big_tree(size: int = 2_000) -> None:
    """A city, 4 districts, 10 streets each, and workplaces under the streets: ``size`` unions."""
    lines = ["name,parent", "北京市总工会,"]
    streets = []
    for d in range(4):
        lines.append(f"第{d}区总工会,北京市总工会")
        for s in range(10):
            streets.append(f"第{d}区第{s}街道总工会")
            lines.append(f"{streets[-1]},第{d}区总工会")
    for w in range(size - len(lines) + 1):
        lines.append(f"快递驿站{w}号工会,{streets[w % len(streets)]}")
    assert import_unions(("\n".join(lines) + "\n").encode(), "tree.csv").ok


def options(page: str) -> list[tuple[str, str]]:
    select = re.search(r'<select id="union_id".*?</select>', page, re.S).group(0)
    return [(v, label.strip()) for v, label in re.findall(r'<option[^>]*value="([^"]*)"[^>]*>([^<]*)</option>', select)]


def test_a_small_tree_is_listed_whole(client, make):
    tree = make.tree()
    page = client.get("/account/signup").get_data(as_text=True)
    assert (str(tree["奥运村快递驿站联合工会"].id), "奥运村快递驿站联合工会") in options(page)
    assert 'form="union-search"' in page and '<form id="union-search" method="get"' in page


def test_a_large_tree_lists_the_upper_levels_and_the_search_step_finds_the_rest(client, app):
    big_tree()
    page = client.get("/account/signup").get_data(as_text=True)
    listed = options(page)
    assert len(listed) == 1 + 1 + 4 + 40  # "not a member", the city, districts, streets
    assert "搜索您所在的基层工会" in page
    found = client.get("/account/signup", query_string={"union_q": "驿站1954号"}).get_data(as_text=True)
    labels = [label for _value, label in options(found)]
    assert "北京市总工会 › 第3区总工会 › 第3区第4街道总工会 › 快递驿站1954号工会" in labels
    many = client.get("/account/signup", query_string={"union_q": "驿站"}).get_data(as_text=True)
    assert len(options(many)) == 1 + 50 and "1955" in many  # 1,955 found, the first 50 listed


def test_the_search_step_keeps_the_chosen_union_and_the_page_answers_any_query(client, app, make, login):
    big_tree(500)
    user = make.user("骑手", union="快递驿站7号工会")
    login(user)
    page = client.get("/account/profile", query_string={"union_q": "第0区"}).get_data(as_text=True)
    chosen = [(v, label) for v, label in options(page) if "快递驿站7号工会" in label]
    assert chosen and f'<option selected value="{chosen[0][0]}">' in page
    for query in ("%", "'", "\u202e", "长" * 500, "<script>"):
        response = app.test_client().get("/account/signup", query_string={"union_q": query})
        assert response.status_code in (200, 400) and b"<script>alert" not in response.data


def test_the_script_is_a_static_file_using_the_public_api(client, make):
    make.tree()
    page = client.get("/account/signup").get_data(as_text=True)
    assert 'data-api="/api/v1/unions"' in page and "union-picker.js" in page
    assert "<script>" not in page  # CSP: no inline scripts
    script = client.get("/static/js/union-picker.js").get_data(as_text=True)
    assert "encodeURIComponent" in script and "data-api" in script
