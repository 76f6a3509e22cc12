"""The review and value pages show what a reviewer decides on (values, kinds, TLP, source,
links), not bare STIX ids; and only what the viewer may see."""

import re
from datetime import UTC, datetime

from django.test import Client

from bulwark.conftest import sign_in
from bulwark.core.tlp import TLP
from bulwark.intel import services
from bulwark.intel.models import Indicator, StixObject
from bulwark.intel.tests.conftest import Community, indicator

NOW = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pending(c: Community) -> None:
    c.community.requires_review = True
    c.community.save()
    objs = [
        indicator("198.51.100.44", valid_from=NOW, tlp=TLP.GREEN),
        indicator("phish.example", path="domain-name:value", valid_from=NOW, tlp=TLP.AMBER),
    ]
    services.ingest_objects(c.sharer, c.community, objs, raw="")


def _row(page: str, stix_id: str) -> str:
    match = re.search(rf'<tr data-stix-id="{re.escape(stix_id)}">(.*?)</tr>', page, re.S)
    assert match is not None, stix_id
    return match.group(1)


def test_review_lists_values_kinds_tlp_source_and_links(
    community: Community, client: Client
) -> None:
    _pending(community)
    page = sign_in(client, community.analyst).get("/intel/review/").content.decode()
    domain = StixObject.objects.get(indicator__pattern__contains="phish.example")
    row = _row(page, domain.stix_id)
    assert "Domain" in row
    assert '<a href="/intel/values/domain/phish.example"><code>phish.example</code></a>' in row
    assert "TLP:AMBER" in row
    assert community.authority.name in row  # the source organisation
    ind = Indicator.objects.get(stix_object=domain)
    assert f'href="/intel/indicators/{ind.pk}/"' in row
    address = _row(page, StixObject.objects.get(indicator__pattern__contains="198.51").stix_id)
    assert "IPv4 address" in address and "198.51.100.44" in address and "TLP:GREEN" in address
    # the checkbox is labelled with what it chooses, not with an id
    assert f'aria-label="{ind}"' in row


def test_value_page_describes_each_source_and_hides_what_the_viewer_may_not_see(
    community: Community, client: Client
) -> None:
    objs = [indicator("203.0.113.77", valid_from=NOW, tlp=TLP.GREEN)]
    services.ingest_objects(community.sharer, community.community, objs, raw="")
    red = [indicator("203.0.113.77", valid_from=NOW, tlp=TLP.AMBER_STRICT)]
    services.ingest_objects(community.sharer, community.private, red, raw="")
    shared = Indicator.objects.get(stix_object__collection=community.community)
    private = Indicator.objects.get(stix_object__collection=community.private)
    page = sign_in(client, community.other_user).get("/intel/values/ipv4/203.0.113.77")
    text = page.content.decode()
    assert "IPv4 address: <code>203.0.113.77</code>" in text
    row = _row(text, shared.stix_object.stix_id)
    assert f'href="/intel/indicators/{shared.pk}/"' in row and "TLP:GREEN" in row
    assert community.authority.name in row
    assert private.stix_object.stix_id not in text
    assert f"/intel/indicators/{private.pk}/" not in text


def test_look_up_reads_a_defanged_value(community: Community, client: Client) -> None:
    objs = [indicator("http://evil.example/x", path="url:value", valid_from=NOW)]
    services.ingest_objects(community.sharer, community.community, objs, raw="")
    signed = sign_in(client, community.other_user)
    found = signed.get("/intel/", {"q": "hxxp://evil[.]example/x"})
    assert found.status_code == 302
    assert found["Location"] == "/intel/values/url/http://evil.example/x"
    refused = signed.get("/intel/", {"q": "not [.] a value"}, follow=True)
    assert refused.status_code == 200 and refused.redirect_chain == []
    assert len(list(refused.context["messages"])) == 1
