"""The STIX pattern that matches one normalised value, as Bulwark writes it: shared
intelligence (intel: web form, CSV and MISP imports) and incidents exported as STIX.
Reading patterns is intel's (`intel/patterns.py`).

Pure module (no Django import).
"""

# kind -> the path used when we write a pattern ourselves
PATH_FOR_KIND = {
    "ipv4": "ipv4-addr:value",
    "ipv6": "ipv6-addr:value",
    "cidr": "ipv4-addr:value",
    "domain": "domain-name:value",
    "url": "url:value",
    "email": "email-addr:value",
    "asn": "autonomous-system:number",
    "md5": "file:hashes.MD5",
    "sha1": "file:hashes.'SHA-1'",
    "sha256": "file:hashes.'SHA-256'",
}


def pattern_for(kind: str, value: str) -> str:
    """A STIX pattern for one normalised value (web form, CSV and MISP imports)."""
    if kind == "asn":
        return f"[autonomous-system:number = {int(value)}]"
    path = PATH_FOR_KIND[kind]
    if kind == "cidr" and ":" in value:
        path = "ipv6-addr:value"
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"[{path} = '{escaped}']"
