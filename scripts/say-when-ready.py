"""Print a line once the web process answers: `make run`'s /setup link, said again below the
worker's and beat's start-up banners, where a newcomer looks (it was lost above them).

Usage: python scripts/say-when-ready.py URL LINE...  (gives up quietly after two minutes)
"""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request

WAIT_SECONDS = 120


def main(url: str, lines: list[str]) -> int:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url.rstrip('/')}/healthz", timeout=2):  # noqa: S310
                pass
        except urllib.error.HTTPError:
            pass  # it answers: a 503 names a process still starting
        except (OSError, ValueError):
            time.sleep(0.5)
            continue
        time.sleep(1)  # after the banners that follow the web process's own
        print("\n".join(["", *lines, ""]), flush=True)  # noqa: T201
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
