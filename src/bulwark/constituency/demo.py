"""A realistic demo constituency, loaded idempotently by `bulwark demo`.

Addresses come from ranges reserved for documentation and benchmarking (198.18.0.0/15,
2001:db8::/32, AS64496-64511 and AS65536-65551) and contact addresses end in .example,
so nothing in the demo points at a real network or mailbox.
"""

import base64
import hashlib
import ipaddress
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from bulwark.constituency import services
from bulwark.constituency.models import (
    Contact,
    Invitation,
    Membership,
    NetworkClaim,
    Organisation,
    OrganisationKind,
    Role,
    Sector,
    User,
)

DEMO_PASSWORD = "bulwark-demo-2026"
DEMO_DEVICE_NAME = "Demo authenticator"

K = OrganisationKind
CERT = (
    "National Cyber Security Center (demo)",
    "NCSC-TW",
    K.NATIONAL_CERT,
    "TW",
    "government",
    None,
    "ncsc.example.gov.tw",
)

# name, short name, kind, country, sector code, parent name, domain
AUTHORITIES = [
    (
        "Ministry of Digital Affairs",
        "MODA",
        K.AUTHORITY,
        "TW",
        "communications",
        None,
        "moda.gov.tw",
    ),
    ("Ministry of Economic Affairs", "MOEA", K.AUTHORITY, "TW", "energy", None, "moea.gov.tw"),
    (
        "Ministry of Transportation and Communications",
        "MOTC",
        K.AUTHORITY,
        "TW",
        "transportation",
        None,
        "motc.gov.tw",
    ),
    (
        "Financial Supervisory Commission",
        "FSC",
        K.AUTHORITY,
        "TW",
        "banking-finance",
        None,
        "fsc.gov.tw",
    ),
    (
        "Ministry of Health and Welfare",
        "MOHW",
        K.AUTHORITY,
        "TW",
        "emergency-hospitals",
        None,
        "mohw.gov.tw",
    ),
    (
        "National Science and Technology Council",
        "NSTC",
        K.AUTHORITY,
        "TW",
        "high-tech-parks",
        None,
        "nstc.gov.tw",
    ),
    ("Ministry of the Interior", "MOI", K.AUTHORITY, "TW", "government", None, "moi.gov.tw"),
]
AGENCIES = [
    (
        "Administration for Digital Industries",
        "ADI",
        K.GOVERNMENT_AGENCY,
        "communications",
        "Ministry of Digital Affairs",
        "adi.gov.tw",
    ),
    (
        "National Communications Commission",
        "NCC",
        K.GOVERNMENT_AGENCY,
        "communications",
        "Ministry of Digital Affairs",
        "ncc.gov.tw",
    ),
    (
        "Chunghwa Telecom (demo)",
        "CHT",
        K.CI_OPERATOR,
        "communications",
        "Ministry of Digital Affairs",
        "cht.example.com.tw",
    ),
    (
        "Taiwan Power Company (demo)",
        "Taipower",
        K.CI_OPERATOR,
        "energy",
        "Ministry of Economic Affairs",
        "taipower.example.com.tw",
    ),
    (
        "CPC Corporation (demo)",
        "CPC",
        K.CI_OPERATOR,
        "energy",
        "Ministry of Economic Affairs",
        "cpc.example.com.tw",
    ),
    (
        "Water Resources Agency",
        "WRA",
        K.GOVERNMENT_AGENCY,
        "water",
        "Ministry of Economic Affairs",
        "wra.gov.tw",
    ),
    (
        "Taiwan Water Corporation (demo)",
        "TWC",
        K.CI_OPERATOR,
        "water",
        "Ministry of Economic Affairs",
        "water.example.com.tw",
    ),
    (
        "Bureau of Energy",
        "BOE",
        K.GOVERNMENT_AGENCY,
        "energy",
        "Ministry of Economic Affairs",
        "energy.moea.gov.tw",
    ),
    (
        "Taiwan Railway Corporation (demo)",
        "TR",
        K.CI_OPERATOR,
        "transportation",
        "Ministry of Transportation and Communications",
        "railway.example.com.tw",
    ),
    (
        "Civil Aeronautics Administration",
        "CAA",
        K.GOVERNMENT_AGENCY,
        "transportation",
        "Ministry of Transportation and Communications",
        "caa.gov.tw",
    ),
    (
        "Maritime and Port Bureau",
        "MPB",
        K.GOVERNMENT_AGENCY,
        "transportation",
        "Ministry of Transportation and Communications",
        "motcmpb.gov.tw",
    ),
    (
        "Taoyuan International Airport (demo)",
        "TIAC",
        K.CI_OPERATOR,
        "transportation",
        "Ministry of Transportation and Communications",
        "airport.example.com.tw",
    ),
    (
        "Highway Bureau",
        "THB",
        K.GOVERNMENT_AGENCY,
        "transportation",
        "Ministry of Transportation and Communications",
        "thb.gov.tw",
    ),
    (
        "Central Bank (demo)",
        "CBC",
        K.CI_OPERATOR,
        "banking-finance",
        "Financial Supervisory Commission",
        "cbc.example.gov.tw",
    ),
    (
        "Taiwan Stock Exchange (demo)",
        "TWSE",
        K.CI_OPERATOR,
        "banking-finance",
        "Financial Supervisory Commission",
        "twse.example.com.tw",
    ),
    (
        "Financial Information Service (demo)",
        "FISC",
        K.CI_OPERATOR,
        "banking-finance",
        "Financial Supervisory Commission",
        "fisc.example.com.tw",
    ),
    (
        "Banking Bureau",
        "BOB",
        K.GOVERNMENT_AGENCY,
        "banking-finance",
        "Financial Supervisory Commission",
        "banking.gov.tw",
    ),
    (
        "National Taiwan University Hospital (demo)",
        "NTUH",
        K.CI_OPERATOR,
        "emergency-hospitals",
        "Ministry of Health and Welfare",
        "ntuh.example.gov.tw",
    ),
    (
        "Taipei Veterans General Hospital (demo)",
        "VGHTPE",
        K.CI_OPERATOR,
        "emergency-hospitals",
        "Ministry of Health and Welfare",
        "vghtpe.example.gov.tw",
    ),
    (
        "Centers for Disease Control",
        "CDC",
        K.GOVERNMENT_AGENCY,
        "emergency-hospitals",
        "Ministry of Health and Welfare",
        "cdc.gov.tw",
    ),
    (
        "National Health Insurance Administration",
        "NHIA",
        K.GOVERNMENT_AGENCY,
        "emergency-hospitals",
        "Ministry of Health and Welfare",
        "nhi.gov.tw",
    ),
    (
        "Hsinchu Science Park Bureau",
        "HSP",
        K.GOVERNMENT_AGENCY,
        "high-tech-parks",
        "National Science and Technology Council",
        "sipa.gov.tw",
    ),
    (
        "Central Taiwan Science Park Bureau",
        "CTSP",
        K.GOVERNMENT_AGENCY,
        "high-tech-parks",
        "National Science and Technology Council",
        "ctsp.gov.tw",
    ),
    (
        "Southern Taiwan Science Park Bureau",
        "STSP",
        K.GOVERNMENT_AGENCY,
        "high-tech-parks",
        "National Science and Technology Council",
        "stsp.gov.tw",
    ),
    (
        "National Fire Agency",
        "NFA",
        K.GOVERNMENT_AGENCY,
        "emergency-hospitals",
        "Ministry of the Interior",
        "nfa.gov.tw",
    ),
    (
        "National Immigration Agency",
        "NIA",
        K.GOVERNMENT_AGENCY,
        "government",
        "Ministry of the Interior",
        "immigration.gov.tw",
    ),
    (
        "Department of Household Registration",
        "DHR",
        K.GOVERNMENT_AGENCY,
        "government",
        "Ministry of the Interior",
        "ris.gov.tw",
    ),
    (
        "Taipei City Government",
        "TCG",
        K.GOVERNMENT_AGENCY,
        "government",
        "Ministry of the Interior",
        "gov.taipei",
    ),
    (
        "Kaohsiung City Government",
        "KCG",
        K.GOVERNMENT_AGENCY,
        "government",
        "Ministry of the Interior",
        "kcg.gov.tw",
    ),
    (
        "Taichung City Government",
        "TCCG",
        K.GOVERNMENT_AGENCY,
        "government",
        "Ministry of the Interior",
        "taichung.gov.tw",
    ),
]
COMMUNITY = [
    ("Financial ISAC (demo)", "F-ISAC", K.ISAC, "TW", "banking-finance", "fisac.example.tw"),
    ("Academic ISAC (demo)", "A-ISAC", K.ISAC, "TW", None, "aisac.example.edu.tw"),
    ("Communications ISAC (demo)", "C-ISAC", K.ISAC, "TW", "communications", "cisac.example.tw"),
    ("Formosa Managed Security (demo)", "FMS", K.MSSP, "TW", None, "fms.example.com.tw"),
    ("Criminal Investigation Bureau (demo)", "CIB", K.LEA, "TW", None, "cib.example.gov.tw"),
]
FOREIGN_CERTS = [
    ("JPCERT/CC", "JP"),
    ("KrCERT/CC", "KR"),
    ("CISA", "US"),
    ("NCSC-UK", "GB"),
    ("CERT-FR", "FR"),
    ("CERT-Bund", "DE"),
    ("CERT NZ", "NZ"),
    ("AusCERT", "AU"),
    ("SingCERT", "SG"),
    ("MyCERT", "MY"),
    ("ThaiCERT", "TH"),
    ("HKCERT", "HK"),
    ("CERT Polska", "PL"),
]

