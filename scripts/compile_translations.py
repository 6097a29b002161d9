"""Compile every area's gettext catalogue (intake/**/translations/*/LC_MESSAGES/*.po)."""

from __future__ import annotations

from intake.i18n import compile_catalogues

if __name__ == "__main__":
    print(f"translations: {compile_catalogues()} catalogue(s) compiled")  # noqa: T201
