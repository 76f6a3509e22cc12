"""The CSAF 2.0 provider as a CSAF aggregator or BSI's csaf_checker reads it: starting
from `/.well-known/csaf/provider-metadata.json`, following the ROLIE feed to every
document and checking the rules of CSAF 2.0 section 7.1 that apply to a provider
(requirements 1, 2, 4, 5, 7, 9, 11-20), with the OASIS provider and ROLIE schemas and a
real GnuPG verifying the signatures with nothing but the key the provider publishes."""

import csv
import hashlib
import io
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
from django.test import Client
from referencing import Registry, Resource

from bulwark.advisories import csaf, services, signing
from bulwark.advisories.models import Advisory
from bulwark.advisories.tests.test_public import SCHEMAS, csaf_validator
from bulwark.advisories.tests.world import World

SITE = "https://cert.example.tw"
METADATA = "/.well-known/csaf/provider-metadata.json"
# CSAF 2.0 section 5.1 (and csaf_checker's ConformingFileName).
CONFORMING = re.compile(r"^[+\-a-z0-9_]+\.json$")


def schema_validator(name: str) -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    csaf_schema = json.loads((SCHEMAS / "csaf_json_schema.json").read_text(encoding="utf-8"))
    registry: Registry = Registry().with_resource(
        csaf.SCHEMA_ID, Resource.from_contents(csaf_schema)
    )
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, registry=registry, format_checker=cls.FORMAT_CHECKER)


def assert_valid(validator: jsonschema.protocols.Validator, document: Any) -> None:
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(document)]
    assert not errors, errors


@pytest.fixture
def site(settings: Any) -> str:
    settings.SITE_URL = SITE
    return SITE


