from django.db import migrations


def create_builtin_plans(apps, schema_editor):
    from sitekeeper.contracts.plans import ensure_builtin_plans

    ensure_builtin_plans(apps.get_model("contracts", "Plan"))


class Migration(migrations.Migration):
    dependencies = [("contracts", "0001_initial")]
    operations = [migrations.RunPython(create_builtin_plans, migrations.RunPython.noop)]
