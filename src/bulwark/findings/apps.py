from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from bulwark.core import registry


class FindingsConfig(AppConfig):
    name = "bulwark.findings"
    label = "findings"
    verbose_name = _("Findings")

    def ready(self) -> None:
        # The API token scopes of this app (the list is shared; each app adds its own).
        from bulwark.constituency.scopes import SCOPES
        from bulwark.findings import rules  # noqa: F401  (declares the findings.* actions)

        SCOPES.setdefault("findings:read", _("Read the engagements and findings you can see"))
        SCOPES.setdefault(
            "findings:write",
            _("Import scans, plan engagements and work on findings"),
        )

        # The advisory page lists the agencies with findings open for its CVEs.
        from bulwark.advisories.selectors import DETAIL_PANELS

        DETAIL_PANELS["open_findings"] = "bulwark.findings.selectors.advisory_panel"

        # The incident page lists the findings reported as that incident (incidents sits
        # below findings and imports none of it).
        from bulwark.incidents.selectors import DETAIL_PANELS as INCIDENT_PANELS

        INCIDENT_PANELS["source_findings"] = "bulwark.findings.selectors.incident_panel"

        # What core does on behalf of findings (core imports no app).
        registry.PERIODIC_TASKS.register("bulwark.findings.tasks.check_deadlines")
        registry.HOME_FIGURES.register("bulwark.findings.selectors.home_figures")