def _gpg(home: str, *args: str, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["gpg", "--homedir", home, "--batch", "--yes", *args],
        input=data,
        capture_output=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def gpg_home() -> Iterator[str]:
    """A fresh GnuPG home (short path: gpg-agent's socket must fit)."""
    if shutil.which("gpg") is None:
        pytest.fail("gpg is not installed (apt-get install gnupg)")
    home = tempfile.mkdtemp(prefix="bwgpg", dir="/tmp")
    try:
        yield home
    finally:
        subprocess.run(["gpgconf", "--homedir", home, "--kill", "all"], check=False, timeout=30)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def signing_key(gpg_home: str, settings: Any) -> str:
    """A real ed25519 signing key in its own home, configured as the CSAF signing key."""
    made = _gpg(
        gpg_home,
        "--passphrase",
        "",
        "--quick-gen-key",
        "CSAF test <csaf@cert.example.tw>",
        "ed25519",
        "sign",
        "never",
    )
    assert made.returncode == 0, made.stderr
    listed = _gpg(gpg_home, "--with-colons", "--list-secret-keys").stdout.decode()
    fingerprint = next(line.split(":")[9] for line in listed.splitlines() if line.startswith("fpr"))
    settings.CSAF_GNUPGHOME, settings.CSAF_SIGNING_KEY = gpg_home, fingerprint
    return fingerprint


@pytest.fixture
def published(world: World, site: str) -> dict[str, Advisory]:
    alert = world.sent(tlp="clear", publication="alert", title="Example httpd flaw")
    news = world.sent(
        tlp="clear",
        publication="news",
        title="Monthly news",
        cves=[],
        affected_products=[],
        response_required="none",
        response_deadline=None,
    )
    guide = world.sent(
        tlp="clear",
        publication="guideline",
        title="Hardening guide",
        cves=[],
        affected_products=[{"vendor": "example", "product": "httpd"}],
        response_required="none",
        response_deadline=None,
    )
    green = world.sent(tlp="green", title="Green only", target_organisations=[world.bureau])
    amber = world.sent(tlp="amber", title="Amber only", target_organisations=[world.bureau])
    return {"alert": alert, "news": news, "guide": guide, "green": green, "amber": amber}


def path_of(url: str) -> str:
    """The path a URL names on this site (every URL must be below SITE_URL)."""
    assert url.startswith(SITE + "/"), url
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def get(client: Client, url: str) -> Any:
    # Asked for on another allowed host name: the answers still name SITE_URL only.
    return client.get(path_of(url), HTTP_HOST="localhost")


def crawl(client: Client) -> dict[str, Any]:
    """What a checker reads, from the provider metadata down to each file."""
    metadata_response = client.get(METADATA, HTTP_HOST="localhost")
    assert metadata_response.status_code == 200
    assert metadata_response["Content-Type"] == "application/json"
    metadata = metadata_response.json()
    body = metadata_response.content.decode()
    assert "localhost" not in body and "testserver" not in body
    (distribution,) = metadata["distributions"]
    (feed_info,) = distribution["rolie"]["feeds"]
    feed_response = get(client, feed_info["url"])
    assert feed_response.status_code == 200
    feed = feed_response.json()
    files = {}
    for entry in feed["feed"]["entry"]:
        links: dict[str, list[str]] = {}
        for link in entry["link"]:
            links.setdefault(link["rel"], []).append(link["href"])
        (self_url,) = links["self"]
        response = get(client, self_url)
        assert response.status_code == 200, self_url
        files[self_url] = {"entry": entry, "links": links, "response": response}
    return {"metadata": metadata, "distribution": distribution, "feed_info": feed_info,
            "feed": feed, "files": files}  # fmt: skip


def verify(signature: bytes, data: bytes, armoured_key: bytes) -> bool:
    """Checks a detached signature in a keyring that holds only the published key."""
    home = tempfile.mkdtemp(prefix="bwver", dir="/tmp")
    try:
        assert _gpg(home, "--import", data=armoured_key).returncode == 0
        folder = Path(home)
        (folder / "doc.json").write_bytes(data)
        (folder / "doc.json.asc").write_bytes(signature)
        done = _gpg(home, "--verify", str(folder / "doc.json.asc"), str(folder / "doc.json"))
        return done.returncode == 0
    finally:
        subprocess.run(["gpgconf", "--homedir", home, "--kill", "all"], check=False, timeout=30)
        shutil.rmtree(home, ignore_errors=True)


def test_a_trusted_provider_passes_the_checks_of_section_7_1(
    published: dict[str, Advisory], signing_key: str, client: Client
) -> None:
    seen = crawl(client)
    metadata, distribution = seen["metadata"], seen["distribution"]
    # 7: provider metadata, valid against the OASIS schema; 9: at the well-known URL.
    assert_valid(schema_validator("provider_json_schema.json"), metadata)
    assert metadata["canonical_url"] == SITE + METADATA
    assert metadata["role"] == "csaf_trusted_provider"
    assert metadata["publisher"]["namespace"] == SITE
    (key,) = metadata["public_openpgp_keys"]
    assert key["fingerprint"] == signing_key
    # 15: the ROLIE feed, valid against the OASIS ROLIE schema, TLP:WHITE.
    assert_valid(schema_validator("ROLIE_feed_json_schema.json"), seen["feed"])
    assert seen["feed_info"]["tlp_label"] == "WHITE"
    assert seen["feed"]["feed"]["link"][0] == {"rel": "self", "href": seen["feed_info"]["url"]}
    # 4/5: exactly the public set; GREEN/AMBER never appear.
    ids = {f["entry"]["id"] for f in seen["files"].values()}
    assert ids == {published[k].reference for k in ("alert", "news", "guide")}
    # 16/17: the service document lists the feed; the category document the entries' terms.
    (service_url,) = distribution["rolie"]["services"]
    service = get(client, service_url).json()
    assert service["service"]["workspace"][0]["collection"][0]["href"] == seen["feed_info"]["url"]
    (category_url,) = distribution["rolie"]["categories"]
    terms = {c["term"] for c in get(client, category_url).json()["categories"]["category"]}
    assert terms == {"example httpd"}
    armoured_key = get(client, key["url"]).content
    assert b"BEGIN PGP PUBLIC KEY BLOCK" in armoured_key and b"PRIVATE" not in armoured_key

    base = distribution["directory_url"]
    index = get(client, base + "index.txt").content.decode().splitlines()
    changes = list(csv.reader(io.StringIO(get(client, base + "changes.csv").content.decode())))
    for url, file in seen["files"].items():
        response, entry, links = file["response"], file["entry"], file["links"]
        data = response.content
        document = json.loads(data)
        tracking = document["document"]["tracking"]
        # 1: valid CSAF; 2: conforming file name that matches the tracking id.
        assert response["Content-Type"] == "application/json"
        assert_valid(csaf_validator(), document)
        name = url.rsplit("/", 1)[1]
        assert CONFORMING.match(name) and name == csaf.filename(tracking["id"])
        # 11: in the folder of the initial release date's year.
        year = datetime.fromisoformat(tracking["initial_release_date"]).year
        assert url == f"{base}{year}/{name}"
        # The document names its canonical URL (optional test 6.2.11).
        assert {"category": "self", "summary": "This advisory (CSAF)", "url": url} in document[
            "document"
        ]["references"]
        # 12/13: listed in index.txt and in changes.csv with its current release date.
        assert f"{year}/{name}" in index
        assert [f"{year}/{name}", tracking["current_release_date"]] in changes
        assert entry["updated"] == tracking["current_release_date"]
        # 18: both hashes match the served bytes.
        assert sorted(links["hash"]) == [url + ".sha256", url + ".sha512"]
        for algorithm in ("sha256", "sha512"):
            line = get(client, f"{url}.{algorithm}").content.decode()
            assert line == f"{hashlib.new(algorithm, data).hexdigest()}  {name}\n"
        # 19/20: the signature verifies with the published key alone.
        assert links["signature"] == [url + ".asc"]
        signature = get(client, url + ".asc").content
        assert verify(signature, data, armoured_key)
        assert not verify(signature, data + b" ", armoured_key)
    assert len(index) == len(seen["files"]) == len(changes) == 3
    times = [row[1] for row in changes]
    assert times == sorted(times, reverse=True)
    # 14: directory listings link the year folders and the files.
    assert f'href="{year}/"' in get(client, base).content.decode()
    assert f'href="{name}.asc"' in get(client, f"{base}{year}/").content.decode()


def test_without_a_usable_key_nothing_claims_signatures(
    published: dict[str, Advisory], settings: Any, gpg_home: str, client: Client
) -> None:
    for fingerprint in ("", "0123456789ABCDEF0123456789ABCDEF01234567"):
        settings.CSAF_GNUPGHOME, settings.CSAF_SIGNING_KEY = gpg_home, fingerprint
        seen = crawl(client)
        assert_valid(schema_validator("provider_json_schema.json"), seen["metadata"])
        assert seen["metadata"]["role"] == "csaf_provider"
        assert "public_openpgp_keys" not in seen["metadata"]
        for url, file in seen["files"].items():
            assert "signature" not in file["links"]
            assert get(client, url + ".asc").status_code == 404
            assert get(client, url + ".sha256").status_code == 200
        year = csaf.folder_year(published["alert"])
        listing = get(client, f"{seen['distribution']['directory_url']}{year}/")
        assert listing.status_code == 200
        assert ".json.sha256" in listing.content.decode()
        assert ".asc" not in listing.content.decode()


def test_non_public_advisories_are_nowhere_in_the_provider(
    published: dict[str, Advisory], client: Client
) -> None:
    base = f"{SITE}/.well-known/csaf/white/"
    listed = get(client, base + "index.txt").content.decode()
    feed = get(client, base + "csaf-feed-tlp-white.json").content.decode()
    for key in ("green", "amber"):
        advisory = published[key]
        name = csaf.filename(advisory.reference)
        assert name not in listed and advisory.reference not in feed
        year = advisory.sent_at.year if advisory.sent_at else 2026
        for suffix in ("", ".sha256", ".sha512", ".asc"):
            assert get(client, f"{base}{year}/{name}{suffix}").status_code == 404
    # A public document asked for in the wrong year's folder is not there either.
    alert = published["alert"]
    wrong = f"{base}{csaf.folder_year(alert) - 1}/{csaf.filename(alert.reference)}"
    assert get(client, wrong).status_code == 404


def test_a_revision_changes_the_bytes_the_hashes_and_changes_csv(
    world: World, published: dict[str, Advisory], signing_key: str, client: Client
) -> None:
    alert = published["alert"]
    url = csaf.canonical_url(alert)
    before = get(client, url).content
    before_hash = get(client, url + ".sha256").content
    services.update_advisory(world.analyst, alert, note="Fixed in 2.4.60.", summary="Patch now.")
    services.approve_revision(world.duty, alert.revisions.get())
    after = get(client, url).content
    assert after != before and get(client, url + ".sha256").content != before_hash
    tracking = json.loads(after)["document"]["tracking"]
    assert tracking["version"] == "2"
    assert [r["number"] for r in tracking["revision_history"]] == ["1", "2"]
    changes = get(client, f"{SITE}/.well-known/csaf/white/changes.csv").content.decode()
    first = next(csv.reader(io.StringIO(changes)))
    assert first == [f"{csaf.folder_year(alert)}/{csaf.filename(alert.reference)}",
                     tracking["current_release_date"]]  # fmt: skip
    assert (
        get(client, url + ".sha256").content.decode().startswith(hashlib.sha256(after).hexdigest())
    )


def test_the_publication_link_serves_the_canonical_bytes(
    published: dict[str, Advisory], client: Client
) -> None:
    alert = published["alert"]
    canonical = get(client, csaf.canonical_url(alert))
    linked = client.get(f"/publications/{alert.reference}/csaf.json")
    assert linked.content == canonical.content
    chinese = client.get(f"/publications/{alert.reference}/csaf.json?lang=zh-hant").json()
    assert chinese["document"]["lang"] == "zh-Hant"
    assert chinese["document"]["source_lang"] == "en"
    assert chinese["document"]["tracking"]["id"] == alert.reference


def test_file_names_and_cvss_scores_follow_the_standards() -> None:
    # CSAF 2.0 section 5.1, including its own example.
    assert csaf.filename("BWA-2026-0001") == "bwa-2026-0001.json"
    assert csaf.filename("Example Company - 2023-YH3234") == "example_company_-_2023-yh3234.json"
    # Base scores of vectors from FIRST's CVSS 3.x examples and NVD records.
    for vector, score in (
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
        ("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
        ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9),
        ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9),
        ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:N", 0.0),
        ("CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H", 5.5),
    ):
        assert csaf.cvss3_base_score(vector) == score, vector
    assert csaf.cvss3_base_score("CVSS:3.1/AV:N/AC:L") is None


