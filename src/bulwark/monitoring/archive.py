"""The log archive that retro-hunts read: every batch a worker stored is also written to
ARCHIVE/<agency short name>/<YYYY-MM-DD>/<format>/<batch>.log.zst (one Zstandard frame,
`zstd -d` reads it; archives written before 2026-11-24 hold plain <batch>.log files, still
read), where ARCHIVE is $BULWARK_MONITOR_ARCHIVE or <data dir>/monitoring-archive.
Operators prune it by age (`find ARCHIVE -mindepth 2 -maxdepth 2 -mtime +90 -exec rm -r {} +`)."""

import hashlib
import os
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings

from bulwark.monitoring.engine import codec

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def root() -> Path:
    configured = os.environ.get("BULWARK_MONITOR_ARCHIVE")
    return Path(configured) if configured else Path(settings.DATA_DIR) / "monitoring-archive"


def store(
    agency: str, fmt: str, key: str, data: bytes, day: date | None = None, *, packed: bool = False
) -> Path:
    """Archive one batch: `data` is the raw lines, or with packed=True the Zstandard frame
    they arrived in (written as it is, without compressing again)."""
    day = day or date.today()
    folder = root() / (_SAFE.sub("_", agency) or "unknown") / day.isoformat() / _SAFE.sub("_", fmt)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (hashlib.sha256(key.encode()).hexdigest()[:32] + codec.ARCHIVE_SUFFIX)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data if packed else codec.compress(data))
    tmp.rename(path)
    return path


def parse_since(text: str) -> timedelta:
    match = re.fullmatch(r"(\d{1,4})([dh])", text.strip())
    if not match:
        raise ValueError("--since takes a duration such as 30d or 12h")
    number = int(match.group(1))
    return timedelta(days=number) if match.group(2) == "d" else timedelta(hours=number)


def files_since(since: timedelta, today: date | None = None) -> Iterator[tuple[str, str, Path]]:
    """(agency, format, path) of archived batches of the last `since`, oldest first."""
    first = (today or date.today()) - timedelta(days=since.days)
    base = root()
    if not base.is_dir():
        return
    for agency_dir in sorted(p for p in base.iterdir() if p.is_dir()):
        for day_dir in sorted(p for p in agency_dir.iterdir() if p.is_dir()):
            try:
                day = date.fromisoformat(day_dir.name)
            except ValueError:
                continue
            if day < first:
                continue
            for fmt_dir in sorted(p for p in day_dir.iterdir() if p.is_dir()):
                for path in sorted(fmt_dir.iterdir()):
                    if path.name.endswith((".log", codec.ARCHIVE_SUFFIX)):
                        yield agency_dir.name, fmt_dir.name, path