# (username, first, last, organisation name, role)
ACCOUNTS = [
    ("admin", "Ada", "Admin", CERT[0], Role.PLATFORM_ADMIN),
    ("duty", "Dora", "Duty", CERT[0], Role.DUTY_OFFICER),
    ("analyst", "Alan", "Analyst", CERT[0], Role.ANALYST),
    ("reviewer", "Rui", "Reviewer", "Ministry of Economic Affairs", Role.REVIEWER),
    ("orgadmin", "Olga", "Admin", "Taiwan Power Company (demo)", Role.ORG_ADMIN),
    ("reporter", "Rita", "Reporter", "Taiwan Power Company (demo)", Role.REPORTER),
    ("reporter2", "Ray", "Reporter", "Centers for Disease Control", Role.REPORTER),
    ("isac", "Iris", "Member", "Financial ISAC (demo)", Role.ISAC_MEMBER),
]


@dataclass
class DemoAccount:
    username: str
    role: str
    organisation: str
    totp_secret: str | None


def demo_totp_key(username: str) -> str:
    """Deterministic, public key: demo only, printed so people can sign in."""
    return hashlib.sha1(f"bulwark-demo:{username}".encode()).hexdigest()  # noqa: S324


def _slug(short: str) -> str:
    return "".join(ch for ch in short.lower() if ch.isalnum())


