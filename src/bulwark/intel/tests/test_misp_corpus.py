"""PyMISP's own test events (vendored in corpus/pymisp/): every file imports, every
attribute of every type is kept, objects keep their relations, galaxies and tags stay,
and the export is the input again (compared as JSON after import -> export)."""

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from pymisp import MISPEvent  # type: ignore[import-untyped]

from bulwark.intel import misp, selectors, warninglists
from bulwark.intel.models import Indicator, Provenance, StixObject
from bulwark.intel.tests.conftest import Community

CORPUS = Path(__file__).parent / "corpus" / "pymisp"
FILES = sorted(CORPUS.glob("*.json"))
LOADABLE = 28
# What the corpus holds (counted from the files, checked below so a change shows):
EXPECTED = {
    "files": 31, "attributes": 1264, "objects": 205, "object_references": 83,
    "galaxies": 18, "types": 41, "loadable": LOADABLE,
}  # fmt: skip


def _event(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text("utf-8"))
    event: dict[str, Any] = data.get("Event", data)
    return event


def _counts() -> dict[str, int]:
    attributes = objects = references = galaxies = 0
    types: set[str] = set()
    for path in FILES:
        event = _event(path)
        found = misp.attributes_of(event)
        attributes += len(found)
        types |= {str(a.get("type")) for a, _o in found}
        objects += len(event.get("Object", []))
        references += sum(len(o.get("ObjectReference", [])) for o in event.get("Object", []))
        galaxies += len(event.get("Galaxy", []))
    loadable = sum(1 for p in FILES if "info" in _event(p))
    return {
        "loadable": loadable,
        "files": len(FILES), "attributes": attributes, "objects": objects,
        "object_references": references, "galaxies": galaxies, "types": len(types),
    }  # fmt: skip


def test_the_corpus_is_what_the_conformance_record_says() -> None:
    assert _counts() == EXPECTED


def _without_added(exported: dict[str, Any], original: dict[str, Any]) -> dict[str, Any]:
    """The export less what it adds for MISP (an owner, and a uuid when the file had none)."""
    event = dict(exported["Event"])
    for key in ("Orgc", "uuid"):
        if key not in original:
            event.pop(key, None)
    return event


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_pymisp_test_event_round_trips_without_loss(community: Community, path: Path) -> None:
    text = path.read_text("utf-8")
    original = _event(path)
    shared = misp.import_event(community.analyst, community.community, text)
    stored = StixObject.objects.filter(submission=shared.submission)
    assert stored.filter(type=misp.EVENT_TYPE).count() == 1
    exported = misp.export_event(community.analyst, shared.submission)
    assert _without_added(exported, original) == original
    # the exported text holds every value byte for byte
    again = orjson.loads(orjson.dumps(exported))
    assert [a.get("value") for a, _o in misp.attributes_of(again["Event"])] == [
        a.get("value") for a, _o in misp.attributes_of(original)
    ]
    # PyMISP reads the export as it reads the original (a few of its test files are
    # fragments without `info`, which PyMISP itself refuses to load: EXPECTED["loadable"])
    if "info" in original:
        mine, theirs = MISPEvent(), MISPEvent()
        mine.load(orjson.dumps(exported).decode())
        theirs.load(path.read_text("utf-8"))
        assert len(mine.attributes) == len(theirs.attributes)
        assert len(mine.objects) == len(theirs.objects)
        assert [len(o.references) for o in mine.objects] == [
            len(o.references) for o in theirs.objects
        ]
        assert len(mine.galaxies) == len(theirs.galaxies) and mine.tags == theirs.tags
    # observables are indexed; those with to_ids false are never for detection
    for attr, _obj in misp.attributes_of(original):
        ident = attr.get("uuid")
        if not ident or misp.TYPES.get(str(attr.get("type"))) is None:
            continue
        row = Indicator.objects.filter(stix_object__stix_id=f"indicator--{ident}").first()
        if row is not None:
            assert row.detect is misp.to_ids_of(attr)


def test_the_whole_corpus_counts(community: Community) -> None:
    """Every file imported into one collection: counts for docs/conformance.md."""
    refused = warned = 0
    for path in FILES:
        shared = misp.import_event(community.analyst, community.community, path.read_text("utf-8"))
        for entry in shared.submission.report:
            if "is on the warning list" in entry["message"]:
                warned += 1
            else:
                refused += 1
    events = StixObject.objects.filter(type=misp.EVENT_TYPE)
    indexed = Indicator.objects.count()
    # existing_event_edited.json is another version of existing_event.json (same uuid,
    # another timestamp); japanese_test_heavy.json has the uuid and the timestamp of
    # japanese_test.json, which MISP and TAXII alike take for the same version: not stored
    assert events.count() == EXPECTED["files"] - 1
    assert events.filter(is_latest=True).count() == EXPECTED["files"] - 2
    kept = sum(
        len(misp.attributes_of(orjson.loads(raw)["x_misp_event"]))
        for raw in events.values_list("raw", flat=True)
    )
    heavy = len(
        misp.attributes_of(_event(CORPUS / "reportlab_testfiles__japanese_test_heavy.json"))
    )
    assert kept == EXPECTED["attributes"] - heavy
    # indicators (observable attributes), values not indexed (a malware-sample without
    # its hash, three url attributes that are not URLs), values on a warning list
    assert (indexed, refused, warned) == (INDEXED, REFUSED, WARNED)
    assert Indicator.objects.filter(detect=False).count() == NOT_FOR_DETECTION

    # what only to_ids=false attributes or warning lists carry is in no detection export
    def values(detect: bool) -> set[str]:
        return set(
            Provenance.objects.filter(
                stix_object__type="indicator", stix_object__indicator__detect=detect
            ).values_list("value__value", flat=True)
        )

    quiet = values(False) - values(True)
    exported = {
        v for _k, v, _i, _s in selectors.detection_rows(community.analyst, include_decayed=True)
    }
    assert quiet and exported and exported.isdisjoint(quiet)
    assert not any(warninglists.hits(k, v) for k, v, _i, _s in selectors.detection_values(True))


INDEXED = 705
REFUSED = 4
WARNED = 60
NOT_FOR_DETECTION = 42
