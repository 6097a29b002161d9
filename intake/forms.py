"""Forms every area uses."""

from __future__ import annotations

from flask_wtf import FlaskForm


class EmptyForm(FlaskForm):
    """A button that changes something: only the CSRF token."""
