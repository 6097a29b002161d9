"""The status a submitter reads at /status is the one the case page shows staff as what the
submitter sees: one table of words (labels.SHARED_STATUS_LABELS), which /status's template
wrote out again for itself."""

from __future__ import annotations

import re
from html import unescape

import pytest
from flask import Flask
from flask.testing import FlaskClient

from intake.extensions import db
from intake.labels import SHARED_STATUS_LABELS
from intake.models import Role, SharedStatus
from intake.services import submissions
from tests.builders import make_org_key, sign_in
from tests.public.conftest import csrf_token
from tests.public.test_status import submit

SHOWN = re.compile(r'<span id="shared-status" data-status="[^"]+">([^<]*)</span>')


def status_shown(client: FlaskClient, submission: submissions.Submission, lang: str) -> str:
    token = csrf_token(client, f"/status?lang={lang}")
    page = client.post("/status", data={"csrf_token": token, "code": submission.receipt_code})
    assert page.status_code == 200
    found = SHOWN.search(page.text)
    assert found is not None
    return unescape(found.group(1))


def test_status_shows_the_shared_status_labels_not_words_of_its_own(
    roomy_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    submission = submit(make_org_key())
    client = roomy_app.test_client()
    for status in SharedStatus:
        monkeypatch.setitem(SHARED_STATUS_LABELS, status, f"label of {status.value}")
        submission.case.shared_status = status
        db.session.commit()
        assert status_shown(client, submission, "en") == f"label of {status.value}"


@pytest.mark.parametrize("lang", ["en", "zh_Hant", "zh_Hans"])
def test_the_submitter_reads_what_the_case_page_says_the_submitter_sees(
    roomy_app: Flask, lang: str
) -> None:
    submission = submit(make_org_key())
    public = roomy_app.test_client()
    staff = roomy_app.test_client()
    sign_in(staff, Role.CASEWORKER)
    for status in SharedStatus:
        submission.case.shared_status = status
        db.session.commit()
        case_page = staff.get(f"/cases/{submission.case.ref}?lang={lang}").text
        seen = re.search(r'<dd class="public-status">\s*([^<]*?)\s*<', case_page)
        assert seen is not None
        assert status_shown(public, submission, lang) == unescape(seen.group(1)), status
