"""Signed referral packages: build and verify (pure module; verification needs only
Python and the `cryptography` package, so a law-enforcement agency can check a package
offline: `python -m bulwark.incidents.package verify CASE.zip [--key signer.pub.pem]`).

A package is a zip holding `manifest.json` (the case record, timeline, level history,
evidence list with SHA-256 and the chain of custody), `manifest.sig` (base64 Ed25519
signature of manifest.json), `signer.pub.pem`, and `evidence/<sha256>` files.
"""

import argparse
import base64
import hashlib
import io
import json
import sys
import zipfile
from collections.abc import Iterable
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

FORMAT = "bulwark-referral/1"
MAX_MANIFEST = 50 * 1024 * 1024
# A fixed timestamp for zip members keeps the package bytes a function of its content.
ZIP_TIME = (2020, 1, 1, 0, 0, 0)
README = (
    "Referral package from the national CERT.\n"
    "Verify it offline:\n"
    "  python -m bulwark.incidents.package verify THIS.zip --key <the CERT's published key>\n"
    "manifest.sig is an Ed25519 signature of manifest.json; every file under evidence/ is\n"
    "named by its SHA-256, which manifest.json lists with its size and chain of custody.\n"
)


def public_pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def build(
    manifest: dict[str, Any], evidence: Iterable[tuple[str, bytes | Any]], key: Ed25519PrivateKey
) -> bytes:
    """`evidence` yields (sha256, readable file or bytes); the manifest must list them."""
    manifest = {"format": FORMAT, **manifest}
    body = json.dumps(manifest, sort_keys=True, ensure_ascii=False, indent=1).encode()
    signature = base64.b64encode(key.sign(body))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:

        def put(name: str, data: bytes) -> None:
            archive.writestr(
                zipfile.ZipInfo(name, ZIP_TIME), data, compress_type=zipfile.ZIP_DEFLATED
            )

        put("manifest.json", body)
        put("manifest.sig", signature)
        put("signer.pub.pem", public_pem(key))
        put("README.txt", README.encode())
        for sha256, source in evidence:
            data = source if isinstance(source, bytes) else source.read()
            put(f"evidence/{sha256}", data)
    return out.getvalue()


def verify(package: bytes, trusted_key_pem: bytes | None = None) -> list[str]:
    """Problems found (empty when the package is intact and signed by the trusted key)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(package))
    except zipfile.BadZipFile:
        return ["not a zip file"]
    names = set(archive.namelist())
    missing = {"manifest.json", "manifest.sig", "signer.pub.pem"} - names
    if missing:
        return [f"missing {', '.join(sorted(missing))}"]
    if archive.getinfo("manifest.json").file_size > MAX_MANIFEST:
        return ["manifest.json is implausibly large"]
    body = archive.read("manifest.json")
    included = archive.read("signer.pub.pem")
    problems = []
    if trusted_key_pem is not None and included.strip() != trusted_key_pem.strip():
        problems.append("signed with a different key than the trusted one")
    try:
        public = serialization.load_pem_public_key(trusted_key_pem or included)
        if not isinstance(public, Ed25519PublicKey):
            return ["the signer key is not an Ed25519 key"]
        public.verify(base64.b64decode(archive.read("manifest.sig")), body)
    except (InvalidSignature, ValueError):
        return [*problems, "the signature does not match manifest.json"]
    manifest = json.loads(body)
    if manifest.get("format") != FORMAT:
        problems.append(f"unknown format {manifest.get('format')!r}")
    listed = set()
    for item in manifest.get("evidence", []):
        name = f"evidence/{item['sha256']}"
        listed.add(name)
        if name not in names:
            problems.append(f"{item['name']}: file missing")
            continue
        info = archive.getinfo(name)
        if info.file_size != item["size"]:
            problems.append(f"{item['name']}: size differs")
            continue
        digest = hashlib.sha256()
        with archive.open(name) as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        if digest.hexdigest() != item["sha256"]:
            problems.append(f"{item['name']}: SHA-256 differs")
    extra = {n for n in names if n.startswith("evidence/")} - listed
    problems.extend(f"{n}: not listed in the manifest" for n in sorted(extra))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bulwark.incidents.package")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("verify", help="verify a referral package offline")
    check.add_argument("package")
    check.add_argument("--key", help="the CERT's published public key (PEM)")
    args = parser.parse_args(argv)
    with open(args.package, "rb") as handle:
        data = handle.read()
    trusted = None
    if args.key:
        with open(args.key, "rb") as handle:
            trusted = handle.read()
    problems = verify(data, trusted)
    for problem in problems:
        print(f"FAIL: {problem}")
    if not problems:
        manifest = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("manifest.json"))
        count = len(manifest.get("evidence", []))
        reference = manifest["incident"]["reference"]
        print(f"OK: {reference}, signature valid, {count} evidence files intact")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