class _Allocator:
    """Hands out /22 IPv4 blocks, /48 IPv6 blocks and AS numbers from reserved ranges."""

    def __init__(self) -> None:
        self.v4 = ipaddress.ip_network("198.18.0.0/15").subnets(new_prefix=22)
        self.v6 = ipaddress.ip_network("2001:db8::/32").subnets(new_prefix=48)
        self.asns = iter([*range(64496, 64512), *range(65536, 65552)])

    def next(self) -> tuple[str, str, str]:
        return str(next(self.v4)), str(next(self.v6)), str(next(self.asns))


def _org(
    name: str, short: str, kind: str, country: str, sector: str | None, parent: str | None
) -> Organisation:
    existing = Organisation.objects.filter(name=name).first()
    if existing:
        return existing
    return services.create_organisation(
        None,
        name=name,
        short_name=short,
        kind=kind,
        country=country,
        sector=Sector.objects.get(code=sector) if sector else None,
        parent=Organisation.objects.get(name=parent) if parent else None,
    )


def _claim(org: Organisation, kind: str, value: str, note: str = "") -> None:
    if not NetworkClaim.objects.filter(organisation=org, kind=kind, value=value).exists():
        services.add_network(None, org, kind, value, note)


def _contact(org: Organisation, purpose: str, domain: str, phone: str) -> None:
    mailbox = {"security": "soc", "abuse": "abuse", "emergency": "cert"}.get(purpose, "info")
    email = f"{mailbox}@{_slug(domain.split('.')[0])}.example"
    if not Contact.objects.filter(organisation=org, purpose=purpose).exists():
        services.add_contact(
            None, org, purpose=purpose, name=f"{org.short_name} {purpose}", email=email, phone=phone
        )


