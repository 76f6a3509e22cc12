"""Schemathesis against the API's own OpenAPI schema, through the WSGI application (no
server), as two identities: a platform admin whose token has every scope, and an agency's
organisation admin (who also reports incidents). For every operation, generated valid and
invalid requests must never answer 5xx, must answer only documented status codes, and must
answer bodies that match the schema.

Bounded for CI (`make test` runs it on SQLite and PostgreSQL): a few examples per operation
(FUZZ_EXAMPLES, default 12), no deadline, derandomized so a failure repeats. Each operation
runs in its own test transaction on a fresh small world, so destructive calls (DELETE,
token revocation) cannot spill into the next operation."""

import json
import os
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from bulwark.constituency import services as cs
from bulwark.constituency.access import viewer_of
from bulwark.constituency.rules import token_scopes
from bulwark.core.tlp import TLP
from bulwark.incidents.levels import Answers
from bulwark.incidents.services import report_incident
from bulwark.intel import sharing
from bulwark.intel.models import Collection
from bulwark.monitoring import services as monitoring
from bulwark.monitoring.models import AlertRule

# The site's WSGI application, built as bulwark.wsgi builds it; importing bulwark.wsgi here
# would mark this test process as a web server (core/bulk.py: no process-wide tuning).
application = get_wsgi_application()

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
# Answers counted by class, for the figures in docs/api.md: FUZZ_STATS=FILE writes them.
ANSWERS: Counter[str] = Counter()


def count_answer(ctx: Any, response: Any, case: Any) -> None:
    ANSWERS["requests"] += 1
    ANSWERS[f"{response.status_code}"] += 1


CHECKS = [count_answer, not_a_server_error, status_code_conformance, response_schema_conformance]


@pytest.fixture(scope="module", autouse=True)
def _answer_figures() -> Iterator[None]:
    yield
    if os.environ.get("FUZZ_STATS"):
        Path(os.environ["FUZZ_STATS"]).write_text(json.dumps(ANSWERS, indent=1, sort_keys=True))


# The coverage phase (every boundary case the schema defines, generated when the tests are
# collected) took 70 s to collect and many more requests than the bound allows; the
# examples and fuzzing phases run, the fuzzing one bounded by FUZZ_EXAMPLES.
CONFIG = schemathesis.Config.from_dict({"phases": {"coverage": {"enabled": False}}, "seed": 2026})
schema = schemathesis.openapi.from_wsgi("/api/schema/", application, config=CONFIG)


def world() -> dict[str, str]:
    """A small constituency with a little of everything; the two identities' tokens."""
    cert = cs.create_organisation(None, name="CERT", kind="national_cert", country="TW")
    authority = cs.create_organisation(
        None, name="Ministry", kind="authority", country="TW", parent=cert
    )
    agency = cs.create_organisation(
        None, name="Bureau", kind="government_agency", country="TW", parent=authority
    )
    cs.create_organisation(None, name="Police", kind="lea", country="TW", parent=cert)
    admin = cs.create_user(None, username="fuzz-admin", email="admin@cert.example")
    cs.add_membership(None, admin, cert, "platform_admin")
    agent = cs.create_user(None, username="fuzz-agency", email="agent@bureau.example")
    cs.add_membership(None, agent, agency, "org_admin")
    cs.add_membership(None, agent, agency, "reporter")
    cs.add_network(admin, agency, "cidr", "192.0.2.0/24")
    cs.add_network(admin, agency, "domain", "bureau.example")
    cs.add_contact(admin, agency, purpose="security", email="soc@bureau.example")
    report_incident(
        agent, agency, title="Defacement", description="Home page replaced.",
        rsit_class="intrusions", rsit_type="system-compromise",
        answers=Answers(integrity="minor"), aware_at=timezone.now() - timedelta(hours=1),
        indicators=[("ipv4", "198.51.100.7")],
    )  # fmt: skip
    collection = Collection.objects.create(title="Community", requires_review=False)
    sharing.share_text(admin, collection, "plain", "198.51.100.7\nevil.example\n", TLP.GREEN)
    AlertRule.objects.create(name="scored", min_score=50)
    hit = {"indicator": "evil.example", "type": "domain", "field": "query", "score": 80,
           "indicator_id": "indicator--x", "ts": timezone.now().timestamp()}  # fmt: skip
    monitoring.record_hits(agency, [hit])
    tokens = {}
    for name, user in (("admin", admin), ("agency", agent)):
        # Every scope the person's roles allow (an agency may not hold exchange:write).
        allowed = sorted(token_scopes(viewer_of(user)))
        _token, secret = cs.create_api_token(None, user, name="fuzz", scopes=allowed)
        tokens[name] = secret
    return tokens


@pytest.fixture
def tokens(db: None) -> Iterator[dict[str, str]]:
    """The world's tokens. Django closes the database connection when a WSGI request ends;
    that would close the test's transaction, so (like Django's test client) the signal
    handlers are disconnected while requests run."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield world()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def run(case: Any, secret: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {secret}"}, checks=CHECKS)


FUZZ = hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@schema.parametrize()
@FUZZ
def test_api_as_platform_admin(case: Any, tokens: dict[str, str]) -> None:
    run(case, tokens["admin"])


@schema.parametrize()
@FUZZ
def test_api_as_agency(case: Any, tokens: dict[str, str]) -> None:
    run(case, tokens["agency"])
