"""Scheduled HTTP pulls of configured feeds. Conditional GET (ETag / Last-Modified), so an
unchanged feed costs one request; the body streams into the raw report store (never
whole in memory) and is ingested like any other report. Only http and https."""

import urllib.error
import urllib.request
from datetime import datetime, timedelta
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlparse

from django.utils import timezone

from bulwark.exchange import services
from bulwark.exchange.models import Feed, Report

TIMEOUT = 60
MAX_BYTES = 500 << 20


class _Limited:
    """Reads at most MAX_BYTES from the response, then fails loudly."""

    def __init__(self, response: Any) -> None:
        self._response = response
        self._read = 0

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._response.read(size if size > 0 else 1 << 20)
        self._read += len(data)
        if self._read > MAX_BYTES:
            raise ValueError(f"the feed sent more than {MAX_BYTES:,} bytes")
        return data


def pull(feed: Feed, now: datetime | None = None) -> str:
    """Fetch one feed; returns a short outcome and records it on the feed."""
    now = now or timezone.now()
    if urlparse(feed.url).scheme not in ("http", "https"):
        return services.record_pull(feed, now, "error", "only http and https URLs are pulled")
    request = urllib.request.Request(feed.url, headers={"User-Agent": "bulwark-exchange/1"})  # noqa: S310
    if feed.etag:
        request.add_header("If-None-Match", feed.etag)
    if feed.last_modified:
        request.add_header("If-Modified-Since", feed.last_modified)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            name = PurePosixPath(urlparse(response.geturl()).path).name or f"{feed.name}.dat"
            result = services.ingest(
                None,
                _Limited(response),  # type: ignore[arg-type]
                file_name=name,
                fmt=feed.format,
                feed=feed.name,
                source=Report.Source.PULL,
                mapping=feed.mapping,
            )
            feed.etag = (response.headers.get("ETag") or "")[:200]
            feed.last_modified = (response.headers.get("Last-Modified") or "")[:100]
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return services.record_pull(feed, now, "not modified", "")
        return services.record_pull(feed, now, "error", f"HTTP {exc.code} {exc.reason}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return services.record_pull(feed, now, "error", str(exc)[:500])
    outcome = "already ingested" if result.already else f"report #{result.report.pk}"
    return services.record_pull(feed, now, outcome, result.report.error)


def pull_due(now: datetime | None = None) -> dict[str, str]:
    now = now or timezone.now()
    outcomes = {}
    for feed in Feed.objects.filter(enabled=True):
        due = (
            feed.last_pulled_at is None
            or feed.last_pulled_at + timedelta(minutes=feed.interval_minutes) <= now
        )
        if due:
            outcomes[feed.name] = pull(feed, now)
    return outcomes
