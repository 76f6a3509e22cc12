"""The per-agency figures the results page reads (`AgencyOutcome`, kept by triggers on the
recipients) always equal a count straight from the events and recipients: after delivery
and bounces, a pause and resume, human and automated hits, confirmations by the landing
page, bursts that reclassify earlier events, and reports (issue 22, 1 M events)."""

import random
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from bulwark.drills import selectors, services
from bulwark.drills.engine import classify
from bulwark.drills.models import AgencyOutcome, Campaign, DrillEvent, EventKind, Recipient
from bulwark.drills.tests.world import World

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0"
GATEWAY = "Proofpoint URL Defense"
OPENS = {EventKind.OPENED, EventKind.CLICKED, EventKind.ATTACHMENT, EventKind.SUBMITTED}


def _from_events(campaign: Campaign) -> dict[int, tuple[Any, ...]]:
    """Each agency's figures counted the slow way, from every event and recipient."""
    people: dict[int, list[Recipient]] = defaultdict(list)
    for r in Recipient.objects.filter(campaign=campaign):
        people[r.organisation_id].append(r)
    out = {}
    for org_id, rows in people.items():
        figures = [len(rows), 0, 0, 0, 0, 0, 0, 0]
        firsts: list[datetime] = []
        for r in rows:
            events = list(DrillEvent.objects.filter(recipient=r))
            human = [e for e in events if not e.automated]

            def first(kinds: set[str], human: list[DrillEvent] = human) -> datetime | None:
                return min((e.at for e in human if e.kind in kinds), default=None)

            clicked, reported = first({EventKind.CLICKED}), first({EventKind.REPORTED})
            figures[1] += r.sent_at is not None and not r.bounced
            figures[2] += first(OPENS) is not None
            figures[3] += clicked is not None
            figures[4] += first({EventKind.SUBMITTED}) is not None
            figures[5] += reported is not None
            figures[6] += reported is not None and (clicked is None or reported < clicked)
            figures[7] += sum(1 for e in events if e.automated)
            if reported is not None:
                firsts.append(reported)
        sent = [r.sent_at for r in rows if r.sent_at is not None]
        out[org_id] = (*figures, min(sent, default=None), min(firsts, default=None))
    return out


def _kept(campaign: Campaign) -> dict[int, tuple[Any, ...]]:
    return {
        o.organisation_id: (
            o.people,
            o.sent,
            o.opened,
            o.clicked,
            o.submitted,
            o.reported,
            o.reported_first,
            o.automated,
            o.first_sent_at,
            o.first_reported_at,
        )
        for o in AgencyOutcome.objects.filter(campaign=campaign)
    }


def test_kept_agency_figures_equal_a_count_from_the_events(world: World) -> None:
    rng = random.Random(2231)
    orgs = [world.bureau, world.office, world.grid]
    campaign = world.campaign()
    lines = ["email,organisation,name,department,language"]
    lines += [f"p{i}@x{i % 3}.example.org,{orgs[i % 3].name},P {i},,en" for i in range(45)]
    assert not services.import_recipients(world.analyst, campaign, "\n".join(lines)).errors
    services.launch(world.analyst, campaign)
    start = timezone.now() - timedelta(hours=2)
    people = list(Recipient.objects.filter(campaign=campaign).order_by("pk"))
    # Delivery, a pause half-way (nothing moves), the rest, and a few refusals.
    for n, person in enumerate(people):
        if n == 20:
            services.pause(world.analyst, campaign)
            assert _kept(campaign) == _from_events(campaign)
            services.resume(world.analyst, campaign)
        error = "550 no such user" if rng.random() < 0.1 else ""
        services.record_outcome(person, error=error, at=start + timedelta(seconds=n * 7))
    sent = [p for p in Recipient.objects.filter(campaign=campaign, bounced=False)]
    kinds = [EventKind.OPENED, EventKind.CLICKED, EventKind.PAGE, EventKind.SUBMITTED,
             EventKind.ATTACHMENT]  # fmt: skip
    clock = start + timedelta(minutes=30)
    for _ in range(300):
        person = rng.choice(sent)
        clock += timedelta(seconds=rng.choice([1, 1, 5, 30, 90]))
        roll = rng.random()
        if roll < 0.08:
            services.record_report(person.token, at=clock)
        elif roll < 0.1:
            services.record_bounce(person.token, at=clock)
        elif roll < 0.25:  # a gateway
            services.record_hit(person.token, rng.choice(kinds), agent=GATEWAY, at=clock)
        elif roll < 0.35:  # a burst: three links at once reclassifies the earlier ones
            for k in range(3):
                services.record_hit(
                    person.token, EventKind.CLICKED, agent=BROWSER, ip="203.0.113.7",
                    at=clock + timedelta(milliseconds=300 * k),
                )  # fmt: skip
        else:
            services.record_hit(
                person.token, rng.choice(kinds), agent=BROWSER, ip="203.0.113.7", at=clock
            )
    expected = _from_events(campaign)
    assert _kept(campaign) == expected
    # What a reader sees: the results page's rows are these figures.
    rows = {r.organisation_id: r for r in selectors.agency_results(campaign)}
    for org_id, figures in expected.items():
        row = rows[org_id]
        assert (row.sent, row.opened, row.clicked, row.submitted, row.reported,
                row.reported_first, row.automated) == figures[1:8]  # fmt: skip
    assert sum(f[3] for f in expected.values()) > 0, "the drill saw human clicks"
    assert sum(f[7] for f in expected.values()) > 0, "and automated requests"
    assert sum(f[6] for f in expected.values()) > 0, "and reports before clicking"
    assert DrillEvent.objects.filter(automated=classify.BURST).exists(), "and a burst"
    # Rows moved to another agency or deleted (no service does either; any writer may).
    Recipient.objects.filter(pk=sent[0].pk).update(organisation=world.grid)
    Recipient.objects.filter(pk=sent[1].pk).delete()
    assert _kept(campaign) == _from_events(campaign)
