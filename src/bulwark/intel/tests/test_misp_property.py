"""Property: whatever MISP event arrives, an attribute with to_ids false and a value on a
warning list never reach a detection export; a to_ids attribute with a listed-nowhere value
does."""

import uuid
from typing import Any

import orjson
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulwark.intel import misp, selectors, warninglists
from bulwark.intel.tests.conftest import Community

LISTED = ["8.8.8.8", "1.1.1.1", "9.9.9.9", "google.com", "microsoft.com"]

ipv4 = st.tuples(*[st.integers(1, 223)] + [st.integers(0, 255)] * 3).map(
    lambda t: ".".join(map(str, t))
)
label = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)
domain = st.tuples(label, st.sampled_from(["example", "test", "invalid"])).map(".".join)
attribute = st.one_of(
    st.tuples(st.sampled_from(["ip-dst", "ip-src"]), ipv4),
    st.tuples(st.sampled_from(["domain", "hostname"]), domain),
    st.tuples(st.just("url"), domain.map(lambda d: f"http://{d}/x")),
    st.tuples(st.sampled_from(["ip-dst", "domain"]), st.sampled_from(LISTED)).map(
        lambda t: ("ip-dst" if t[1][0].isdigit() else "domain", t[1])
    ),
    st.tuples(st.just("ip-dst|port"), ipv4.map(lambda ip: f"{ip}|443")),
)
attributes = st.lists(
    st.tuples(attribute, st.sampled_from([True, False, "0", "1", 0, 1, None])),
    min_size=1, max_size=12,
)  # fmt: skip


def _value(mtype: str, value: str) -> str:
    return value.split("|")[0] if "|" in mtype else value


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(attrs=attributes, in_object=st.booleans(), tlp=st.sampled_from(["clear", "green", "amber"]))
def test_not_for_detection_never_reaches_detection_exports(
    community: Community, attrs: list[tuple[tuple[str, str], Any]], in_object: bool, tlp: str
) -> None:
    rows = []
    for (mtype, value), to_ids in attrs:
        row: dict[str, Any] = {"uuid": str(uuid.uuid4()), "type": mtype, "value": value,
                               "category": "Network activity"}  # fmt: skip
        if to_ids is not None:
            row["to_ids"] = to_ids
        rows.append(row)
    event: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "info": "p",
        "Tag": [{"name": f"tlp:{tlp}"}],
    }
    if in_object:
        event["Object"] = [{"name": "x", "uuid": str(uuid.uuid4()), "Attribute": rows}]
    else:
        event["Attribute"] = rows
    with transaction.atomic():
        misp.import_event(
            community.analyst, community.community, orjson.dumps({"Event": event}).decode()
        )
        exported = {
            v for _k, v, _i, _s in selectors.detection_rows(community.analyst, include_decayed=True)
        }
        machine = {v for _k, v, _i, _s in selectors.detection_values(include_decayed=True)}
        transaction.set_rollback(True)
    wanted = set()
    for row in rows:
        value = _value(row["type"], row["value"]).lower()
        kind = "url" if value.startswith("http") else "ipv4" if value[0].isdigit() else "domain"
        if misp.to_ids_of(row) and not warninglists.hits(kind, value):
            wanted.add(value)
    # exactly the to_ids values not on a warning list: for the pages' exports and for the
    # monitoring engine
    assert exported == wanted and machine == wanted, (exported, machine, wanted)
    assert exported.isdisjoint(LISTED)
