"""Recommended actions in Traditional Chinese (issue 18): written beside the English, shown
to zh-Hant readers on the public page and in the CSAF document, English otherwise; the
category is named in the reader's language too."""

import json

from django.test import Client

from bulwark.advisories.tests.world import World


def test_recommended_actions_and_category_follow_the_reader_language(
    world: World, client: Client
) -> None:
    alert = world.sent(
        tlp="clear",
        publication="alert",
        title="Example httpd flaw",
        recommended_actions="Upgrade to **2.4.60** now.",
        recommended_actions_zh_hant="請立即升級至 **2.4.60**。",
        target_organisations=[world.bureau],
    )
    path = f"/publications/{alert.reference}/"
    english = client.get(path).content.decode()
    chinese = client.get(path + "?lang=zh-hant").content.decode()
    assert "Upgrade to <strong>2.4.60</strong> now." in english and "請立即升級" not in english
    assert "請立即升級至 <strong>2.4.60</strong>。" in chinese and "Upgrade to" not in chinese
    category = alert.category
    assert category.name in english
    if category.name_zh_hant:
        assert category.name_zh_hant in chinese
    csaf = json.loads(client.get(f"/publications/{alert.reference}/csaf.json?lang=zh-hant").content)
    details = [r["details"] for v in csaf["vulnerabilities"] for r in v.get("remediations", [])]
    assert details and all(d.startswith("請立即升級") for d in details)
