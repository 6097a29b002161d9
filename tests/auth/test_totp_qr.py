"""The TOTP enrolment shows a QR code drawn here, encoding exactly the account's otpauth URI."""

from __future__ import annotations

import html
import re

import pyotp
import segno
from flask import Flask, render_template

from intake.auth.second_factor import TotpConfirmForm
from intake.models import Role
from intake.services import accounts
from tests.builders import make_user


def test_enrolment_qr_encodes_the_accounts_otpauth_uri(app: Flask) -> None:
    user = make_user(Role.CASEWORKER, email="qr@example.org")
    uri = accounts.otpauth_uri(user)
    assert pyotp.parse_uri(uri).secret == user.totp_secret
    with app.test_request_context("/"):
        page = render_template(
            "auth/_totp.html", user=user, otpauth_uri=uri, confirm_form=TotpConfirmForm()
        )
    match = re.search(r'<img class="totp-qr" src="([^"]+)"', page)
    assert match, page
    source = html.unescape(match.group(1))
    assert source.startswith("data:image/svg+xml")  # drawn here; CSP allows data: images only
    assert source == segno.make(uri, error="m").svg_data_uri(scale=5, border=2)
    other = segno.make(uri.replace(user.totp_secret, "A" * 32), error="m")
    assert source != other.svg_data_uri(scale=5, border=2)
    assert 'alt="QR code for your authenticator app' in page