def test_signing_refuses_without_a_key(settings: Any) -> None:
    settings.CSAF_SIGNING_KEY = ""
    assert signing.signing_key() is None
    with pytest.raises(signing.SigningError):
        signing.sign(b"{}")


def test_the_bytes_do_not_depend_on_the_readers_language(
    published: dict[str, Advisory], client: Client
) -> None:
    """The hash a Chinese-speaking reader's request rendered must match the document an
    English-speaking reader's request rendered (each is cached on its own)."""
    from django.core.cache import cache

    url = path_of(csaf.canonical_url(published["alert"]))
    cache.clear()
    chinese = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hant")
    chinese_hash = client.get(url + ".sha256", HTTP_ACCEPT_LANGUAGE="zh-hant").content.decode()
    cache.clear()
    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert chinese.content == english.content
    assert chinese_hash.split()[0] == hashlib.sha256(english.content).hexdigest()
    severity = json.loads(english.content)["document"]["aggregate_severity"]["text"]
    assert severity == "Critical"
    translated = client.get(
        f"/publications/{published['alert'].reference}/csaf.json?lang=zh-hant",
        HTTP_ACCEPT_LANGUAGE="en",
    ).json()
    assert translated["document"]["aggregate_severity"]["text"] != "Critical"


def test_version_ranges_are_written_in_vers() -> None:
    for pep440, vers in (
        (">=2.4.0,<2.4.60", "vers:generic/>=2.4.0|<2.4.60"),
        ("==9.1", "vers:generic/9.1"),
        ("~=2.4.1", "vers:generic/>=2.4.1|<2.5"),
        ("~=2.4", "vers:generic/>=2.4|<3"),
        ("==2.4.*", "vers:generic/>=2.4|<2.5"),
        (">=1.0,!=1.3", "vers:generic/>=1.0|!=1.3"),
    ):
        assert csaf.vers_range(pep440) == vers, pep440


