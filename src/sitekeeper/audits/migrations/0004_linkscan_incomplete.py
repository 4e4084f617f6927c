"""Link scans cut short by a limit are incomplete (issue 12.16)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("audits", "0003_site_errors_finding")]

    operations = []
