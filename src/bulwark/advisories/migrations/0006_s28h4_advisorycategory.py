"""advisories.Category becomes AdvisoryCategory (issue 21: intel has a Category too).

The table keeps its name (`advisories_category`, the model's `db_table`), so the rename
is Django's state and the content type only: no table is renamed or rebuilt (a plain
RenameModel would recreate the advisories' foreign key, a table rebuild on SQLite), and
raw SQL (the benchmarks' loaders) and every row stay as they were."""

from django.contrib.contenttypes.management import RenameContentType
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("advisories", "0005_s27h7_recommended_actions_zh_hant"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterModelTable(name="category", table="advisories_category"),
                migrations.RenameModel(old_name="Category", new_name="AdvisoryCategory"),
            ],
        ),
        RenameContentType("advisories", "category", "advisorycategory"),
    ]
