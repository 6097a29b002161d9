"""Two colleagues at once: a case is referred to one entry once while that referral is open,
never started or sent from a closed case, and a stale update names the referral's state in
the reader's words (a review with two staff members in two browsers)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_babel import force_locale

from intake.extensions import db
from intake.models import (
    AuditEvent,
    Case,
    CaseOutcome,
    CaseStatus,
    Referral,
    ReferralKind,
    ReferralState,
    Role,
    User,
)
from intake.services import case_page, casework, referrals, un_steps
from tests.builders import give_key, make_case, make_entry, make_org_key, make_user, sign_in
from tests.referrals.conftest import draft_un_referral, sent_referral, two_colleagues_at_once

NGO = ReferralKind.NGO_REFERRAL


def referral_count() -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(Referral)) or 0)


def a_case_to_refer(entry_id: str = "rory-peck-trust") -> tuple[Case, User]:
    org = make_org_key()
    make_entry(entry_id, name="Rory Peck Trust")
    user = give_key(make_user(Role.CASEWORKER), org)
    return make_case(org), user


def close(case: Case, actor: User) -> None:
    casework.change_status(case, CaseStatus.CLOSED, actor, outcome=CaseOutcome.RESOLVED)


# --- (a) the same entry twice -------------------------------------------------------------


@pytest.mark.parametrize("then", ["draft", "sent", "acknowledged"])
def test_a_second_referral_to_an_entry_is_refused_while_the_first_is_open(
    app: Flask, then: str
) -> None:
    case, user = a_case_to_refer()
    first = referrals.create(case.id, "rory-peck-trust", NGO, user)
    if then != "draft":
        referrals.transition(first.id, "send", user)
    if then == "acknowledged":
        referrals.transition(first.id, "acknowledge", user)
    with pytest.raises(referrals.AlreadyReferred) as refused:
        referrals.create(case.id, "rory-peck-trust", NGO, user)
    assert refused.value.referral_id == first.id
    assert refused.value.status == 409
    message = str(refused.value)
    assert "Rory Peck Trust" in message  # the entry by its name, not its id
    assert {"draft": "“Draft”", "sent": "“Sent”", "acknowledged": "“Acknowledged”"}[then] in (
        message
    )
    assert "Nothing was started." in message
    assert referral_count() == 1


@pytest.mark.parametrize("ended", ["withdraw", "close", "reply", "no_reply"])
def test_a_referral_that_has_ended_or_been_answered_does_not_block_a_new_one(
    app: Flask, ended: str
) -> None:
    case, user = a_case_to_refer()
    first = referrals.create(case.id, "rory-peck-trust", NGO, user)
    if ended != "withdraw":
        referrals.transition(first.id, "send", user)
    if ended == "close":
        referrals.transition(first.id, "reply", user)
        referrals.transition(first.id, "close", user, outcome="no_action")
    elif ended in ("reply", "no_reply"):
        referrals.transition(first.id, ended, user)
    else:
        referrals.transition(first.id, "withdraw", user)
    again = referrals.create(case.id, "rory-peck-trust", NGO, user)
    assert again.state == ReferralState.DRAFT
    assert referral_count() == 2


def test_another_entry_and_another_case_are_not_blocked(app: Flask) -> None:
    case, user = a_case_to_refer()
    make_entry("other-ngo")
    referrals.create(case.id, "rory-peck-trust", NGO, user)
    referrals.create(case.id, "other-ngo", NGO, user)
    other_case = make_case(make_org_key())
    referrals.create(other_case.id, "rory-peck-trust", NGO, user)
    assert referral_count() == 3


def test_a_follow_up_or_another_un_procedure_is_a_request_of_its_own(app: Flask) -> None:
    """DESIGN §5: a follow-up is a second message to an entry that has not acknowledged the
    first; the Working Group's urgent appeal runs beside its opinion. The same kind again is a
    repeat all the same."""
    case, user = a_case_to_refer()
    make_entry("un-wgad", referral_kinds=["wgad_opinion", "sp_urgent_appeal"])
    first = referrals.create(case.id, "rory-peck-trust", NGO, user)
    referrals.transition(first.id, "send", user)
    follow_up = referrals.create(case.id, "rory-peck-trust", ReferralKind.FOLLOW_UP, user)
    with pytest.raises(referrals.AlreadyReferred) as refused:
        referrals.create(case.id, "rory-peck-trust", ReferralKind.FOLLOW_UP, user)
    assert refused.value.referral_id == follow_up.id
    referrals.create(case.id, "un-wgad", ReferralKind.WGAD_OPINION, user)
    referrals.create(case.id, "un-wgad", ReferralKind.SP_URGENT_APPEAL, user)
    with pytest.raises(referrals.AlreadyReferred):
        referrals.create(case.id, "un-wgad", ReferralKind.SP_URGENT_APPEAL, user)
    assert referral_count() == 4


def test_the_refusal_names_the_entry_and_state_in_chinese(app: Flask) -> None:
    case, user = a_case_to_refer()
    referrals.create(case.id, "rory-peck-trust", NGO, user)
    with pytest.raises(referrals.AlreadyReferred) as refused:
        referrals.create(case.id, "rory-peck-trust", NGO, user)
    with app.test_request_context(), force_locale("zh_Hant"):
        message = str(refused.value)
    assert "Rory Peck Trust" in message
    assert "「草稿」" in message
    assert "draft" not in message


def test_the_case_page_suggestions_say_already_referred(app: Flask) -> None:
    case, user = a_case_to_refer()
    open_one = referrals.create(case.id, "rory-peck-trust", NGO, user)
    with app.test_request_context():
        suggested = {s["id"]: s for s in case_page.suggestions(case)}
    assert suggested["rory-peck-trust"]["referral"] == open_one.id
    referrals.transition(open_one.id, "withdraw", user)
    with app.test_request_context():
        suggested = {s["id"]: s for s in case_page.suggestions(case)}
    assert "referral" not in suggested["rory-peck-trust"]


@pytest.mark.postgres
def test_two_colleagues_starting_the_same_referral_at_once_make_one_on_postgresql(
    make_app: Callable[..., Flask],
) -> None:
    """Both read "no open referral" before either had written one: each transaction now
    locks the case first, so the second waits for the first and then sees its referral.
    The first holds its transaction open a moment after writing (its audit is slowed)."""
    app = make_app("postgres", SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 6})
    with app.app_context():
        case, first_user = a_case_to_refer()
        second_user = give_key(make_user(Role.CASEWORKER), make_org_key())
        case_id, user_ids = case.id, (first_user.id, second_user.id)
        db.session.remove()

    def referring_as(user_id: int) -> Callable[[], int]:
        def refer() -> int:
            user = db.session.get_one(User, user_id)
            return referrals.create(case_id, "rory-peck-trust", NGO, user).id

        return refer

    outcomes = two_colleagues_at_once(app, *(referring_as(user_id) for user_id in user_ids))
    made = [outcome for outcome in outcomes if isinstance(outcome, int)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, referrals.AlreadyReferred)]
    assert len(made) == 1, outcomes
    assert len(refused) == 1, outcomes
    assert refused[0].referral_id == made[0]
    with app.app_context():
        assert referral_count() == 1


# --- (b) a closed case ----------------------------------------------------------------------


def test_a_referral_cannot_be_started_on_a_closed_case(app: Flask) -> None:
    case, user = a_case_to_refer()
    close(case, user)
    with pytest.raises(referrals.ReferralError) as refused:
        referrals.create(case.id, "rory-peck-trust", NGO, user)
    assert refused.value.status == 409
    assert "reopen it first" in str(refused.value)
    assert "“Reopen (Assessing)”" in str(refused.value)  # as the case page names it
    assert referral_count() == 0
    # Reopened, it can be referred.
    casework.change_status(case, CaseStatus.ASSESSING, user)
    referrals.create(case.id, "rory-peck-trust", NGO, user)


def test_a_referral_cannot_be_sent_from_a_case_closed_since_it_was_started(app: Flask) -> None:
    case, user = a_case_to_refer()
    referral = referrals.create(case.id, "rory-peck-trust", NGO, user)
    close(case, user)
    with pytest.raises(referrals.ReferralError, match="reopen it first"):
        referrals.transition(referral.id, "send", user)
    db.session.expire_all()
    kept = db.session.get_one(Referral, referral.id)
    assert (kept.state, kept.sent_at, kept.due_at) == (ReferralState.DRAFT, None, None)
    assert db.session.get_one(Case, case.id).status == CaseStatus.CLOSED
    sends = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "referral.send")
    )
    assert sends == 0
    # Withdrawing it is still possible: that is how it is ended.
    referrals.transition(referral.id, "withdraw", user)


def test_a_un_submission_from_a_closed_case_is_refused_too(app: Flask) -> None:
    referral = draft_un_referral()
    owner = referral.owner
    close(referral.case, owner)
    with pytest.raises(referrals.ReferralError, match="reopen it first"):
        un_steps.record(referral.id, un_steps.UnStepKind.SUBMITTED, owner)
    db.session.expire_all()
    assert db.session.get_one(Referral, referral.id).state == ReferralState.DRAFT
    assert un_steps.steps_of(db.session.get_one(Referral, referral.id)) == []


# --- (c) a stale update -------------------------------------------------------------------


def test_a_stale_update_names_the_state_by_its_label_in_the_readers_language(
    app: Flask,
) -> None:
    case, user = a_case_to_refer()
    referral = referrals.create(case.id, "rory-peck-trust", NGO, user)
    referrals.transition(referral.id, "send", user)
    referrals.transition(referral.id, "reply", user)  # a colleague recorded the reply
    with pytest.raises(referrals.ReferralError) as refused:
        referrals.transition(referral.id, "acknowledge", user)  # from a page read before it
    assert refused.value.status == 409
    assert str(refused.value) == (
        "This referral is now “Replied”: someone changed it while you had it open. "
        "Nothing was changed."
    )
    with app.test_request_context(), force_locale("zh_Hant"):
        chinese = str(refused.value)
    with app.test_request_context(), force_locale("zh_Hans"):
        simplified = str(refused.value)
    assert "「已回覆」" in chinese
    assert "“已回复”" in simplified
    assert "replied" not in chinese + simplified


# --- the pages ------------------------------------------------------------------------------


def test_the_form_refuses_the_same_entry_twice_and_links_the_open_referral(web: Flask) -> None:
    org = make_org_key()
    make_entry("rory-peck-trust", name="Rory Peck Trust")
    case = make_case(org)
    client = web.test_client()
    user = give_key(sign_in(client, Role.CASEWORKER), org)
    first = referrals.create(case.id, "rory-peck-trust", NGO, user)
    # The form lists it before anyone chooses.
    page = client.get(f"/referrals/new?ref={case.ref}&entry=rory-peck-trust")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Referrals of this case still open" in html
    assert f'href="/referrals/{first.id}"' in html
    assert "no deadline until it is sent" in html
    response = client.post(
        f"/referrals/new?ref={case.ref}",
        data={"entry_id": "rory-peck-trust", "kind": "ngo_referral", "owner_id": user.id},
    )
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "This case already has a referral to Rory Peck Trust that is “Draft”" in html
    marked = html.partition("data-already")[2]
    assert f'href="/referrals/{first.id}"' in marked.partition("</li>")[0]
    assert referral_count() == 1
    # In Chinese too.
    response = client.post(
        f"/referrals/new?ref={case.ref}&lang=zh_Hant",
        data={"entry_id": "rory-peck-trust", "kind": "ngo_referral", "owner_id": user.id},
    )
    assert response.status_code == 409
    assert "此案件已有一個轉介至 Rory Peck Trust，狀態為「草稿」" in response.get_data(as_text=True)


def test_the_form_refuses_a_closed_case_and_the_case_page_offers_no_referral(
    web: Flask,
) -> None:
    org = make_org_key()
    make_entry("rory-peck-trust", name="Rory Peck Trust")
    case = make_case(org)
    client = web.test_client()
    user = give_key(sign_in(client, Role.CASEWORKER), org)
    close(case, user)
    page = client.get(f"/cases/{case.ref}").get_data(as_text=True)
    assert "Start a referral" not in page
    assert "refer-button" not in page  # no "Refer" beside its suggestions either
    assert "This case is closed: reopen it to refer it." in page
    form = client.get(f"/referrals/new?ref={case.ref}").get_data(as_text=True)
    assert "This case is closed: reopen it to refer it." in form
    response = client.post(
        f"/referrals/new?ref={case.ref}",
        data={"entry_id": "rory-peck-trust", "kind": "ngo_referral", "owner_id": user.id},
    )
    assert response.status_code == 409  # closed meanwhile: a conflict, as the service says
    assert "This case was closed, perhaps by a colleague" in response.get_data(as_text=True)
    assert referral_count() == 0


def test_sending_from_a_closed_case_is_refused_on_the_page_and_not_offered(web: Flask) -> None:
    """ "Mark as sent" was offered, and refused when pressed. Not offered now: the page says
    how to reopen the case instead; withdrawing the draft is still offered (and allowed)."""
    org = make_org_key()
    make_entry("rory-peck-trust")
    case = make_case(org)
    client = web.test_client()
    user = give_key(sign_in(client, Role.CASEWORKER), org)
    referral = referrals.create(case.id, "rory-peck-trust", NGO, user)
    close(case, user)
    page = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert 'value="send"' not in page
    assert 'value="withdraw"' in page
    notice = page.partition("data-case-closed>")[2].partition("</p>")[0]
    assert "This case is closed. To send this referral, reopen the case first" in notice
    assert "“Move to” “Reopen (Assessing)”" in notice
    assert f'href="/cases/{case.ref}"' in notice
    # Posted all the same (a page open from before), it is still refused.
    response = client.post(f"/referrals/{referral.id}/transition", data={"action": "send"})
    assert response.status_code == 409  # as the UN step says it (below)
    assert "reopen it first" in response.get_data(as_text=True)
    assert db.session.get_one(Referral, referral.id).state == ReferralState.DRAFT
    # In the staff's Chinese, as the case page names the choice.
    chinese = client.get(f"/referrals/{referral.id}?lang=zh_Hant").get_data(as_text=True)
    notice = chinese.partition("data-case-closed>")[2].partition("</p>")[0]
    assert "「改為」中選擇「重新開啟（評估中）」" in notice
    # Reopened, it is offered again and the notice has gone.
    casework.change_status(db.session.get_one(Case, case.id), CaseStatus.ASSESSING, user)
    page = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert 'value="send"' in page
    assert "data-case-closed" not in page


def test_the_page_of_a_un_draft_on_a_closed_case_offers_no_submission(web: Flask) -> None:
    referral = draft_un_referral()
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    close(referral.case, referral.owner)
    page = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert 'id="step-submitted"' not in page
    assert "Record the submission to the mandate when it has gone out" not in page
    assert "To send this referral, reopen the case first" in page
    assert 'value="withdraw"' in page
    response = client.post(
        f"/referrals/{referral.id}/un-step", data={"step": "submitted", "channel": "email"}
    )
    assert response.status_code == 409
    assert "reopen it first" in response.get_data(as_text=True)
    assert un_steps.steps_of(db.session.get_one(Referral, referral.id)) == []


@pytest.mark.parametrize("kind", [NGO, ReferralKind.SP_URGENT_APPEAL])
def test_a_sent_referral_of_a_closed_case_still_takes_its_reply(
    web: Flask, kind: ReferralKind
) -> None:
    """Only sending is refused on a closed case: the answer to what was sent before it closed
    is still recorded, so the page offers it, and says nothing about reopening."""
    referral = sent_referral(kind)
    client = web.test_client()
    sign_in(client, Role.CASEWORKER)
    close(referral.case, referral.owner)
    page = client.get(f"/referrals/{referral.id}").get_data(as_text=True)
    assert "data-case-closed" not in page
    if kind == NGO:
        assert 'value="reply"' in page
        response = client.post(f"/referrals/{referral.id}/transition", data={"action": "reply"})
        assert response.status_code == 302
    else:
        assert 'id="step-reply_received"' in page
        response = client.post(f"/referrals/{referral.id}/un-step", data={"step": "reply_received"})
        assert response.status_code == 303
    assert db.session.get_one(Referral, referral.id).state == ReferralState.REPLIED


def test_a_stale_update_on_the_page_is_said_in_chinese_words(web: Flask) -> None:
    org = make_org_key()
    make_entry("rory-peck-trust")
    case = make_case(org)
    client = web.test_client()
    user = give_key(sign_in(client, Role.CASEWORKER), org)
    referral = referrals.create(case.id, "rory-peck-trust", NGO, user)
    referrals.transition(referral.id, "send", user)
    referrals.transition(referral.id, "reply", user)
    response = client.post(
        f"/referrals/{referral.id}/transition?lang=zh_Hant", data={"action": "acknowledge"}
    )
    assert response.status_code == 409  # a stale page: a conflict
    html = response.get_data(as_text=True)
    assert "此轉介現在是「已回覆」" in html
    assert "replied" not in re.sub(r"<[^>]*>", "", html).split("此轉介現在是")[1][:80]


def test_the_case_page_links_an_open_referral_instead_of_offering_refer(web: Flask) -> None:
    org = make_org_key()
    make_entry("rory-peck-trust", name="Rory Peck Trust")
    case = make_case(org)
    client = web.test_client()
    user = give_key(sign_in(client, Role.CASEWORKER), org)
    html = client.get(f"/cases/{case.ref}").get_data(as_text=True)
    item = html.partition('data-suggestion="rory-peck-trust"')[2].partition("</ol>")[0]
    assert "data-refer" in item
    referral = referrals.create(case.id, "rory-peck-trust", NGO, user)
    html = client.get(f"/cases/{case.ref}").get_data(as_text=True)
    item = html.partition('data-suggestion="rory-peck-trust"')[2].partition("</ol>")[0]
    assert "data-refer" not in item.replace("data-already-referred", "")
    assert "Already referred" in item
    assert f'href="/referrals/{referral.id}"' in item


def test_csrf_is_kept_on_the_new_referral_form(make_app: Callable[..., Flask]) -> None:
    app = make_app("sqlite", WTF_CSRF_ENABLED=True)
    with app.app_context():
        org = make_org_key()
        make_entry("rory-peck-trust")
        case = make_case(org)
        client = app.test_client()
        user = give_key(sign_in(client, Role.CASEWORKER), org)
        response = client.post(
            f"/referrals/new?ref={case.ref}",
            data={"entry_id": "rory-peck-trust", "kind": "ngo_referral", "owner_id": user.id},
        )
        assert response.status_code in (400, 422)
        assert referral_count() == 0
