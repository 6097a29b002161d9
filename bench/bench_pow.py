"""How long a defender's browser works on the proof of work (shared addresses), in Chromium.

Usage: python bench/bench_pow.py [BITS] [RUNS]   (default POW_DIFFICULTY_BITS 18; 12 runs)

The public form is served by the app (SQLite in a temporary folder, an organisation key made
for it) and opened in Debian's Chromium; the page's own solver
(``window.Refuge.submitter.solveProofOfWork``, libsodium's BLAKE2b-256 in chunks) solves RUNS fresh
challenges, first at full speed, then with the CPU slowed 4× and 6× through the DevTools
protocol (``Emulation.setCPUThrottlingRate``) as a stand-in for a mid-range and a low-end phone
(Lighthouse's own mobile emulation uses 4×). The work is random (geometric): the median and the
90th percentile say what most people wait; the hashes per second say what the device does.
A bare baseline: ``hashlib.blake2b`` (32 bytes) over the same challenges in this process (what
a server or a determined sender's CPU does without a browser).
"""

from __future__ import annotations

import hashlib
import secrets
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _common import write_results

CHROMIUM = "/usr/bin/chromium"


def leading_zero_bits(digest: bytes) -> int:
    bits = 0
    for byte in digest:
        if byte == 0:
            bits += 8
            continue
        return bits + 8 - byte.bit_length()
    return bits


def pow_digest(challenge: str, nonce: int | str) -> bytes:
    """intake.services.proof_of_work.digest, restated: this script runs without the app."""
    return hashlib.blake2b(f"{challenge}:{nonce}".encode(), digest_size=32).digest()


def python_solve(challenge: str, bits: int) -> int:
    nonce = 0
    while leading_zero_bits(pow_digest(challenge, nonce)) < bits:
        nonce += 1
    return nonce


def summary(seconds: list[float], hashes: list[int]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        "median_s": round(statistics.median(ordered), 3),
        "p90_s": round(ordered[max(0, int(len(ordered) * 0.9) - 1)], 3),
        "max_s": round(ordered[-1], 3),
        "hashes_per_s": round(sum(hashes) / sum(seconds)),
    }


def main() -> int:
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from intake import create_app
    from intake.extensions import db
    from tests.builders import make_org_key

    bits = int(sys.argv[1]) if len(sys.argv) > 1 else 18
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 12
    challenges = [secrets.token_hex(16) for _ in range(runs)]
    folder = Path(tempfile.mkdtemp(prefix="refuge-pow-"))
    app = create_app(
        {
            "INTAKE_ENV": "testing",
            "TESTING": True,
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.sqlite'}",
            "INSTANCE_PATH": folder / "instance",
            "CELERY_BROKER_URL": "memory://",
            "RATELIMIT_STORAGE_URI": "memory://",
            "MAIL_BACKEND": "locmem",
        }
    )
    with app.app_context():
        db.create_all()
        make_org_key()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"

    # The bare baseline: the same challenges in plain Python, one core.
    bare_seconds, bare_hashes = [], []
    for challenge in challenges:
        started = time.perf_counter()
        bare_hashes.append(python_solve(challenge, bits) + 1)
        bare_seconds.append(time.perf_counter() - started)

    figures: dict[str, Any] = {}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM)
            page = browser.new_page(viewport={"width": 360, "height": 800})
            page.goto(f"{base}/request")
            page.wait_for_function("window.Refuge && window.Refuge.submitter")
            devtools = page.context.new_cdp_session(page)
            for rate in (1, 4, 6):
                devtools.send("Emulation.setCPUThrottlingRate", {"rate": rate})
                seconds, hashes = [], []
                for challenge in challenges:
                    started = time.perf_counter()
                    nonce = page.evaluate(
                        "([c, b]) => window.Refuge.submitter.solveProofOfWork(c, b)",
                        [challenge, bits],
                    )
                    seconds.append(time.perf_counter() - started)
                    if leading_zero_bits(pow_digest(challenge, nonce)) < bits:
                        raise RuntimeError(f"the browser's proof for {challenge} is wrong")
                    hashes.append(int(nonce) + 1)
                figures[f"chromium_cpu_{rate}x"] = summary(seconds, hashes)
            browser.close()
    finally:
        server.shutdown()
    figures["python_hashlib"] = summary(bare_seconds, bare_hashes)
    print(f"proof of work, {bits} bits, {runs} challenges")
    print(f"{'where':<20} {'median s':>9} {'p90 s':>7} {'max s':>7} {'hashes/s':>10}")
    for where, row in figures.items():
        print(
            f"{where:<20} {row['median_s']:>9} {row['p90_s']:>7} {row['max_s']:>7} "
            f"{row['hashes_per_s']:>10}"
        )
    write_results(
        "pow",
        {
            "bits": bits,
            "challenges": runs,
            "figures": figures,
            "note": "CPU slowed through the DevTools protocol stands in for a phone; "
            "2-core machine shared with other work",
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
