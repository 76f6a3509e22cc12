"""EPSS scores and the known-exploited (KEV) list loaded onto the findings still tracked."""

from collections import defaultdict
from typing import IO

from django.db import transaction

from bulwark.constituency.models import User
from bulwark.core import audit
from bulwark.core.permissions import require
from bulwark.findings import engine
from bulwark.findings.models import (
    ACTIVE_STATUSES,
    Finding,
    FindingCve,
)
from bulwark.findings.services.common import (
    BATCH,
    KEPT_WHEN_SEEN,
)


# --- EPSS and the known-exploited list ------------------------------------------------
def _cves_of_tracked() -> dict[int, list[str]]:
    by_finding: dict[int, list[str]] = defaultdict(list)
    rows = FindingCve.objects.filter(
        finding__status__in=(*ACTIVE_STATUSES, *KEPT_WHEN_SEEN)
    ).values_list("finding_id", "cve")
    for finding_id, cve in rows.iterator(chunk_size=5000):
        by_finding[finding_id].append(cve)
    return by_finding


def load_epss(actor: User | None, stream: IO[bytes]) -> int:
    """FIRST's daily EPSS file (epss_scores-YYYY-MM-DD.csv, plain or gzip): each finding
    still tracked gets the highest probability among its CVEs. Returns findings updated.
    A file the engine refuses raises ParseError before anything changes."""
    if actor is not None:
        require(actor, "findings.plan")
    wanted = _cves_of_tracked()
    needed = {cve for cves in wanted.values() for cve in cves}
    scores = {cve: epss for cve, epss, _pct in engine.read_epss(stream) if cve in needed}
    changed = [
        Finding(pk=pk, epss=max(scores[c] for c in cves if c in scores))
        for pk, cves in wanted.items()
        if any(c in scores for c in cves)
    ]
    with transaction.atomic():
        Finding.objects.bulk_update(changed, ["epss"], batch_size=BATCH)
        audit.record(
            actor, "findings.epss_loaded", object_type="findings.finding",
            changes={"findings": len(changed), "cves": len(scores)},
        )  # fmt: skip
    return len(changed)


def load_kev(actor: User | None, stream: IO[bytes]) -> int:
    """CISA's known_exploited_vulnerabilities.json: findings still tracked with a CVE in
    the catalogue are flagged known-exploited (and unflagged when it left). Returns the
    findings flagged."""
    if actor is not None:
        require(actor, "findings.plan")
    listed = {entry.cve.upper() for entry in engine.read_kev(stream)}
    wanted = _cves_of_tracked()
    flagged = [pk for pk, cves in wanted.items() if any(c in listed for c in cves)]
    with transaction.atomic():
        tracked = Finding.objects.filter(pk__in=list(wanted))
        tracked.filter(kev=True).exclude(pk__in=flagged).update(kev=False)
        for start in range(0, len(flagged), BATCH):
            Finding.objects.filter(pk__in=flagged[start : start + BATCH]).update(kev=True)
        audit.record(
            actor, "findings.kev_loaded", object_type="findings.finding",
            changes={"findings": len(flagged), "catalogue": len(listed)},
        )  # fmt: skip
    return len(flagged)
