"""First views of the statistics pages on the demo data (issue 18: "first views of /stats/
take 1-2.9 s, the annual report PDF 8 s with no sign of progress"; targets: the first view
of any /stats/ tab <= 800 ms, the annual report ready <= 10 s).

Loads the demo (`bulwark demo --no-serve`) into a fresh SQLite database, then in one new
process, for each demo role, GETs every tab of /stats/ once through the whole Django stack
(django.test.Client, signed in, second factor passed) with nothing counted or drawn
before: no snapshot rows, an empty chart cache, matplotlib not yet imported. That is what
the first visitor after a restart gets. Then the annual report: the time until the
generated PDF is ready (the job the page starts, run by the worker; here in-process).

Usage: python bench/stats_first_view.py [--roles duty,reporter,reviewer] [--label before]
Results: bench/results/stats_first_view.txt (appended) and .json (last run).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT_TXT = ROOT / "bench" / "results" / "stats_first_view.txt"
OUT_JSON = ROOT / "bench" / "results" / "stats_first_view.json"
TABS = ("report", "incidents", "timeliness", "activity", "trends")
TARGET_MS = 800.0
TARGET_REPORT_S = 10.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--roles", default="duty,reporter,reviewer")
    parser.add_argument("--label", default="")
    parser.add_argument("--data-dir", default="")
    args = parser.parse_args()
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="bulwark-stats-first-")
    env = {**os.environ, "BULWARK_DATA_DIR": data_dir, "DATABASE_URL": ""}
    if not (Path(data_dir) / "bulwark.sqlite3").exists():
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "bulwark.cli", "demo", "--no-serve"],
            env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        print(f"demo loaded in {time.perf_counter() - started:.0f} s", flush=True)
    # A new process per measurement run: nothing imported, cached or counted before.
    result = subprocess.run(
        [sys.executable, __file__, "--measure", args.roles],
        env=env, cwd=ROOT, check=True, capture_output=True, text=True,
    )  # fmt: skip
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"## {stamp} {args.label}".rstrip(), ""]
    lines.append(f"{'role':<10} " + " ".join(f"{t:>11}" for t in TABS) + "   (ms, first view)")
    worst = 0.0
    for role, tabs in figures["pages"].items():
        worst = max(worst, *tabs.values())
        lines.append(f"{role:<10} " + " ".join(f"{tabs[t]:>11.0f}" for t in TABS))
    lines.append(f"worst first view: {worst:.0f} ms (target {TARGET_MS:.0f} ms)")
    if any(figures.get("charts", {}).get(r, {}).get(t) for r in figures["pages"] for t in TABS):
        lines.append(
            "charts and panels the page fetches afterwards (all of a tab, one by one, ms):"
        )
        for role, tabs in figures["charts"].items():
            lines.append(f"{role:<10} " + " ".join(f"{tabs[t]:>11.0f}" for t in TABS))
    report = figures["report"]
    lines.append(
        f"annual report ({report['role']}): page answered in {report['page_ms']:.0f} ms, "
        f"PDF ready after {report['ready_s']:.1f} s (target {TARGET_REPORT_S:.0f} s), "
        f"{report['pdf_bytes']} bytes"
    )
    lines.append("")
    text = "\n".join(lines)
    print(text)
    with OUT_TXT.open("a", encoding="utf-8") as out:
        out.write(text + "\n")
    OUT_JSON.write_text(json.dumps({"at": stamp, "label": args.label, **figures}, indent=2))


def measure(roles: list[str]) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bulwark.settings")
    import django

    django.setup()
    from django.test import Client
    from django.test.utils import setup_test_environment

    from bulwark.analytics.models import Snapshot
    from bulwark.conftest import sign_in
    from bulwark.constituency.models import User

    setup_test_environment()
    # What the server does before it takes requests (bulwark.wsgi; gunicorn preloads it).
    import bulwark.wsgi  # noqa: F401

    Snapshot.objects.all().delete()
    try:  # a PDF made in the last minutes would be handed out again, not made
        from bulwark.analytics.models import ReportJob

        ReportJob.objects.all().delete()
    except ImportError:  # before report jobs existed
        pass
    import re

    pages: dict[str, dict[str, float]] = {}
    charts: dict[str, dict[str, float]] = {}
    for role in roles:
        client = sign_in(Client(), User.objects.get(username=role))
        pages[role], charts[role] = {}, {}
        for tab in TABS:
            started = time.perf_counter()
            response = client.get(f"/stats/?group={tab}")
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, (role, tab, response.status_code)
            pages[role][tab] = elapsed
            # The charts the page then fetches (hx-get), one after the other.
            started = time.perf_counter()
            queue = re.findall(r'hx-get="([^"]+)"', response.content.decode())
            while queue:  # a panel fetched after the page may fetch its chart in turn
                url = queue.pop(0)
                part = client.get(url.replace("&amp;", "&"))
                assert part.status_code == 200, url
                queue += re.findall(r'hx-get="([^"]+)"', part.content.decode())
            charts[role][tab] = (time.perf_counter() - started) * 1000
    report = annual_report(Client, sign_in, User)
    print(json.dumps({"pages": pages, "charts": charts, "report": report}))


def annual_report(client_class: Any, sign_in: Any, user_model: Any) -> dict[str, Any]:
    """The duty officer asks for last year's PDF: time to the page, then until it is ready
    (the job run as the worker runs it)."""
    import weasyprint  # type: ignore[import-untyped,unused-ignore]  # noqa: F401 (the worker imports it at start)
    from django.utils import timezone

    client = sign_in(client_class(), user_model.objects.get(username="duty"))
    year = timezone.localdate().year - 1
    started = time.perf_counter()
    response = client.post("/stats/report/annual/jobs/", {"year": year, "lang": "en"})
    page_ms = (time.perf_counter() - started) * 1000
    if response.status_code == 302:  # the job page: run the queued job like the worker
        from bulwark.conftest import run_queued_tasks

        run_queued_tasks()
        status = client.get(response["Location"])
        assert status.status_code == 200
        download = client.get(response["Location"] + "pdf/")
    else:  # before: the PDF was made inside the request
        download = client.get(f"/stats/report/annual/?year={year}&format=pdf")
    ready_s = time.perf_counter() - started
    assert download.status_code == 200, download.status_code
    return {
        "role": "duty",
        "page_ms": page_ms,
        "ready_s": ready_s,
        "pdf_bytes": len(download.content),
    }


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--measure":
        measure(sys.argv[2].split(","))
    else:
        main()
