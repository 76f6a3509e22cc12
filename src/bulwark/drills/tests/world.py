"""A small constituency for drill tests: the CERT, an authority with two agencies below
it, an agency elsewhere, people in each role, a sending profile and a campaign."""

from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone

from bulwark.constituency import services as cs
from bulwark.constituency.models import Organisation, Sector, User
from bulwark.drills import services
from bulwark.drills.models import Campaign, SendingProfile

PASSWORD = "p" * 14
CSV = """email,organisation,name,department,language
alice@bureau.example.org,Bureau,Alice,IT,en
bo@bureau.example.org,Bureau,Bo,Finance,zh-hant
carol@office.example.org,Office,Carol,,zh-hant
dan@grid.example.org,Grid Co,Dan,,en
"""


class World:
    def __init__(self) -> None:
        self.energy = Sector.objects.get_or_create(code="energy", defaults={"name": "Energy"})[0]
        org = self._org
        self.cert = org("CERT", "national_cert")
        self.ministry = org("Ministry", "authority", parent=self.cert)
        self.bureau = org("Bureau", "government_agency", parent=self.ministry)
        self.office = org("Office", "government_agency", parent=self.ministry)
        self.grid = org("Grid Co", "ci_operator", sector=self.energy)
        person = self._person
        self.analyst = person("analyst", self.cert, "analyst")
        self.bureau_admin = person("bureau-admin", self.bureau, "org_admin")
        self.bureau_reporter = person("bureau-reporter", self.bureau, "reporter")
        self.office_admin = person("office-admin", self.office, "org_admin")
        self.grid_admin = person("grid-admin", self.grid, "org_admin")
        self.reviewer = person("reviewer", self.ministry, "reviewer")
        self.nobody = cs.create_user(
            None, username="nobody", email="nobody@example.org", password=PASSWORD
        )
        self.profile = SendingProfile.objects.get_or_create(
            name="Drill relay",
            defaults={"from_address": "IT Service Desk <it-desk@drill.example.net>"},
        )[0]

    def _org(self, name: str, kind: str, **extra: Any) -> Organisation:
        return cs.create_organisation(None, name=name, kind=kind, country="TW", **extra)

    def _person(self, name: str, org: Organisation, role: str) -> User:
        user = cs.create_user(None, username=name, email=f"{name}@example.org", password=PASSWORD)
        cs.add_membership(None, user, org, role)
        return user

    def campaign(self, name: str = "Password expiry", **overrides: Any) -> Campaign:
        fields: dict[str, Any] = {
            "name": name,
            "subject_en": "Your password expires today",
            "subject_zh_hant": "您的密碼今天到期",
            "body_en": "Dear {{name}},\n\nRenew your password here: {{link}}\n\nIT desk",
            "body_zh_hant": "{{name}} 您好\n\n請於此更新密碼 {{link}}\n\n資訊室",
            "landing_en": "Sign in to renew your password.",
            "landing_zh_hant": "請登入以更新密碼。",
            "attachment_name": "policy.html",
            "tracking_domain": "mail-check.example.net",
            "sending_profile": self.profile,
            "starts_at": timezone.now(),
            "spread_days": 2,
        }
        fields.update(overrides)
        return services.create_campaign(
            self.analyst, organisations=[self.bureau, self.office, self.grid], **fields
        )

    def launched(self, name: str = "Password expiry", **overrides: Any) -> Campaign:
        campaign = self.campaign(name, **overrides)
        result = services.import_recipients(self.analyst, campaign, CSV)
        assert not result.errors, result.errors
        return services.launch(self.analyst, campaign)

    def due_now(self, campaign: Campaign) -> None:
        """Every message's time has come (the plan put them in business hours)."""
        campaign.recipients.update(send_at=timezone.now() - timedelta(seconds=1))


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)
