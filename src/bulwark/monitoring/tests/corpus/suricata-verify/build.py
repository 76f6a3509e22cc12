"""Rebuild expected-eve.jsonl from a suricata-verify checkout (run by hand, not by tests).

    python build.py /path/to/suricata-verify > expected-eve.jsonl

Each test's test.yaml lists the EVE records Suricata must write (`checks: - filter:
match: {...}`), with dotted keys for nested fields. One output line per test: the test's
name and its records with the dotted keys unfolded into objects, i.e. the part of the
test's eve.json that the test pins down. Keys with list indexes or operators (`[0]`,
`__len`, `has-key`, ...) are left out, and a record with nothing left but its event_type
is dropped (it says nothing about the fields).
"""

import json
import pathlib
import sys

import yaml


def unfold(match: dict) -> dict:
    out: dict = {}
    for key, value in match.items():
        if (
            not isinstance(key, str)
            or "[" in key
            or "__" in key
            or "*" in key
            or key in ("has-key", "not-has-key")  # operators: a key that is (not) there
        ):
            continue
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node[parts[-1]] = value
    return out


def main(root: pathlib.Path) -> None:
    for path in sorted(root.glob("tests/**/test.yaml")):
        try:
            spec = yaml.safe_load(path.read_text())
        except (yaml.YAMLError, UnicodeDecodeError):
            continue
        records = []
        for check in (spec or {}).get("checks") or []:
            match = ((check or {}).get("filter") or {}).get("match")
            if not isinstance(match, dict) or not isinstance(match.get("event_type"), str):
                continue
            record = unfold(match)
            if set(record) > {"event_type"}:
                records.append(record)
        if records:
            name = str(path.parent.relative_to(root / "tests"))
            print(json.dumps({"test": name, "records": records}, default=str, sort_keys=True))


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
