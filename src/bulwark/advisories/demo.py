"""Demo advisories (loaded by `bulwark demo`, idempotent): published public alerts, news
and a guideline; notice advisories whose targets are in every tracking state (unread,
read, acknowledged, acted, overdue); an advisory targeted by asset inventory; a draft and
one awaiting approval."""

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from bulwark.advisories import services
from bulwark.advisories.models import Advisory, InventoryItem, Target
from bulwark.constituency.models import Organisation, Sector, User

VPN = [{"vendor": "example_networks", "product": "edge_vpn", "versions": ">=9.0,<9.4.2"}]
VPN_CVE = [
    {
        "id": "CVE-2026-31337",
        "cvss_score": 9.8,
        "cvss_vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    }
]
INVENTORY = [
    ("Taiwan Power Company (demo)", "cpe:2.3:a:example_networks:edge_vpn:9.3.1:*:*:*:*:*:*:*"),
    ("CPC Corporation (demo)", "cpe:2.3:a:example_networks:edge_vpn:9.4.2:*:*:*:*:*:*:*"),
    ("Centers for Disease Control", "cpe:2.3:a:example_networks:edge_vpn:9.1:*:*:*:*:*:*:*"),
    ("Water Resources Agency", "cpe:2.3:a:example_software:mail_gateway:3.2:*:*:*:*:*:*:*"),
]


def _orgs(*names: str) -> list[Organisation]:
    return list(Organisation.objects.filter(name__in=names))


def _send(analyst: User, duty: User, **fields: Any) -> Advisory:
    advisory = services.create_advisory(analyst, **fields)
    services.submit(analyst, advisory)
    services.approve(duty, advisory)
    return services.send(duty, advisory)


def _states(advisory: Advisory, read: int, acknowledged: int, acted: int) -> None:
    """Demo only: spread the targets over the tracking states (as if agencies answered)."""
    now = timezone.now()
    ids = list(advisory.targets.order_by("organisation__name").values_list("pk", flat=True))
    a, b, c = acted, acted + acknowledged, acted + acknowledged + read
    Target.objects.filter(pk__in=ids[:a]).update(
        read_at=now,
        acknowledged_at=now,
        acted_at=now,
        action="patched",
        action_note="Updated to the fixed version.",
    )
    Target.objects.filter(pk__in=ids[a:b]).update(read_at=now, acknowledged_at=now)
    Target.objects.filter(pk__in=ids[b:c]).update(read_at=now)


@transaction.atomic
def load() -> int:
    analyst = User.objects.get(username="analyst")
    duty = User.objects.get(username="duty")
    admin = User.objects.get(username="admin")
    now = timezone.now()
    made = 0
    if Advisory.objects.filter(title__startswith="[demo]").exists():
        return 0
    for org_name, cpe in INVENTORY:
        org = Organisation.objects.filter(name=org_name).first()
        if org is not None and not InventoryItem.objects.filter(organisation=org, cpe=cpe):
            services.add_inventory_item(admin, org, cpe=cpe, note="demo")

    _send(
        analyst,
        duty,
        title="[demo] Critical flaw in Example Edge VPN exploited",
        title_zh_hant="[示範] Example Edge VPN 重大漏洞遭利用",
        summary="Unauthenticated remote code execution; exploitation seen in the wild.",
        summary_zh_hant="未經驗證即可遠端執行程式碼，已發現實際攻擊。",
        body="Attackers exploit **CVE-2026-31337** in Example Edge VPN 9.0 to 9.4.1.\n\n"
        "- Upgrade to 9.4.2\n- Reset credentials of VPN users\n",
        body_zh_hant="攻擊者利用 **CVE-2026-31337**。\n\n- 更新至 9.4.2\n- 重設 VPN 使用者密碼\n",
        category="vulnerability-alert",
        severity="critical",
        tlp="clear",
        publication="alert",
        cves=VPN_CVE,
        affected_products=VPN,
        recommended_actions="Upgrade to **9.4.2**.",
        response_required="none",
        target_all=True,
    )
    _send(
        analyst,
        duty,
        title="[demo] Security news: phishing with fake tax refunds",
        title_zh_hant="[示範] 資安新聞：假退稅釣魚郵件",
        summary="A seasonal phishing wave.",
        body="Be careful with messages that promise a tax refund.",
        category="security-news",
        severity="low",
        tlp="clear",
        publication="news",
        response_required="none",
    )
    _send(
        analyst,
        duty,
        title="[demo] Guideline: hardening remote access",
        title_zh_hant="[示範] 指引：強化遠端存取",
        summary="Baseline for VPN and remote desktop.",
        body="1. Multi-factor authentication\n2. Patch within 72 hours\n3. Log every login\n",
        category="guideline",
        severity="medium",
        tlp="clear",
        publication="guideline",
        response_required="none",
    )
    made += 3

    moea = Organisation.objects.get(name="Ministry of Economic Affairs")
    tracked = _send(
        analyst,
        duty,
        title="[demo] Ransomware group targets energy operators",
        summary="Indicators and mitigations for an active campaign.",
        body="Block the indicators below and review remote access.",
        category="early-warning",
        severity="high",
        tlp="amber",
        related_indicators=["198.51.100.23", "update-check.example.net"],
        response_required="acknowledge",
        response_deadline=now + timedelta(days=2),
        target_authorities=[moea],
    )
    _states(tracked, read=2, acknowledged=2, acted=2)
    overdue = _send(
        analyst,
        duty,
        title="[demo] Patch the mail gateway before Friday",
        summary="A mail gateway flaw is being exploited.",
        body="Apply the vendor's patch.",
        category="vulnerability-alert",
        severity="high",
        tlp="green",
        response_required="action",
        response_deadline=now + timedelta(minutes=1),
        target_sectors=list(Sector.objects.filter(code__in=["energy", "water"])),
    )
    _states(overdue, read=1, acknowledged=1, acted=2)
    # Its deadline has passed: the agencies that did not act are overdue.
    Advisory.objects.filter(pk=overdue.pk).update(response_deadline=now - timedelta(hours=6))
    _send(
        analyst,
        duty,
        title="[demo] Example Edge VPN: agencies that run it must act",
        summary="Sent to the agencies whose inventory lists an affected version.",
        body="Your asset inventory lists Example Edge VPN in an affected version.",
        category="vulnerability-alert",
        severity="critical",
        tlp="green",
        cves=VPN_CVE,
        affected_products=VPN,
        response_required="action",
        response_deadline=now + timedelta(days=1),
        target_inventory=True,
    )
    made += 3
    services.create_advisory(
        analyst,
        title="[demo] Draft: new phishing kit",
        summary="Being written.",
        body="Work in progress.",
        category="malware-alert",
        severity="medium",
        tlp="amber",
    )
    pending = services.create_advisory(
        analyst,
        title="[demo] Awaiting approval: DNS hijacking",
        summary="Needs four eyes.",
        body="Check your registrar accounts.",
        category="incident-notice",
        severity="high",
        tlp="amber",
        target_all=True,
    )
    services.submit(analyst, pending)
    return made + 2
