"""`bulwark monitor`: match logs against indicators, list formats, run stream workers,
publish logs, retro-hunt the archive. See docs/monitoring.md."""

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "National monitoring: match agency logs against indicators (see docs/monitoring.md)."
    # The system checks import every URLconf and view (matplotlib, stix2, weasyprint...):
    # 1.8 s and 110 MB more for a command that needs none of them. `bulwark check` and
    # the server commands still run them.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        match = sub.add_parser("match", help="match log files (or - for stdin); hits as NDJSON")
        match.add_argument(
            "--indicators",
            action="append",
            metavar="FILE",
            help="plain list or STIX 2.1 bundle (repeatable); "
            "default: the platform's current indicators",
        )
        match.add_argument("--format", help="log format (default: detected)")
        match.add_argument("--workers", type=int, help="processes (default: CPU count)")
        match.add_argument("--output", metavar="HITS.ndjson", help="default: standard output")
        match.add_argument("--agency", help="agency the logs come from (copied into each hit)")
        match.add_argument(
            "--map",
            action="append",
            metavar="FIELD=KIND",
            help="ndjson/csv: field to examine and its kind (addr, domain, host, url, hash, email)",
        )
        match.add_argument("logs", nargs="*", metavar="LOG")
        detect = sub.add_parser(
            "detect", help="behavioural detection (beacons, tunnels, DGA, scans...); NDJSON"
        )
        detect.add_argument(
            "--format",
            help="zeek-{conn,dns,http,ssl}-{json,tsv} or suricata-eve (default: detected)",
        )
        detect.add_argument("--output", metavar="ALERTS.ndjson", help="default: standard output")
        detect.add_argument("--agency", default="", help="agency the logs come from")
        detect.add_argument(
            "--allow", action="append", metavar="FILE", help="allow list (repeatable)"
        )
        detect.add_argument(
            "--set", action="append", metavar="NAME=VALUE", help="detector setting (repeatable)"
        )
        detect.add_argument("--only", action="append", metavar="DETECTOR", help="run only these")
        detect.add_argument("logs", nargs="+", metavar="LOG")
        sub.add_parser("formats", help="list log formats")
        worker = sub.add_parser("worker", help="match log batches from NATS or a directory")
        worker.add_argument("--nats", metavar="URL", help="e.g. nats://127.0.0.1:4222")
        worker.add_argument("--stream", default="LOGS")
        worker.add_argument("--durable", default="monitor", help="consumer shared by workers")
        worker.add_argument("--watch", metavar="DIR", help="without NATS: DIR/AGENCY/FORMAT/FILE")
        worker.add_argument("--indicators", action="append", metavar="FILE")
        worker.add_argument("--reload", type=float, default=30.0, help="seconds (default 30)")
        worker.add_argument("--ack-wait", type=float, default=30.0)
        worker.add_argument("--pause", type=float, default=0.0, help=argparse.SUPPRESS)
        worker.add_argument("--idle-exit", type=float, default=0.0, help=argparse.SUPPRESS)
        # benchmarks: build the snapshot, then wait for this file before consuming
        worker.add_argument("--start-when", metavar="FILE", help=argparse.SUPPRESS)
        hunt = sub.add_parser("hunt", help="search the stored log archive for values")
        hunt.add_argument("--since", default="30d", help="e.g. 30d or 12h (default 30d)")
        hunt.add_argument("--workers", type=int, help="processes (default: CPU count)")
        hunt.add_argument("values", nargs="+", metavar="VALUE")
        publish = sub.add_parser("publish", help="push log files into the NATS stream")
        publish.add_argument("--nats", metavar="URL", default="nats://127.0.0.1:4222")
        publish.add_argument("--stream", default="LOGS")
        publish.add_argument("--agency", required=True, help="organisation id or short name")
        publish.add_argument("--format", required=True)
        publish.add_argument("--batch-bytes", type=int, default=1024 * 1024)
        publish.add_argument("files", nargs="+", metavar="FILE")

    def handle(self, *args: Any, **options: Any) -> None:
        from bulwark.monitoring import cli

        action = options["action"]
        try:
            if action == "formats":
                cli.list_formats(sys.stdout)
            elif action == "match":
                cli.run_match(options, sys.stdout, sys.stderr)
            elif action == "detect":
                cli.run_detect(options, sys.stdout, sys.stderr)
            elif action == "publish":
                self._publish(options)
            elif action == "worker":
                self._worker(options)
            elif action == "hunt":
                self._hunt(options)
        except cli.UsageError as exc:
            raise CommandError(str(exc)) from None

    def _publish(self, options: dict[str, Any]) -> None:
        from bulwark.monitoring import streaming
        from bulwark.monitoring.engine import FORMATS

        if options["format"] not in FORMATS:
            raise CommandError(f"unknown format {options['format']!r}")
        for name in options["files"]:
            if not Path(name).is_file():
                raise CommandError(f"{name}: no such file")
        sent = asyncio.run(
            streaming.publish(
                options["nats"], options["stream"], options["agency"], options["format"],
                options["files"], options["batch_bytes"],
            )
        )  # fmt: skip
        self.stdout.write(f"published {sent} batches to {options['stream']}")

    def _worker(self, options: dict[str, Any]) -> None:
        from bulwark.monitoring import streaming

        files = options["indicators"] or []
        holder = streaming.SnapshotHolder(
            lambda: streaming.build_snapshot(files), options["reload"]
        )
        holder.start()
        self.stdout.write(f"worker ready: {holder.current.size} indicators")
        self.stdout.flush()
        while options.get("start_when") and not Path(options["start_when"]).exists():
            time.sleep(0.05)
        if options["nats"]:
            asyncio.run(
                streaming.run_nats_worker(
                    holder, options["nats"], options["stream"], options["durable"],
                    options["ack_wait"], options["pause"], options["idle_exit"],
                )
            )  # fmt: skip
        elif options["watch"]:
            streaming.run_directory_worker(holder, Path(options["watch"]))
        else:
            raise CommandError("give --nats URL or --watch DIR")

    def _hunt(self, options: dict[str, Any]) -> None:
        import os

        import orjson

        from bulwark.monitoring import archive
        from bulwark.monitoring.engine import FORMATS, Snapshot, match_paths
        from bulwark.monitoring.engine.indicators import from_text

        try:
            since = archive.parse_since(options["since"])
            indicators = [from_text(v) for v in options["values"]]
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        snapshot = Snapshot.build(indicators)
        groups: dict[tuple[str, str], list[str]] = {}
        for agency, fmt, path in archive.files_since(since):
            if fmt in FORMATS:
                groups.setdefault((agency, fmt), []).append(str(path))
        lines = 0

        def emit(hit: Any) -> None:
            sys.stdout.buffer.write(orjson.dumps(hit.as_dict()) + b"\n")

        for (agency, fmt), paths in groups.items():
            summary = match_paths(
                snapshot, FORMATS[fmt], paths, agency=agency,
                workers=max(1, options["workers"] or os.cpu_count() or 1),
                on_hit=emit,
                keep_hits=False,
            )  # fmt: skip
            lines += summary.result.lines
        sys.stdout.flush()
        sys.stderr.write(
            f"hunted {len(options['values'])} values over {sum(map(len, groups.values()))} "
            f"archived batches ({lines:,} lines) of the last {options['since']}\n"
        )
