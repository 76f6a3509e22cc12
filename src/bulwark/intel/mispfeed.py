"""Pull a MISP feed (CIRCL's OSINT feed format: `manifest.json` plus one `<uuid>.json` per
event) into a collection: each event that is new, or newer than the stored version, is
imported like a shared MISP event (`misp.import_event`, the platform as the sharer), so
its attributes correlate and its to_ids indicators reach detection exports.

`bulwark misp_feed_pull URL --collection UUID [--header "Authorization: KEY"]`; URL may
also be a local directory holding the same files.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bulwark.intel import misp
from bulwark.intel.models import Collection, StixObject

Fetch = Callable[[str], bytes]
MAX_EVENT_BYTES = 20 * 1024 * 1024


class FeedError(ValueError):
    pass


@dataclass
class Pulled:
    listed: int = 0
    imported: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    stored: int = 0


def http_fetcher(headers: dict[str, str] | None = None, timeout: float = 60) -> Fetch:
    # Lazy: requests only when a remote feed is fetched.
    import requests

    session = requests.Session()
    session.headers.update(headers or {})

    def fetch(url: str) -> bytes:
        response = session.get(url, timeout=timeout, stream=True)
        if response.status_code != 200:
            raise FeedError(f"{url}: HTTP {response.status_code}")
        body = response.raw.read(MAX_EVENT_BYTES + 1, decode_content=True)
        if len(body) > MAX_EVENT_BYTES:
            raise FeedError(f"{url}: larger than {MAX_EVENT_BYTES} bytes")
        return bytes(body)

    return fetch


def directory_fetcher(root: Path) -> Fetch:
    def fetch(url: str) -> bytes:
        return (root / url.rsplit("/", 1)[-1]).read_bytes()

    return fetch


def pull(collection: Collection, base_url: str, fetch: Fetch) -> Pulled:
    """Import the feed's new and changed events into `collection`."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    try:
        manifest = orjson.loads(fetch(base + "manifest.json"))
    except (orjson.JSONDecodeError, OSError) as exc:
        raise FeedError(f"manifest.json is not readable: {exc}") from None
    if not isinstance(manifest, dict):
        raise FeedError("manifest.json must be an object of event uuid -> event header")
    outcome = Pulled(listed=len(manifest))
    for ident, header in manifest.items():
        stamp = header.get("timestamp") if isinstance(header, dict) else None
        try:
            moment = datetime.fromtimestamp(int(stamp), UTC) if stamp is not None else None
        except (TypeError, ValueError, OverflowError):
            moment = None
        stored = StixObject.objects.filter(
            collection=collection, stix_id=f"{misp.EVENT_TYPE}--{ident}"
        )
        if moment is not None and stored.filter(version__gte=moment).exists():
            outcome.unchanged += 1
            continue
        try:
            body = fetch(f"{base}{ident}.json")
            shared = misp.import_event(None, collection, body.decode("utf-8"), channel="mispfeed")
        except (FeedError, OSError, UnicodeDecodeError, misp.InvalidMisp) as exc:
            outcome.failed.append((str(ident), str(exc)[:300]))
            continue
        outcome.imported += 1
        outcome.stored += shared.outcome.stored
    return outcome


def pull_url(collection: Collection, url: str, headers: dict[str, str] | None = None) -> Pulled:
    if "://" not in url or url.startswith("file://"):
        root = Path(url.removeprefix("file://"))
        return pull(collection, root.as_posix(), directory_fetcher(root))
    return pull(collection, url, http_fetcher(headers))


def describe(outcome: Pulled) -> dict[str, Any]:
    return {
        "listed": outcome.listed, "imported": outcome.imported,
        "unchanged": outcome.unchanged, "stored_objects": outcome.stored,
        "failed": outcome.failed,
    }  # fmt: skip
