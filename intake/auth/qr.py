"""The TOTP enrolment QR code, drawn on the server as an inline SVG (no QR service)."""

from __future__ import annotations

import segno

from intake.auth import bp


@bp.app_template_global("totp_qr")
def totp_qr(otpauth_uri: str) -> str:
    """A data: URI of the otpauth:// link as a QR code, for authenticator apps to scan."""
    return str(segno.make(otpauth_uri, error="m").svg_data_uri(scale=5, border=2))
