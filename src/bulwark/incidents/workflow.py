"""Incident states and the transitions between them (pure module).

An action is allowed only from the states listed here; anything else is refused with a
message, never ignored.
"""

from enum import StrEnum
from typing import Any

from django.utils.translation import gettext_lazy


class Status(StrEnum):
    REPORTED = "reported"  # notified by the agency, awaiting the authority's review
    REVIEWED = "reviewed"  # level confirmed by the supervising authority
    RESPONDING = "responding"  # the CERT guides the response
    RECOVERED = "recovered"  # damage control / recovery completed and reported
    FINAL_REPORT = "final_report"  # final report submitted, awaiting the CERT
    REVISION = "revision_required"  # the CERT asked for changes to the final report
    CLOSED = "closed"


STATUS_LABELS: dict[str, Any] = {
    Status.REPORTED: gettext_lazy("reported"),
    Status.REVIEWED: gettext_lazy("reviewed"),
    Status.RESPONDING: gettext_lazy("responding"),
    Status.RECOVERED: gettext_lazy("recovered"),
    Status.FINAL_REPORT: gettext_lazy("final report submitted"),
    Status.REVISION: gettext_lazy("revision required"),
    Status.CLOSED: gettext_lazy("closed"),
}

# action -> (states it may start from, resulting state or None to keep the state)
TRANSITIONS: dict[str, tuple[frozenset[Status], Status | None]] = {
    "review": (frozenset({Status.REPORTED}), Status.REVIEWED),
    "change_level": (
        frozenset({Status.REVIEWED, Status.RESPONDING, Status.RECOVERED}),
        Status.REPORTED,  # a new notification: the authority reviews again
    ),
    "respond": (frozenset({Status.REPORTED, Status.REVIEWED}), Status.RESPONDING),
    "recover": (frozenset({Status.REVIEWED, Status.RESPONDING}), Status.RECOVERED),
    "submit_final_report": (frozenset({Status.RECOVERED, Status.REVISION}), Status.FINAL_REPORT),
    "request_revision": (frozenset({Status.FINAL_REPORT}), Status.REVISION),
    "approve_final_report": (frozenset({Status.FINAL_REPORT}), Status.CLOSED),
    "grant_extension": (frozenset({Status.RECOVERED, Status.REVISION, Status.FINAL_REPORT}), None),
    "note": (frozenset(set(Status) - {Status.CLOSED}), None),
}


class IllegalTransition(Exception):
    pass


def next_status(current: str, action: str) -> Status:
    allowed, target = TRANSITIONS[action]
    status = Status(current)
    if status not in allowed:
        names = ", ".join(sorted(s.value for s in allowed))
        raise IllegalTransition(
            f"'{action}' is not possible while the incident is {status.value}; "
            f"it needs one of: {names}."
        )
    return target or status
