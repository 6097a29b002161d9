"""The queue: what needs action, in which order, and the filters, search and pages around it."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape as html_unescape
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from intake.cases.wording import PageWords, address_markup, address_parts
from intake.db import utcnow
from intake.extensions import db
from intake.models import (
    AuditEvent,
    Case,
    CaseStatus,
    Referral,
    ReferralKind,
    ReferralState,
    Role,
    Urgency,
)
from intake.models.directory import DirectoryEntry
from intake.services import queue as queue_service
from tests.builders import (
    OrgKeyPair,
    give_key,
    make_case,
    make_entry,
    make_org_key,
    make_user,
    sign_in,
)


def refs_in(html: str) -> list[str]:
    return re.findall(r'class="case-ref" href="/cases/([^"]+)"', html)


def queue(client: FlaskClient, query: str = "") -> list[str]:
    response = client.get(f"/cases/?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return refs_in(response.get_data(as_text=True))


def refer(case: Case, due_in: timedelta, state: ReferralState = ReferralState.SENT) -> Referral:
    if db.session.get(DirectoryEntry, "ngo-x") is None:
        make_entry("ngo-x", name="NGO X")
    referral = Referral(
        case_id=case.id,
        entry_id="ngo-x",
        kind=ReferralKind.NGO_REFERRAL,
        state=state,
        due_at=utcnow() + due_in,
    )
    db.session.add(referral)
    db.session.commit()
    return referral


def aged(org: OrgKeyPair, ref: str, hours: float, **fields: Any) -> Case:
    return make_case(org, ref=ref, received_at=utcnow() - timedelta(hours=hours), **fields)


def test_cases_are_ordered_by_urgency_then_nearest_deadline_then_waiting_longest(
    any_app: Flask,
) -> None:
    client = any_app.test_client()
    org = make_org_key()
    me = sign_in(client, Role.CASEWORKER)
    aged(org, "RF-WEEKS", 24, urgency=Urgency.WEEKS)
    aged(org, "RF-IMM-2H", 2, urgency=Urgency.IMMEDIATE)
    aged(org, "RF-IMM-5H", 5, urgency=Urgency.IMMEDIATE)
    # Referred (answered): their deadlines are their referrals' clocks, no first response.
    referred = {"urgency": Urgency.IMMEDIATE, "status": CaseStatus.REFERRED}
    due_late = aged(org, "RF-IMM-DUE5", 1, assignee_id=me.id, **referred)
    due_soon = aged(org, "RF-IMM-DUE2", 0.5, **referred)
    days = aged(org, "RF-DAYS-DUE1", 3, urgency=Urgency.DAYS)  # new: first response in 69 h
    refer(due_late, timedelta(days=5))
    refer(due_soon, timedelta(days=2))
    refer(due_soon, timedelta(days=-30), ReferralState.CLOSED)  # a finished one: no deadline
    refer(days, timedelta(days=1))
    aged(org, "RF-CLOSED", 10, urgency=Urgency.IMMEDIATE, status=CaseStatus.CLOSED)

    # The new immediate ones' first responses (in 19 h and 22 h) come before the referrals.
    expected = ["RF-IMM-5H", "RF-IMM-2H", "RF-IMM-DUE2", "RF-IMM-DUE5", "RF-DAYS-DUE1", "RF-WEEKS"]
    assert queue(client, "view=open") == expected
    # Closed cases only in "all"; with no deadline, after the immediate cases that have one.
    assert queue(client, "view=all") == [*expected[:4], "RF-CLOSED", *expected[4:]]
    html = client.get("/cases/").get_data(as_text=True)
    assert "Answer due from NGO X" in html  # the next action, in words
    # The other sorts.
    newest = queue(client, "view=all&sort=received_desc")
    assert newest[0] == "RF-IMM-DUE2"
    assert newest[-1] == "RF-WEEKS"
    assert queue(client, "view=all&sort=received_asc") == list(reversed(newest))
    # Nearest deadline first, whatever the urgency (a first response too); none: last.
    assert queue(client, "view=all&sort=deadline") == [
        "RF-IMM-5H",
        "RF-IMM-2H",
        "RF-DAYS-DUE1",
        "RF-IMM-DUE2",
        "RF-IMM-DUE5",
        "RF-WEEKS",
        "RF-CLOSED",
    ]


def test_both_deadline_sorts_count_the_first_response_as_the_due_column_does(
    any_app: Flask,
) -> None:
    client = any_app.test_client()
    org = make_org_key()
    me = sign_in(client, Role.CASEWORKER)
    mine = {"urgency": Urgency.IMMEDIATE, "assignee_id": me.id}
    # New, no referral: its first response is due in 23 hours.
    aged(org, "RF-FRESH", 1, **mine)
    # New for 110 days: its first response is 110 days overdue.
    aged(org, "RF-LATE", 110 * 24 + 24, **mine)
    # Answered long ago; its referral is due in three months.
    months = aged(org, "RF-MONTHS", 2000, status=CaseStatus.REFERRED, **mine)
    refer(months, timedelta(days=90))
    # Less urgent, its referral due in two days.
    days = aged(org, "RF-DAYS", 500, status=CaseStatus.REFERRED, urgency=Urgency.DAYS)
    refer(days, timedelta(days=2))
    # Nothing due at all: last, however long it has waited.
    aged(org, "RF-NONE", 3000, status=CaseStatus.ASSESSING, **mine)

    by_priority = ["RF-LATE", "RF-FRESH", "RF-MONTHS", "RF-NONE", "RF-DAYS"]
    assert queue(client, "view=open") == by_priority
    assert queue(client, "view=open&sort=priority") == by_priority
    # "Mine" (its own index, ix_cases_open_assignee) in the same order.
    assert queue(client, "view=mine") == [ref for ref in by_priority if ref != "RF-DAYS"]
    assert queue(client, "view=open&sort=deadline") == [
        "RF-LATE",
        "RF-FRESH",
        "RF-DAYS",
        "RF-MONTHS",
        "RF-NONE",
    ]
    html = client.get("/cases/?view=open").get_data(as_text=True)
    assert "First response due" in html
    assert "110 days overdue" in html


def test_action_needed_is_an_action_by_us_due_not_anything_open(
    app: Flask, client: FlaskClient
) -> None:
    org = make_org_key()
    me = sign_in(client, Role.CASEWORKER)
    aged(org, "RF-NEW-MINE", 1, assignee_id=me.id, urgency=Urgency.DAYS)  # reply due in 3 days
    aged(org, "RF-NEW-NOBODY", 1, urgency=Urgency.NOT_URGENT)  # new and nobody holds it
    aged(org, "RF-NEW-LATER", 1, assignee_id=me.id, urgency=Urgency.NOT_URGENT)  # due in 30 d
    aged(org, "RF-UNASSIGNED", 1, status=CaseStatus.ASSESSING)  # open, but nothing due
    quiet = aged(org, "RF-QUIET", 1, status=CaseStatus.ASSESSING, assignee_id=me.id)
    late = aged(org, "RF-LATE", 1, status=CaseStatus.REFERRED, assignee_id=me.id)
    near = aged(org, "RF-NEAR", 1, status=CaseStatus.REFERRED, assignee_id=me.id)
    refer(quiet, timedelta(days=30))  # far away: no action
    refer(late, timedelta(hours=-2, minutes=-10))  # overdue
    refer(near, timedelta(days=2))  # within DUE_SOON: ours to chase
    aged(org, "RF-DONE", 1, status=CaseStatus.CLOSED)
    action = queue(client)
    assert sorted(action) == ["RF-LATE", "RF-NEAR", "RF-NEW-MINE", "RF-NEW-NOBODY"]
    html = client.get("/cases/").get_data(as_text=True)
    assert "Answer due from NGO X, 2 h 10 min overdue" in html  # clock.relative's words
    assert "First response due" in html
    assert sorted(queue(client, "view=all")) == sorted(
        [*action, "RF-NEW-LATER", "RF-UNASSIGNED", "RF-QUIET", "RF-DONE"]
    )


def test_a_new_case_past_its_first_response_time_is_overdue(
    app: Flask, client: FlaskClient
) -> None:
    org = make_org_key()
    sign_in(client, Role.CASEWORKER)
    aged(org, "RF-IMM-OLD", 30, urgency=Urgency.IMMEDIATE)  # > 24 h
    aged(org, "RF-IMM-FRESH", 3, urgency=Urgency.IMMEDIATE)
    aged(org, "RF-WEEKS-OLD", 30, urgency=Urgency.WEEKS)  # < 14 days
    assert queue(client, "overdue=1") == ["RF-IMM-OLD"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("view=all&status=assessing", ["RF-B"]),
        ("view=all&urgency=immediate", ["RF-A"]),
        ("view=all&threat=lawsuit", ["RF-B"]),
        ("view=all&threat=detention", ["RF-A", "RF-C"]),
        ("view=all&country=ke", ["RF-C"]),
        ("view=all&assignee=me", ["RF-B"]),
        ("view=all&assignee=unassigned", ["RF-A", "RF-C"]),
        ("view=all&q=rf-c", ["RF-C"]),
        ("view=all&q=RF-B", ["RF-B"]),
        ("view=all&q=rfb", ["RF-B"]),  # the prefix without its dash, as typed in haste
        ("view=all&q=rf+b", ["RF-B"]),  # or read aloud
        ("view=all&q=RF-", ["RF-A", "RF-B", "RF-C"]),
        ("view=all&status=closed", []),
        ("view=all&threat=digital", []),
    ],
)
def test_filters_and_search(any_app: Flask, query: str, expected: list[str]) -> None:
    client = any_app.test_client()
    org = make_org_key()
    me = sign_in(client, Role.CASEWORKER)
    aged(org, "RF-A", 3, urgency=Urgency.IMMEDIATE, threats=["detention"], country="MX")
    aged(
        org,
        "RF-B",
        2,
        status=CaseStatus.ASSESSING,
        threats=["lawsuit", "violence_threat"],
        assignee_id=me.id,
        country="MX",
    )
    aged(org, "RF-C", 1, threats=["digital_x", "detention"], country="KE")
    found = queue(client, query)
    assert sorted(found) == sorted(expected)
    if not expected:
        assert "No case matches" in client.get(f"/cases/?{query}").get_data(as_text=True)


def test_assignee_filter_by_colleague(app: Flask, client: FlaskClient) -> None:
    org = make_org_key()
    sign_in(client, Role.VIEWER)
    colleague = make_user(Role.CASEWORKER)
    aged(org, "RF-THEIRS", 1, assignee_id=colleague.id)
    aged(org, "RF-NOBODY", 1)
    assert queue(client, f"view=all&assignee={colleague.id}") == ["RF-THEIRS"]
    page = client.get("/cases/?view=all").get_data(as_text=True)
    assert colleague.email in page  # in the filter
    # On the row the address may wrap after its "@" or before a dot, never inside a piece
    # (each kept to one line: tests/cases/test_queue_assignee_browser.py).
    mailbox, domain = colleague.email.split("@")
    name, tld = domain.rsplit(".", 1)
    pieces = f"<span>{mailbox}@</span><wbr><span>{name}</span><wbr><span>.{tld}</span>"
    assert f'<span class="address">{pieces}</span>' in page


@pytest.mark.parametrize(
    ("address", "pieces"),
    [
        (
            "maria.fernanda.rodriguez@defenders-network.org",
            ("maria", ".fernanda", ".rodriguez@", "defenders-network", ".org"),
        ),
        ("li.wei@hrd-taiwan.org.tw", ("li", ".wei@", "hrd-taiwan", ".org", ".tw")),
        ("admin@localhost", ("admin@", "localhost")),
        ("no-at-sign", ("no-at-sign",)),
        (".odd..dots@x.", (".odd", ".", ".dots@", "x", ".")),
    ],
)
def test_an_address_breaks_only_after_its_at_sign_or_before_a_dot(
    address: str, pieces: tuple[str, ...]
) -> None:
    """The pieces an assignee's address may be put on lines of their own in a narrow cell:
    never at its hyphen ("defenders-" / "network.org" on the case page, a review), nor inside
    a word; together they are the address, character for character."""
    assert address_parts(address) == pieces
    assert "".join(pieces) == address
    assert address_markup(address) == (
        '<span class="address">'
        + "<wbr>".join(f"<span>{piece}</span>" for piece in pieces)
        + "</span>"
    )


def test_an_address_is_escaped_in_its_markup() -> None:
    markup = address_markup('<img src=x onerror="x">@"evil".org')
    assert "<img" not in markup
    assert "&lt;img src=x onerror=&#34;x&#34;&gt;@" in markup


def test_the_assignee_filter_lists_who_can_be_assigned_and_who_holds_a_case(
    any_app: Flask,
) -> None:
    """Not someone who cannot sign in or holds no key, unless an open case is theirs (finding
    it is the point); still the one statement of the tab counts, on either database."""
    org = make_org_key()
    able = give_key(make_user(Role.CASEWORKER, email="a-able@example.org"), org)
    unconfirmed = give_key(make_user(Role.CASEWORKER, email="b-unconfirmed@example.org"), org)
    unconfirmed.totp_confirmed_at = None
    make_user(Role.CASEWORKER, email="c-keyless@example.org")
    holder = make_user(Role.ADMIN, email="d-holder@example.org")  # no key, holds a case
    closed_holder = make_user(Role.CASEWORKER, email="e-closed@example.org")
    viewer = give_key(make_user(Role.VIEWER, email="f-viewer@example.org"), org)
    aged(org, "RF-HELD", 1, assignee_id=holder.id)
    aged(org, "RF-DONE", 1, assignee_id=closed_holder.id, status=CaseStatus.CLOSED)
    db.session.commit()
    _counts, people, _ids = queue_service.view_counts(viewer)
    assert [p.email for p in people] == [able.email, holder.email]


def test_the_country_filter_offers_every_country_in_the_readers_language(
    app: Flask, client: FlaskClient
) -> None:
    sign_in(client, Role.CASEWORKER)
    page = client.get("/cases/?view=open&country=MX").get_data(as_text=True)
    options = re.findall(r'<option value="([A-Z]{2})"( selected)?>([^<]*)</option>', page)
    assert len(options) > 240
    assert [code for code, selected, _ in options if selected] == ["MX"]
    assert ("TW", "", "Taiwan") in options
    # A name with an ampersand is escaped as the template would.
    assert ("BA", "", "Bosnia &amp; Herzegovina") in options
    zh = client.get("/cases/?view=open&lang=zh_Hant").get_data(as_text=True)
    assert '<option value="TW">台灣</option>' in zh
    assert " selected>" not in zh.split('id="country"')[1].split("</select>")[0]


@pytest.mark.parametrize("lang", ["en", "zh_Hant"])
def test_the_pages_own_translations_render_exactly_what_flask_babels_would(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch, lang: str
) -> None:
    org = make_org_key()
    sign_in(client, Role.CASEWORKER)
    make_entry("ngo-y", name='<b>"A" & B</b>', name_zh="<i>甲 & 乙</i>")
    for number, (state, due_in) in enumerate(
        [
            (ReferralState.SENT, timedelta(days=-3)),
            (ReferralState.DRAFT, timedelta(days=2)),
            (ReferralState.ACKNOWLEDGED, timedelta(days=40)),
        ]
    ):
        case = aged(org, f"RF-W{number}", 100 + number, status=CaseStatus.ASSESSING)
        db.session.add(
            Referral(
                case_id=case.id,
                entry_id="ngo-y",
                kind=ReferralKind.NGO_REFERRAL,
                state=state,
                due_at=utcnow() + due_in,
            )
        )
    aged(org, "RF-W9", 200)  # a new case: its first response is overdue
    db.session.commit()

    def page() -> str:
        html = client.get(f"/cases/?view=open&lang={lang}").get_data(as_text=True)
        return re.sub(r'(name="csrf_token" value|data-csrf-token)="[^"]*"', r"\1", html)

    fast = page()
    monkeypatch.setattr(PageWords, "for_template", lambda self: {})
    assert page() == fast
    # The entry's name is in the next action's words, escaped.
    name = "&lt;i&gt;甲 &amp; 乙&lt;/i&gt;" if lang == "zh_Hant" else "&lt;b&gt;&#34;A&#34; &amp; B"
    assert name in fast
    assert "<b>" not in fast
    assert "<i>" not in fast


def test_the_pages_own_gettext_escapes_as_jinjas_does(app: Flask) -> None:
    template = app.jinja_env.from_string(
        "{{ _('Q & A: %(who)s', who=who) }}|"
        "{{ ngettext('%(num)d <i>x</i>', '%(num)d <i>xs</i>', 2) }}|{{ gettext('plain') }}"
    )
    with app.test_request_context("/cases/"):
        expected = template.render(who="<b>them</b>")
        shown = template.render(who="<b>them</b>", **PageWords.current().for_template())
    assert shown == expected == "Q & A: &lt;b&gt;them&lt;/b&gt;|2 <i>xs</i>|plain"


def test_pages_of_25_and_an_out_of_range_page_shows_the_last(
    app: Flask, client: FlaskClient
) -> None:
    org = make_org_key()
    sign_in(client, Role.CASEWORKER)
    for number in range(30):
        aged(org, f"RF-P{number:02d}", 100 - number)
    first = queue(client)
    second = queue(client, "page=2")
    assert len(first) == 25
    assert len(second) == 5
    assert first + second == [f"RF-P{n:02d}" for n in range(30)]
    assert queue(client, "page=99") == second
    html = client.get("/cases/?page=2&urgency=days").get_data(as_text=True)
    assert "page 2 of 2" in html
    assert 'href="/cases/?urgency=days&amp;page=1"' in html


def test_the_queue_shows_routing_in_words_and_no_content(app: Flask, client: FlaskClient) -> None:
    org = make_org_key()
    sign_in(client, Role.CASEWORKER)
    case = make_case(
        org,
        {"what_happened": "CANARY-queue-text"},
        ref="RF-ROUTE",
        country="MX",
        languages=["es", "zh"],
    )
    make_entry("ngo-x", name="<i>NGO X</i>")
    refer(case, timedelta(days=-3, hours=-1))
    html = client.get("/cases/?view=all").get_data(as_text=True)
    assert "Mexico" in html
    assert "Spanish, Chinese" in html
    assert "Answer due from &lt;i&gt;NGO X&lt;/i&gt;, 3 days 1 h overdue" in html
    assert "CANARY-queue-text" not in html  # sealed: only ciphertext for the browser
    zh = client.get("/cases/?view=all&lang=zh_Hant").get_data(as_text=True)
    assert "墨西哥" in zh
    assert "西班牙文、中文" in zh  # the enumeration comma, not an English ", "


def test_saved_views_and_their_counts(app: Flask, client: FlaskClient) -> None:
    org = make_org_key()
    me = sign_in(client, Role.CASEWORKER)
    other = make_user(Role.CASEWORKER)
    aged(org, "RF-NEW", 1, urgency=Urgency.WEEKS)  # new, nobody: action; first reply in 14 d
    aged(org, "RF-LATE-REPLY", 30, urgency=Urgency.IMMEDIATE, assignee_id=me.id)  # overdue
    soon = aged(org, "RF-SOON", 1, status=CaseStatus.REFERRED, assignee_id=me.id)
    refer(soon, timedelta(days=3))  # due this week
    away = aged(org, "RF-AWAY", 1, status=CaseStatus.REFERRED, assignee_id=other.id)
    refer(away, timedelta(days=40))  # waiting on others
    late = aged(org, "RF-LATE-REF", 1, status=CaseStatus.REFERRED, assignee_id=other.id)
    refer(late, timedelta(days=-1))
    aged(org, "RF-IDLE", 1, status=CaseStatus.ASSESSING)  # open, unassigned, nothing due
    aged(org, "RF-DONE", 1, status=CaseStatus.CLOSED)
    expected = {
        "action": ["RF-LATE-REF", "RF-LATE-REPLY", "RF-NEW", "RF-SOON"],
        "mine": ["RF-LATE-REPLY", "RF-SOON"],
        "unassigned": ["RF-IDLE", "RF-NEW"],
        "overdue": ["RF-LATE-REF", "RF-LATE-REPLY"],
        "week": ["RF-SOON"],
        "waiting": ["RF-AWAY"],
        "open": ["RF-AWAY", "RF-IDLE", "RF-LATE-REF", "RF-LATE-REPLY", "RF-NEW", "RF-SOON"],
        "closed": ["RF-DONE"],
    }
    html = client.get("/cases/").get_data(as_text=True)
    for view, refs in expected.items():
        assert sorted(queue(client, f"view={view}")) == refs, view
        tab = re.search(
            rf'href="/cases/\?view={view}[^"]*"[^>]*>\s*[^<]+<span class="badge">(\d+)</span>',
            html,
        )
        assert tab is not None, view
        assert int(tab.group(1)) == len(refs), view


def test_free_text_that_reached_the_server_gets_a_note_not_an_error(
    app: Flask, client: FlaskClient
) -> None:
    org = make_org_key()
    sign_in(client, Role.CASEWORKER)
    aged(org, "RF-ONE", 1)
    for words in ("Maria Lopez", " ", "王小明", "%' OR 1=1", "A" * 300, "0912 345 678"):
        response = client.get(
            "/cases/", query_string={"view": "all", "q": words}, follow_redirects=True
        )
        assert response.status_code == 200, words
        body = response.get_data(as_text=True)
        if words.strip():
            # The same list without the words (test_queue_search_without_js.py), and why.
            assert response.request.args.get("q") is None, words
            assert "needs JavaScript and your keys unlocked" in body, words
            assert f'value="{words}"' not in body  # not kept in the box
    for bad in ("zz", "A" * 32 + ",x", ",".join(f"{n:032x}" for n in range(65))):
        response = client.get("/cases/", query_string={"t": bad, "k": "1"})
        assert response.status_code == 200
        assert "This search could not be read" in response.get_data(as_text=True)


def test_empty_states(app: Flask, client: FlaskClient) -> None:
    sign_in(client, Role.CASEWORKER)
    assert "No cases yet" in client.get("/cases/?view=all").get_data(as_text=True)
    assert "Nothing needs action right now" in client.get("/cases/").get_data(as_text=True)


def test_a_filter_that_finds_nothing_names_its_tab_and_offers_all_open(
    app: Flask, client: FlaskClient
) -> None:
    org = make_org_key()
    me = sign_in(client, Role.CASEWORKER)
    # In China, in weeks, held and answered: open, but nothing to act on yet.
    aged(org, "RF-CN", 5, country="CN", urgency=Urgency.WEEKS, assignee_id=me.id)
    query = "country=CN&urgency=weeks&sort=deadline"
    html = client.get(f"/cases/?{query}").get_data(as_text=True)
    empty = html.split('class="empty-state"')[1].split("</p>")[0]
    assert "No case in “Action needed” matches these filters." in empty
    link = re.search(r'<a href="([^"]+)">Same filters in “All open”</a>', empty)
    assert link is not None, empty
    wider = html_unescape(link.group(1))
    assert wider.startswith("/cases/?")
    assert sorted(wider.split("?")[1].split("&")) == sorted([*query.split("&"), "view=open"])
    assert queue(client, wider.split("?")[1]) == ["RF-CN"]
    # Already on "All open" (or among closed cases): no such link.
    for view, tab in (("open", "All open"), ("closed", "Closed")):
        html = client.get(f"/cases/?view={view}&country=CN&urgency=days").get_data(as_text=True)
        empty = html.split('class="empty-state"')[1].split("</p>")[0]
        assert f"No case in “{tab}” matches these filters." in empty
        assert "Same filters in" not in empty
    # The old "all" link (not a tab) says what it always said.
    html = client.get("/cases/?view=all&country=FR").get_data(as_text=True)
    assert "No case matches these filters." in html
    # In the reader's language, the language kept in the link.
    zh = client.get(f"/cases/?{query}&lang=zh_Hant").get_data(as_text=True)
    assert "「需要處理」中沒有符合這些篩選條件的案件。" in zh
    assert "在「全部未結案」中套用相同篩選條件" in zh
    assert "lang=zh_Hant" in zh.split("在「全部未結案」")[0].rsplit("<a href=", 1)[1]
    hans = client.get(f"/cases/?{query}&lang=zh_Hans").get_data(as_text=True)
    assert "“需要处理”中没有符合这些筛选条件的案件。" in hans
    assert "在“全部未结案”中使用相同筛选条件" in hans


@pytest.mark.parametrize(
    "query",
    [
        "view=secret",
        "status=archived",
        "urgency=yesterday",
        "threat=%3Cscript%3E",
        "country=Mexico",
        "country=M1",
        "assignee=1%3BDROP",
        "assignee=-1",
        "sort=password",
        "page=abc",
        "page=-1",
        "page=99999999",
        "overdue=yes",
    ],
)
def test_values_we_do_not_offer_are_a_clear_400(
    app: Flask, client: FlaskClient, query: str
) -> None:
    sign_in(client, Role.CASEWORKER)
    response = client.get(f"/cases/?{query}")
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "has a value we do not offer" in body
    assert "<script>" not in body


def test_each_listing_is_audited_without_content(app: Flask, client: FlaskClient) -> None:
    org = make_org_key()
    viewer = make_user(Role.VIEWER)
    sign_in(client, viewer)
    case = make_case(org)
    client.get("/cases/?view=all")
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "case.list")).one()
    assert event.actor_id == viewer.id
    # Which cases: the rows carry their ciphertext and the browser opens their names.
    assert event.detail == {"view": "all", "page": 1, "shown": 1, "total": 1, "cases": [case.id]}


def test_the_queue_is_a_table_with_a_viewport(app: Flask, client: FlaskClient) -> None:
    make_case(make_org_key())
    sign_in(client, Role.CASEWORKER)
    html = client.get("/cases/").get_data(as_text=True)
    assert 'name="viewport" content="width=device-width' in html
    assert '<table class="case-table"' in html  # cards below 48rem (tests/cases/test_queue_browser)


# --- search tokens: stored and matched opaque, refused whole when malformed -----------------


def tokens(*numbers: int) -> list[str]:
    return [f"{n:032x}" for n in numbers]


def post_tokens(client: FlaskClient, ref: str, key_id: Any, values: Any, csrf: bool = True) -> Any:
    token = ""
    if csrf:
        page = client.get("/cases/?view=all").get_data(as_text=True)
        found = re.search(r'data-csrf-token="([^"]+)"', page)
        token = found.group(1) if found else ""
    return client.post(
        f"/cases/{ref}/search-tokens",
        data={"org_key_id": key_id, "tokens": values, "csrf_token": token},
        headers={"Accept": "application/json"},
    )


def test_search_finds_cases_holding_every_query_token(app: Flask, client: FlaskClient) -> None:
    org = make_org_key()
    sign_in(client, Role.CASEWORKER)
    one = aged(org, "RF-ONE", 1)
    two = aged(org, "RF-TWO", 1, status=CaseStatus.CLOSED)
    assert post_tokens(client, one.ref, org.key.id, " ".join(tokens(1, 2, 3))).status_code == 200
    assert post_tokens(client, two.ref, org.key.id, " ".join(tokens(2, 4))).status_code == 200
    key = org.key.id
    assert queue(client, f"view=all&k={key}&t={','.join(tokens(2))}") == ["RF-ONE", "RF-TWO"]
    assert queue(client, f"view=all&k={key}&t={','.join(tokens(1, 2))}") == ["RF-ONE"]
    assert queue(client, f"view=all&k={key}&t={','.join(tokens(1, 4))}") == []
    assert queue(client, f"view=all&k={key + 1}&t={','.join(tokens(2))}") == []
    # Re-indexing replaces a case's tokens.
    assert post_tokens(client, one.ref, org.key.id, " ".join(tokens(9))).status_code == 200
    assert queue(client, f"view=all&k={key}&t={','.join(tokens(1))}") == []
    assert queue(client, f"view=all&k={key}&t={','.join(tokens(9))}") == ["RF-ONE"]
    stored = db.session.execute(sa.text("SELECT token FROM case_search_tokens")).scalars().all()
    assert sorted(stored) == sorted(tokens(2, 4, 9))


@pytest.mark.parametrize(
    ("key", "values", "status"),
    [
        ("current", "zz", 400),
        ("current", " ".join(tokens(1)) + " <script>", 400),
        ("current", "A" * 32, 400),  # upper case is not the hex we write
        ("current", "a" * 31, 400),
        ("current", "a" * 64, 400),
        ("current", " ".join(tokens(*range(6001))), 400),
        ("", " ".join(tokens(1)), 400),
        ("-1", " ".join(tokens(1)), 400),
        ("9" * 12, " ".join(tokens(1)), 400),
        ("old", " ".join(tokens(1)), 409),
        ("current", "x" * (300 * 1024), 413),
    ],
)
def test_hostile_search_tokens_are_refused_whole(
    app: Flask, client: FlaskClient, key: str, values: str, status: int
) -> None:
    old = make_org_key()
    org = make_org_key()
    sign_in(client, Role.CASEWORKER)
    case = aged(org, "RF-HOSTILE", 1)
    assert post_tokens(client, case.ref, org.key.id, " ".join(tokens(7))).status_code == 200
    key_id = {"current": org.key.id, "old": old.key.id}.get(key, key)
    response = post_tokens(client, case.ref, key_id, values)
    assert response.status_code == status
    assert response.is_json
    assert response.get_json()["error"]
    stored = db.session.execute(sa.text("SELECT token FROM case_search_tokens")).scalars().all()
    assert stored == tokens(7)  # the earlier tokens stand; nothing partial


def test_search_tokens_need_a_case_a_writer_and_csrf(app: Flask, client: FlaskClient) -> None:
    org = make_org_key()
    case = aged(org, "RF-CSRF", 1)
    sign_in(client, Role.CASEWORKER)
    assert post_tokens(client, case.ref, org.key.id, tokens(1)[0], csrf=False).status_code == 400
    assert post_tokens(client, "RF-NONE", org.key.id, tokens(1)[0]).status_code == 404
    viewer = app.test_client()
    sign_in(viewer, Role.VIEWER)
    assert post_tokens(viewer, case.ref, org.key.id, tokens(1)[0]).status_code == 403
    count = db.session.execute(sa.text("SELECT count(*) FROM case_search_tokens")).scalar()
    assert count == 0
