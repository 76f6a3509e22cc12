"""Warm page times of every demo role's journey (issue 18; target: p95 <= 300 ms warm).

Loads the demo (`bulwark demo --no-serve`) into a fresh SQLite database under a temporary
BULWARK_DATA_DIR (or reuses --data-dir), then, in one process, for each demo role signs in
with Django's test Client (both factors passed, as `bulwark.conftest.sign_in` does) and
requests every page of that role's journey through the whole Django stack (no HTTP socket):

  signed-in roles  the dashboard, every link of the main navigation, the notifications and
                   account pages, and one detail page of each list (the first link in the
                   list's <main> that matches a detail URL, e.g. /incidents/<id>/)
  anonymous        the public advisories list and one advisory (English and zh-Hant), its
                   CSAF document, the RSS/Atom/JSON feeds, the CSAF provider metadata and
                   the sign-in page

The journey is read from the pages themselves, so a page the navigation gains is measured
without editing this file. A page that answers anything but 200 for a role is not timed and
is listed (e.g. a nav link the role may not open). Each page is requested once to warm it,
then --runs times (20 by default); p50 and p95 per page, the worst p95 against the target.
Fragments a page loads afterwards over HTMX are not counted (the page is usable first).

Usage: python bench/pages_p95.py [--runs 20] [--roles reporter,...] [--data-dir DIR]
       [--label text]
Results: one JSON line appended to bench/results/pages_p95.jsonl.
"""

import argparse
import json
import logging
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "pages_p95.jsonl"
TARGET_P95_MS = 300.0
ROLES = {
    "reporter": "reporter (Taiwan Power Company)",
    "reviewer": "authority reviewer (Ministry of Economic Affairs)",
    "duty": "CERT duty officer",
    "analyst": "CERT analyst",
    "orgadmin": "organisation admin (Taiwan Power Company)",
    "admin": "platform admin",
    "isac": "ISAC member (Financial ISAC)",
    "anonymous": "anonymous public",
}
# One detail page per list: the first link in <main> matching one of these.
DETAIL = re.compile(
    r"^/(incidents/\d+/|advisories/\d+/|organisations/\d+/|users/\d+/"
    r"|exchange/(events|reports|quarantine)/\d+/|monitoring/alerts/\d+/"
    r"|intel/(submissions|indicators)/\d+/|intel/values/[^?#]+|publications/[A-Z][^/?#]*/)$"
)
# Never requested: they change state, download files or leave the site.
SKIP = re.compile(r"^/(accounts/logout/|i18n/|api/)|\.(csv|pdf|zip)$|/exports?/")


class Links(HTMLParser):
    """The href of every <a> inside <nav aria-label=...Main> and inside <main>."""

    def __init__(self) -> None:
        super().__init__()
        self.nav: list[str] = []
        self.main: list[str] = []
        self._in_nav = self._in_main = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "nav" and self._in_main == 0 and not self.nav:
            self._in_nav += 1
        elif tag == "main":
            self._in_main += 1
        elif tag == "a" and (href := values.get("href")):
            if self._in_nav:
                self.nav.append(href)
            elif self._in_main:
                self.main.append(href)

    def handle_endtag(self, tag: str) -> None:
        if tag == "nav" and self._in_nav:
            self._in_nav -= 1
        elif tag == "main" and self._in_main:
            self._in_main -= 1


def links(html: bytes) -> Links:
    parser = Links()
    parser.feed(html.decode("utf-8", "replace"))
    return parser


