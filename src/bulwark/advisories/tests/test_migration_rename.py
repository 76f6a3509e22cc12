"""advisories.Category became AdvisoryCategory (issue 21): the rows, the advisories that
point at them and the table's name survive the migration."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("advisories", "0005_s27h7_recommended_actions_zh_hant")]
AFTER = [("advisories", "0006_s28h4_advisorycategory")]


@pytest.mark.django_db(transaction=True)
def test_categories_survive_the_rename() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("advisories", "Category")
    old.objects.create(code="s28h4-test", name="Kept", name_zh_hant="保留")

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new_apps = executor.loader.project_state(AFTER).apps
    new = new_apps.get_model("advisories", "AdvisoryCategory")
    kept = new.objects.get(code="s28h4-test")
    assert (kept.name, kept.name_zh_hant) == ("Kept", "保留")
    assert new._meta.db_table == "advisories_category"
    assert "advisories_category" in connection.introspection.table_names()

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    from bulwark.advisories.models import AdvisoryCategory

    assert AdvisoryCategory.objects.filter(code="s28h4-test").exists()
