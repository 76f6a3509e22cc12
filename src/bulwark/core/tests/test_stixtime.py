"""STIX timestamp pairs written so that text order is time order (the OASIS validator
compares the strings)."""

from stix2validator import ValidationOptions, validate_instance  # type: ignore[import-untyped]

from bulwark.core.stixtime import comparable

IDENTITY = {
    "type": "identity",
    "spec_version": "2.1",
    "id": "identity--486ef180-ccda-5157-a625-eb40f001b712",
    "name": "x",
    "identity_class": "organization",
}


def test_fractions_of_different_widths_are_padded_to_one() -> None:
    # What stix2 wrote for created .359640 and modified .359649 (seen on PostgreSQL).
    obj = dict(
        IDENTITY, created="2026-12-07T10:39:01.35964Z", modified="2026-12-07T10:39:01.359649Z"
    )
    assert not validate_instance(dict(obj), ValidationOptions(version="2.1")).is_valid
    comparable([obj])
    assert obj["created"] == "2026-12-07T10:39:01.359640Z"
    assert obj["modified"] == "2026-12-07T10:39:01.359649Z"
    assert validate_instance(obj, ValidationOptions(version="2.1")).is_valid


def test_whole_seconds_and_equal_widths() -> None:
    obj = {"created": "2026-01-01T00:00:01Z", "modified": "2026-01-01T00:00:01.5Z"}
    comparable([obj])
    assert obj == {"created": "2026-01-01T00:00:01.000Z", "modified": "2026-01-01T00:00:01.500Z"}
    same = {"created": "2022-10-01T00:00:00.000Z", "modified": "2022-10-01T00:00:00.001Z"}
    comparable([same])
    assert same == {"created": "2022-10-01T00:00:00.000Z", "modified": "2022-10-01T00:00:00.001Z"}
