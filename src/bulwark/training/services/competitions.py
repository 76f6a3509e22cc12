"""Competitions: registration, CTFd results and participation certificates."""

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bulwark.constituency import throttle
from bulwark.constituency.models import Organisation, User
from bulwark.core import audit
from bulwark.core.permissions import require
from bulwark.training.engine import ctfd
from bulwark.training.models import (
    Category,
    Certificate,
    Competition,
    CompetitionResult,
    CompetitionTeam,
    Participant,
)
from bulwark.training.services.common import TrainingError


def create_competition(actor: User, organiser: Organisation, **fields: Any) -> Competition:
    require(actor, "training.run_competitions", organiser)
    with transaction.atomic():
        competition = Competition(organiser=organiser, **fields)
        competition.full_clean()
        competition.save()
        audit.record(actor, "training.create_competition", competition,
                     organisation_id=organiser.pk)  # fmt: skip
    return competition


def register_participant(
    competition: Competition, *, name: str, email: str, category: str, school: str = "",
    region: str = "", organisation: Organisation | None = None, team_name: str = "",
) -> Participant:  # fmt: skip
    """Registration from the public form (no account needed): one per e-mail address and
    competition; in team mode a team is found or created by its name."""
    if not competition.registration_open:
        raise TrainingError(_("Registration for this competition is closed."))
    if category not in Category.values:
        raise TrainingError(_("Choose school, agency or public."))
    try:
        validate_email(email)
    except ValidationError as exc:
        raise TrainingError(_("%(email)s is not an e-mail address.") % {"email": email}) from exc
    if not name.strip():
        raise TrainingError(_("Your name is required."))
    if category == Category.SCHOOL and not school.strip():
        raise TrainingError(_("Name your school."))
    with transaction.atomic():
        team = None
        if competition.team_mode:
            if not team_name.strip():
                raise TrainingError(_("This competition is for teams: name your team."))
            team, _created = CompetitionTeam.objects.get_or_create(
                competition=competition, name=team_name.strip()[:128],
                defaults={"category": category, "school": school[:200], "region": region[:100],
                          "organisation": organisation},
            )  # fmt: skip
        participant, created = Participant.objects.get_or_create(
            competition=competition, email=email.strip().lower(),
            defaults={"name": name.strip()[:200], "category": category, "school": school[:200],
                      "region": region[:100], "organisation": organisation, "team": team},
        )  # fmt: skip
        if not created:
            raise TrainingError(_("This e-mail address is registered already."))
        audit.record(None, "training.register", competition,
                     changes={"participant": participant.pk})  # fmt: skip
    return participant


def register_from_form(competition: Competition, ip: str | None, **fields: Any) -> Participant:
    """The public registration form: throttled like the platform's sign-ins
    (`constituency.throttle`), counting every request per e-mail address
    (LOGIN_FAILURE_LIMIT, 5, in LOGIN_FAILURE_WINDOW, 15 minutes) and per client address
    (4x that: a school or an office shares one NAT address). The counts have their own
    keys (`register:`, `register-ip:`), so registrations never block anyone's sign-in."""
    email = str(fields.get("email", "")).strip().lower()[:254]
    email_key, ip_key = f"register:{email}", f"register-ip:{ip or 'unknown'}"
    limit = settings.LOGIN_FAILURE_LIMIT
    if throttle.recent_count(email_key) >= limit or throttle.recent_count(ip_key) >= limit * 4:
        audit.record(None, "training.register_throttled", competition,
                     changes={"email": email, "ip": ip or ""})  # fmt: skip
        raise TrainingError(
            _("Too many registrations from this address or for this e-mail address. "
              "Try again in 15 minutes.")
        )  # fmt: skip
    throttle.record_failure(email_key, None)
    throttle.record_failure(ip_key, None)
    return register_participant(competition, **fields)


@dataclass
class CtfdImport:
    results: int = 0
    unmatched: list[str] = field(default_factory=list)
    certificates: int = 0


def import_ctfd_results(actor: User, competition: Competition, data: bytes) -> CtfdImport:
    """The final scoreboard from CTFd's export zip, matched to registrations by e-mail
    (users) or team name (teams); importing again replaces the results. Every registered
    participant with a score gets a certificate of participation."""
    require(actor, "training.run_competitions", competition.organiser)
    try:
        standings = ctfd.read_export(data)
    except ctfd.ExportError as exc:
        raise TrainingError(str(exc)) from exc
    if standings.team_mode != competition.team_mode:
        raise TrainingError(
            _("The export is in %(mode)s mode; this competition is not.")
            % {"mode": "team" if standings.team_mode else "user"}
        )
    people = {p.email: p for p in Participant.objects.filter(competition=competition)}
    teams = {t.name.lower(): t for t in CompetitionTeam.objects.filter(competition=competition)}
    summary = CtfdImport()
    with transaction.atomic():
        CompetitionResult.objects.filter(competition=competition).delete()
        rows = []
        for account in standings.accounts:
            participant = None if standings.team_mode else people.get(account.email.lower())
            team = teams.get(account.name.lower()) if standings.team_mode else None
            if participant is None and team is None:
                summary.unmatched.append(account.name)
            owner = participant or team
            rows.append(CompetitionResult(
                competition=competition, participant=participant, team=team,
                organisation=owner.organisation if owner is not None else None,
                name=account.name[:200], ctfd_id=account.ctfd_id, rank=account.rank,
                score=account.score, solves=account.solves,
            ))  # fmt: skip
        CompetitionResult.objects.bulk_create(rows)
        summary.results = len(rows)
        scored = {r.participant_id for r in rows if r.participant_id and r.score > 0}
        scored |= set(
            Participant.objects.filter(
                team_id__in=[r.team_id for r in rows if r.team_id and r.score > 0]
            ).values_list("pk", flat=True)
        )
        has = set(Certificate.objects.filter(participant_id__in=scored).values_list(
            "participant_id", flat=True))  # fmt: skip
        for participant in Participant.objects.filter(pk__in=scored - has):
            Certificate.objects.create(
                participant=participant, holder_name=participant.name,
                title=competition.name, title_zh_hant=competition.name_zh_hant,
            )  # fmt: skip
            summary.certificates += 1
        Competition.objects.filter(pk=competition.pk).update(results_imported_at=timezone.now())
        audit.record(actor, "training.import_ctfd", competition,
                     organisation_id=competition.organiser_id,
                     changes={"results": summary.results, "unmatched": len(summary.unmatched),
                              "certificates": summary.certificates})  # fmt: skip
    return summary