@transaction.atomic
def load() -> list[DemoAccount]:
    alloc = _Allocator()
    cert = _org(*CERT[:6])
    _claim(cert, "domain", CERT[6])
    _contact(cert, "emergency", "ncsc", "+886 2 0000 0000")
    for i, (name, short, kind, country, sector, parent, domain) in enumerate(AUTHORITIES):
        org = _org(name, short, kind, country, sector, parent or cert.name)
        _claim(org, "domain", domain)
        _contact(org, "security", short, f"+886 2 1000 {i:04d}")
    for i, (name, short, kind, sector, parent, domain) in enumerate(AGENCIES):
        org = _org(name, short, kind, "TW", sector, parent)
        v4, v6, asn = alloc.next()
        _claim(org, "cidr", v4)
        _claim(org, "cidr", v6)
        if kind == K.CI_OPERATOR:
            _claim(org, "asn", asn)
        _claim(org, "domain", domain)
        _contact(org, "security", short, f"+886 2 2000 {i:04d}")
        _contact(org, "abuse", short, f"+886 2 2100 {i:04d}")
    # Deliberate overlaps, as in real life: a ministry still announces the block that
    # one of its bureaus uses, and holds the parent domain of another bureau.
    moea = Organisation.objects.get(name="Ministry of Economic Affairs")
    _claim(moea, "cidr", "198.18.16.0/20", "legacy allocation still announced by the ministry")
    for name, short, kind, country, sector_code, domain in COMMUNITY:
        org = _org(name, short, kind, country, sector_code, None)
        _claim(org, "domain", domain)
        _contact(org, "security", short, "+886 2 3000 0000")
    for name, country in FOREIGN_CERTS:
        org = _org(name, name, K.FOREIGN_CERT, country, None, None)
        _contact(org, "emergency", name, "+1 555 0100")

    accounts = []
    for username, first, last, org_name, role in ACCOUNTS:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = services.create_user(
                None,
                username=username,
                email=f"{username}@demo.example",
                password=DEMO_PASSWORD,
                first_name=first,
                last_name=last,
            )
        org = Organisation.objects.get(name=org_name)
        if not Membership.objects.filter(user=user, organisation=org, role=role).exists():
            services.add_membership(None, user, org, role)
        secret = None
        if role in {Role.PLATFORM_ADMIN, Role.DUTY_OFFICER, Role.ANALYST, Role.ORG_ADMIN}:
            device, _created = TOTPDevice.objects.get_or_create(
                user=user,
                name=DEMO_DEVICE_NAME,
                defaults={"key": demo_totp_key(username), "confirmed": True},
            )

            secret = base64.b32encode(device.bin_key).decode()
        accounts.append(DemoAccount(username, role, org_name, secret))
    _pending_invitation()
    return accounts


DEMO_INVITATION = ("orgadmin", "new.engineer@taipower-demo.example", "Nora", "Engineer")


def _pending_invitation() -> None:
    """The organisation admin has invited a new colleague who has not opened the link yet,
    so the members page shows a pending invitation (to re-send or withdraw)."""
    inviter_name, email, first, last = DEMO_INVITATION
    inviter = User.objects.get(username=inviter_name)
    membership = Membership.objects.filter(user=inviter, role=Role.ORG_ADMIN).first()
    if membership is None or Invitation.objects.filter(email=email).exists():
        return
    services.invite_member(
        inviter,
        membership.organisation,
        email=email,
        role=Role.REPORTER,
        first_name=first,
        last_name=last,
    )


def current_code(username: str) -> str:
    """The current TOTP code of a demo account's demo device (demo keys are public)."""
    device = TOTPDevice.objects.filter(user__username=username, name=DEMO_DEVICE_NAME).first()
    if device is None or device.key != demo_totp_key(username):
        raise LookupError(f"{username} has no demo authenticator")

    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    return f"{code:0{device.digits}d}"


def summary(accounts: list[DemoAccount]) -> list[str]:
    lines = [f"Demo accounts (password for all: {DEMO_PASSWORD}):"]
    for a in accounts:
        extra = f"  TOTP secret {a.totp_secret}" if a.totp_secret else ""
        lines.append(f"  {a.username:<10} {a.role:<15} {a.organisation}{extra}")
    lines.append("Accounts with a TOTP secret need a code: add the secret to an authenticator")
    lines.append("app, or print the current code with: bulwark demo --code USERNAME")
    return lines


def counts() -> dict[str, Any]:
    return {
        "organisations": Organisation.objects.count(),
        "networks": NetworkClaim.objects.count(),
        "users": User.objects.count(),
        "pending_invitations": Invitation.objects.pending().count(),
    }
