"""Fixtures shared with the public tests."""

from tests.public.conftest import roomy_app  # noqa: F401  (a fixture, used by name)
