"""TAXII input that reached int() or PostgreSQL unchecked: Unicode digits as a limit or a
collection id, NUL characters inside STIX objects."""

import orjson
import pytest
from django.test import Client

from bulwark.intel.models import StixObject
from bulwark.intel.tests.conftest import Community, indicator, token
from bulwark.intel.tests.test_taxii import Taxii, objects_url

SUPERSCRIPT_ONE, ARABIC_ONE = "\u00b9", "\u0661"


@pytest.fixture
def sharer(community: Community, client: Client) -> Taxii:
    return Taxii(client, token(community.sharer))


@pytest.mark.parametrize("limit", [SUPERSCRIPT_ONE, ARABIC_ONE, str(2**64), "-1", "0"])
def test_a_limit_that_is_no_ascii_number_is_400(
    community: Community, sharer: Taxii, limit: str
) -> None:
    response = sharer.get(objects_url(community), limit=limit)
    assert response.status_code == 400, response.content
    assert "limit" in orjson.loads(response.content)["title"]


@pytest.mark.parametrize("collection", [SUPERSCRIPT_ONE, ARABIC_ONE, str(2**64)])
def test_a_collection_id_that_is_no_uuid_is_404(sharer: Taxii, collection: str) -> None:
    response = sharer.get(f"/taxii2/api/collections/{collection}/objects/")
    assert response.status_code == 404


def test_objects_with_nul_characters_are_refused_by_name(
    community: Community, sharer: Taxii
) -> None:
    good = indicator("192.0.2.1")
    bad = indicator("192.0.2.2", description="line\x00break")
    keyed = indicator("192.0.2.3", x_note={"k\x00": "v"})
    response = sharer.post(objects_url(community), {"objects": [good, bad, keyed]})
    assert response.status_code == 202
    status = orjson.loads(response.content)
    assert (status["success_count"], status["failure_count"]) == (1, 2)
    assert all("NUL" in f["message"] for f in status["failures"]), status["failures"]
    assert StixObject.objects.count() == 1
