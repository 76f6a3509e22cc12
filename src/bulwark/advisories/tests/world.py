"""A small constituency for advisory tests: the CERT, an authority tree, agencies in
sectors, organisations that are never recipients, people in every role."""

import importlib
from datetime import timedelta
from typing import Any

from django.utils import timezone

from bulwark.advisories import services
from bulwark.advisories.models import Advisory, AdvisoryCategory
from bulwark.constituency import services as cs
from bulwark.constituency.models import Organisation, Sector, User

PASSWORD = "p" * 14
CATEGORIES = importlib.import_module("bulwark.advisories.migrations.0002_categories").CATEGORIES


class World:
    def __init__(self) -> None:
        # Get-or-create: a transactional (browser) test may run after a flush.
        self.energy = Sector.objects.get_or_create(code="energy", defaults={"name": "Energy"})[0]
        self.finance = Sector.objects.get_or_create(
            code="banking-finance", defaults={"name": "Banking and finance"}
        )[0]
        for code, name, name_zh in CATEGORIES:
            AdvisoryCategory.objects.get_or_create(
                code=code, defaults={"name": name, "name_zh_hant": name_zh}
            )
        org = self._org
        self.cert = org("CERT", "national_cert")
        self.ministry = org("Ministry", "authority", parent=self.cert)
        self.sub = org("Sub-authority", "authority", parent=self.ministry)
        self.bureau = org("Bureau", "government_agency", parent=self.ministry)
        self.office = org("Office", "government_agency", parent=self.sub)
        self.power = org("Power Co", "ci_operator", parent=self.ministry, sector=self.energy)
        self.grid = org("Grid Co", "ci_operator", sector=self.energy)
        self.bank = org("Bank", "ci_operator", sector=self.finance)
        self.other = org("Other agency", "government_agency", parent=self.cert)
        self.isac = org("Finance ISAC", "isac", sector=self.finance)
        self.foreign = org("Foreign CERT", "foreign_cert")
        self.closed = org("Closed agency", "government_agency", parent=self.ministry)
        self.closed.is_active = False
        self.closed.save()
        person = self._person
        self.analyst = person("analyst", self.cert, "analyst")
        self.duty = person("duty", self.cert, "duty_officer")
        self.admin = person("root", self.cert, "platform_admin")
        self.bureau_reporter = person("bureau-reporter", self.bureau, "reporter", "zh-hant")
        self.bureau_admin = person("bureau-admin", self.bureau, "org_admin")
        self.power_reporter = person("power-reporter", self.power, "reporter")
        self.reviewer = person("reviewer", self.ministry, "reviewer")
        self.other_reporter = person("other-reporter", self.other, "reporter")
        self.nobody = cs.create_user(
            None, username="nobody", email="nobody@example.org", password=PASSWORD
        )
        for agency, name in [
            (self.bureau, "bureau"),
            (self.power, "power"),
            (self.grid, "grid"),
            (self.office, "office"),
            (self.other, "other"),
        ]:
            cs.add_contact(None, agency, purpose="security", email=f"soc@{name}.example.org")
            cs.add_contact(None, agency, purpose="abuse", email=f"abuse@{name}.example.org")
        cs.add_contact(None, self.bureau, purpose="ciso", email="bureau-reporter@example.org")

    def _org(self, name: str, kind: str, **extra: Any) -> Organisation:
        return cs.create_organisation(None, name=name, kind=kind, country="TW", **extra)

    def _person(self, name: str, org: Organisation, role: str, language: str = "en") -> User:
        user = cs.create_user(None, username=name, email=f"{name}@example.org", password=PASSWORD)
        user.preferred_language = language
        user.save(update_fields=["preferred_language"])
        cs.add_membership(None, user, org, role)
        return user

    def draft(self, **overrides: Any) -> Advisory:
        fields: dict[str, Any] = {
            "title": "Critical flaw in Example HTTP Server",
            "summary": "Remote code execution; patch now.",
            "body": "Details of the **flaw**.",
            "category": "vulnerability-alert",
            "severity": "critical",
            "tlp": "amber",
            "cves": [
                {
                    "id": "CVE-2026-1234",
                    "cvss_score": 9.8,
                    "cvss_vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                }
            ],
            "affected_products": [
                {"vendor": "example", "product": "httpd", "versions": ">=2.4.0,<2.4.60"}
            ],
            "recommended_actions": "Upgrade to 2.4.60.",
            "response_required": "action",
            "response_deadline": timezone.now() + timedelta(days=3),
        }
        fields.update(overrides)
        return services.create_advisory(self.analyst, **fields)

    def sent(self, **overrides: Any) -> Advisory:
        advisory = self.draft(**overrides)
        services.submit(self.analyst, advisory)
        services.approve(self.duty, advisory)
        return services.send(self.duty, advisory)
