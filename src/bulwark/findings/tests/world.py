"""A small constituency for findings tests, and scanner files written for the dedupe
cases (the parsers themselves are tested on the tools' real outputs in test_engine*)."""

import io
from typing import Any

from bulwark.constituency import services as cs
from bulwark.constituency.models import Organisation, Sector, User
from bulwark.findings import services
from bulwark.findings.models import Engagement

PASSWORD = "p" * 14


class World:
    def __init__(self) -> None:
        self.energy = Sector.objects.get_or_create(code="energy", defaults={"name": "Energy"})[0]
        org = self._org
        self.cert = org("CERT", "national_cert")
        self.ministry = org("Ministry", "authority", parent=self.cert)
        self.bureau = org("Bureau", "government_agency", parent=self.ministry)
        self.power = org("Power Co", "ci_operator", parent=self.ministry, sector=self.energy)
        self.other = org("Other agency", "government_agency", parent=self.cert)
        person = self._person
        self.analyst = person("analyst", self.cert, "analyst")
        self.duty = person("duty", self.cert, "duty_officer")
        self.bureau_reporter = person("bureau-reporter", self.bureau, "reporter")
        self.bureau_admin = person("bureau-admin", self.bureau, "org_admin")
        self.power_reporter = person("power-reporter", self.power, "reporter")
        self.reviewer = person("reviewer", self.ministry, "reviewer")
        self.other_reporter = person("other-reporter", self.other, "reporter")
        self.nobody = cs.create_user(
            None, username="nobody", email="nobody@example.org", password=PASSWORD
        )

    def _org(self, name: str, kind: str, **extra: Any) -> Organisation:
        return cs.create_organisation(None, name=name, kind=kind, country="TW", **extra)

    def _person(self, name: str, org: Organisation, role: str) -> User:
        user = cs.create_user(None, username=name, email=f"{name}@example.org", password=PASSWORD)
        cs.add_membership(None, user, org, role)
        return user

    def engagement(self, org: Organisation | None = None, **extra: Any) -> Engagement:
        fields: dict[str, Any] = {"kind": "vuln_scan", "title": "Quarterly scan"}
        fields.update(extra)
        return services.create_engagement(self.analyst, org or self.bureau, **fields)

    def imported(
        self, engagement: Engagement, content: bytes, name: str = "scan.nessus", **extra: Any
    ) -> services.ImportResult:
        return services.import_scan(self.analyst, engagement, io.BytesIO(content), name, **extra)


def nessus(hosts: dict[str, list[tuple[int, str, int, str]]]) -> bytes:
    """A Nessus v2 file: host -> [(port, plugin id, severity 0-4, CVE or "")]."""
    parts = ['<?xml version="1.0" ?>\n<NessusClientData_v2><Report name="test">']
    for host, items in hosts.items():
        parts.append(
            f'<ReportHost name="{host}"><HostProperties>'
            f'<tag name="host-ip">{host}</tag>'
            '<tag name="HOST_START">Mon Dec  7 10:00:00 2026</tag></HostProperties>'
        )
        for port, plugin, severity, cve in items:
            parts.append(
                f'<ReportItem port="{port}" svc_name="www" protocol="tcp" severity="{severity}" '
                f'pluginID="{plugin}" pluginName="Plugin {plugin}" pluginFamily="General">'
                f"<description>Problem {plugin}</description><solution>Patch it.</solution>"
                + (f"<cve>{cve}</cve>" if cve else "")
                + "</ReportItem>"
            )
        parts.append("</ReportHost>")
    parts.append("</Report></NessusClientData_v2>")
    return "".join(parts).encode()


def csv_scan(rows: list[tuple[str, str, int, str, str]]) -> bytes:
    """A mapped CSV: (title, severity, port, host, cve) per row."""
    lines = ["Title,Severity,Host,Port,Protocol,CVE"]
    lines += [f"{t},{s},{h},{p},tcp,{c}" for t, s, p, h, c in rows]
    return ("\n".join(lines) + "\n").encode()