def test_listing_files_cost_the_same_queries_for_more_publications(
    world: World, published: dict[str, Advisory], client: Client
) -> None:
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    base = "/.well-known/csaf/white/"
    paths = [METADATA, base + "csaf-feed-tlp-white.json", base + "changes.csv", base + "index.txt"]

    def queries() -> list[int]:
        counts = []
        for path in paths:
            cache.clear()
            with CaptureQueriesContext(connection) as captured:
                assert client.get(path).status_code == 200
            counts.append(len(captured))
        return counts

    few = queries()
    for n in range(4):
        world.sent(tlp="clear", publication="alert", title=f"More {n}")
    services.update_advisory(world.analyst, published["alert"], note="Revised.", summary="New.")
    services.approve_revision(world.duty, published["alert"].revisions.get())
    assert queries() == few


def test_deploy_check_warns_about_an_unusable_signing_key(
    settings: Any, gpg_home: str, signing_key: str
) -> None:
    from bulwark.advisories.checks import csaf_signing

    assert csaf_signing() == []
    settings.CSAF_SIGNING_KEY = "0123456789ABCDEF0123456789ABCDEF01234567"
    (warning,) = csaf_signing()
    assert warning.id == "bulwark.W201" and gpg_home in warning.msg
    settings.CSAF_SIGNING_KEY = ""
    assert csaf_signing() == []