def is_detail(href: str) -> bool:
    return bool(DETAIL.match(href.split("?")[0])) and not SKIP.search(href)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def journey(client: Any, role: str) -> tuple[list[str], dict[str, int]]:
    """The pages of a role's journey, and those that refused it (path -> status)."""
    refused: dict[str, int] = {}
    if role == "anonymous":
        listing = client.get("/publications/")
        details = [h for h in links(listing.content).main if is_detail(h)]
        pages = ["/accounts/login/", "/publications/"]  # "/" sends them to sign in
        if details:
            pages += [details[0], details[0].split("?")[0] + "csaf.json"]
        pages += [
            "/publications/feed.rss",
            "/publications/feed.atom",
            "/publications/feed.json",
            "/.well-known/csaf/provider-metadata.json",
        ]
        return pages, refused
    home = client.get("/")
    nav = [h for h in links(home.content).nav if h.startswith("/") and not SKIP.search(h)]
    pages = ["/", *nav, "/notifications/", "/accounts/security/"]
    for page in list(dict.fromkeys(pages)):
        response = client.get(page)
        if response.status_code != 200:
            refused[page] = response.status_code
            continue
        if "html" not in response.get("Content-Type", ""):
            continue
        detail = next((h for h in links(response.content).main if is_detail(h)), None)
        if detail and detail not in pages and not SKIP.search(detail):
            pages.append(detail)
    pages = [p for p in dict.fromkeys(pages) if p not in refused]
    return pages, refused


def setup() -> None:
    sys.path.insert(0, str(ROOT / "src"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bulwark.settings")
    import django

    django.setup()
    from django.test.utils import setup_test_environment

    setup_test_environment()
    import bulwark.wsgi  # noqa: F401  (what the server imports before taking requests)

    logging.disable(logging.INFO)  # one log line per request would be timed too


def measure(roles: list[str], runs: int, language: str) -> dict[str, Any]:
    from django.test import Client

    from bulwark.conftest import sign_in
    from bulwark.constituency.models import User

    figures: dict[str, Any] = {}
    for role in roles:
        client = Client(HTTP_ACCEPT_LANGUAGE=language)
        if role != "anonymous":
            client = sign_in(client, User.objects.get(username=role))
        pages, refused = journey(client, role)
        timings: dict[str, dict[str, float]] = {}
        for page in pages:
            client.get(page)  # warm
            samples = []
            for _ in range(runs):
                started = time.perf_counter()
                response = client.get(page)
                samples.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (role, page, response.status_code)
            timings[page] = {
                "p50": round(percentile(samples, 0.50), 1),
                "p95": round(percentile(samples, 0.95), 1),
                "bytes": len(response.content),
            }
        figures[role] = {"pages": timings, "refused": refused}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--roles", default=",".join(ROLES))
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="bulwark-pages-")
    os.environ.update({"BULWARK_DATA_DIR": data_dir, "DATABASE_URL": ""})
    if not (Path(data_dir) / "bulwark.sqlite3").exists():
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "bulwark.cli", "demo", "--no-serve"],
            env=os.environ, check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        print(f"demo loaded in {time.perf_counter() - started:.0f} s", flush=True)
    roles = args.roles.split(",")
    setup()
    figures = {}
    for language in ("en", "zh-hant"):
        # zh-Hant only for the anonymous public pages (the public reads both).
        chosen = roles if language == "en" else [r for r in roles if r == "anonymous"]
        for role, data in measure(chosen, args.runs, language).items():
            figures[role if language == "en" else f"{role} (zh-Hant)"] = data
    worst = ("", "", 0.0)
    print(f"{'role':<22} {'page':<48} {'p50 ms':>8} {'p95 ms':>8}")
    for role, data in figures.items():
        for page, t in data["pages"].items():
            print(f"{role:<22} {page:<48} {t['p50']:>8.1f} {t['p95']:>8.1f}")
            if t["p95"] > worst[2]:
                worst = (role, page, t["p95"])
        for page, code in data["refused"].items():
            print(f"{role:<22} {page:<48} {'answered ' + str(code):>17}")
    verdict = "meets" if worst[2] <= TARGET_P95_MS else "MISSES"
    print(
        f"worst p95: {worst[2]:.1f} ms ({worst[0]} {worst[1]}); target {TARGET_P95_MS:.0f} ms: "
        f"{verdict}; {sum(len(d['pages']) for d in figures.values())} pages, "
        f"{args.runs} warm requests each"
    )
    record = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "label": args.label,
        "runs": args.runs,
        "target_p95_ms": TARGET_P95_MS,
        "worst": {"role": worst[0], "page": worst[1], "p95_ms": worst[2]},
        "meets_target": worst[2] <= TARGET_P95_MS,
        "machine": f"{platform.node()} {os.cpu_count()} CPUs, python {platform.python_version()}",
        "roles": figures,
    }
    with OUT.open("a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
