"""Issue 19: the CSAF documents as the outside world checks them. Every document the demo
publishes (`bulwark demo`: the advisories demo and the analytics history) is read from the
provider the way a CSAF downloader reads it (index.txt, then each file) and run through
BSI's csaf-validator-lib (tools/csaf-validator): the strict schema and every mandatory test
must pass, and no optional test may warn. The Traditional Chinese translations, served
beside the publications, go through the same tests."""

import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.test import Client

from bulwark.advisories import csaf
from bulwark.advisories.models import Advisory
from bulwark.advisories.public import public_advisories
from bulwark.advisories.tests.world import World
from bulwark.constituency import demo as constituency_demo

SITE = "https://cert.example.tw"
Validate = Callable[[list[Path]], dict[str, Any]]


def load_demo() -> None:
    """What `bulwark demo` loads, in its order (core/management/commands/demo.py)."""
    constituency_demo.load()
    for app in ("incidents", "intel", "exchange", "monitoring", "advisories", "analytics"):
        try:
            module = importlib.import_module(f"bulwark.{app}.demo")
        except ModuleNotFoundError:
            continue
        module.load()


def summary(result: dict[str, Any]) -> dict[str, Any]:
    files = result["files"]
    return {
        "files": len(files),
        "valid": sum(f["isValid"] for f in files),
        "failed": sorted({name for f in files for name in f["failed"]}),
        "warned": sorted({name for f in files for name in f["warned"]}),
        "informed": sorted({name for f in files for name in f["informed"]}),
        "tests": files[0]["counts"] if files else {},
    }


def test_every_demo_publication_passes_bsi_csaf_validator(
    db: Any, settings: Any, tmp_path: Path, client: Client, csaf_validator_lib: Validate
) -> None:
    settings.SITE_URL = SITE
    settings.MEDIA_ROOT = str(tmp_path / "media")
    load_demo()
    public = public_advisories().count()
    # Both demos publish: the advisories demo three, the analytics history the rest.
    assert public > 3
    index = client.get("/.well-known/csaf/white/index.txt").content.decode().split()
    assert len(index) == public
    files: list[Path] = []
    for path in index:
        response = client.get(f"/.well-known/csaf/white/{path}")
        assert response.status_code == 200 and response["Content-Type"] == "application/json"
        files.append(tmp_path / path.replace("/", "-"))
        files[-1].write_bytes(response.content)
    translations = []
    for advisory in public_advisories():
        response = client.get(f"/publications/{advisory.reference}/csaf.json?lang=zh-hant")
        translations.append(tmp_path / f"zh-hant-{csaf.filename(advisory.reference)}")
        translations[-1].write_bytes(response.content)

    english = summary(csaf_validator_lib(files))
    chinese = summary(csaf_validator_lib(translations))
    print(json.dumps({"public": public, "en": english, "zh-Hant": chinese}))
    for result in (english, chinese):
        assert result["files"] == result["valid"] == public, result
        assert result["failed"] == [] and result["warned"] == [], result
        assert result["tests"] == {"schema": 1, "mandatory": 43, "optional": 20, "informative": 8}


def test_the_validator_refuses_what_the_issue_reported(
    world: World, settings: Any, tmp_path: Path, csaf_validator_lib: Validate
) -> None:
    """The two mandatory tests all 53 demo documents failed before, and the canonical URL
    test, do fail on documents that lack what they check: the validator is really run."""
    settings.SITE_URL = SITE
    alert = world.sent(tlp="clear", publication="alert")
    news = world.sent(
        tlp="clear", publication="news", cves=[], affected_products=[], response_required="none",
        response_deadline=None,
    )  # fmt: skip
    # The two shapes the demo does not publish: products without CVEs (informational, the
    # products in a note) and CVEs without products (csaf_base).
    guide = world.sent(
        tlp="clear", publication="guideline", cves=[], response_required="none",
        response_deadline=None,
    )  # fmt: skip
    bare = world.sent(tlp="clear", publication="alert", affected_products=[])
    documents: dict[str, dict[str, Any]] = {
        "alert": csaf.document(alert),
        "news": csaf.document(news),
        "guide": csaf.document(guide),
        "bare": csaf.document(bare),
    }
    assert documents["guide"]["document"]["category"] == "csaf_informational_advisory"
    assert documents["bare"]["document"]["category"] == "csaf_base"
    broken_alert = json.loads(json.dumps(documents["alert"]))
    del broken_alert["vulnerabilities"][0]["notes"]
    broken_news = json.loads(json.dumps(documents["news"]))
    broken_news["document"]["references"] = [
        r for r in broken_news["document"]["references"] if r["category"] != "external"
    ]
    http_site = json.loads(json.dumps(documents["news"]))
    for reference in http_site["document"]["references"]:
        reference["url"] = reference["url"].replace("https://", "http://")
    paths = []
    for name, document in (
        *documents.items(),
        ("broken_alert", broken_alert),
        ("broken_news", broken_news),
        ("http_site", http_site),
    ):
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(document, sort_keys=True), encoding="utf-8")
    results = {Path(f["file"]).stem: f for f in csaf_validator_lib(paths)["files"]}
    for name in documents:
        assert results[name]["isValid"] and results[name]["warned"] == [], results[name]
    assert results["broken_alert"]["failed"] == ["mandatoryTest_6_1_27_5"]
    assert results["broken_news"]["failed"] == ["mandatoryTest_6_1_27_2"]
    assert results["http_site"]["warned"] == ["optionalTest_6_2_11"]


def test_unsorted_keys_are_what_optional_test_6_2_13_warns_about(
    world: World, settings: Any, tmp_path: Path, csaf_validator_lib: Validate
) -> None:
    settings.SITE_URL = SITE
    advisory: Advisory = world.sent(tlp="clear", publication="alert")
    sorted_file, unsorted_file = tmp_path / "sorted.json", tmp_path / "unsorted.json"
    sorted_file.write_bytes(csaf.render(advisory))
    document = csaf.document(advisory)
    document["document"] = dict(reversed(list(document["document"].items())))
    unsorted_file.write_text(json.dumps(document), encoding="utf-8")
    results = {
        Path(f["file"]).stem: f for f in csaf_validator_lib([sorted_file, unsorted_file])["files"]
    }
    assert results["sorted"]["warned"] == []
    assert "optionalTest_6_2_13" in results["unsorted"]["warned"]
