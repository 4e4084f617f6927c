"""The 6.3 clock starts at detection; false-positive dismissal (issue 12.13)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("audits", "0004_linkscan_incomplete")]

    operations = []
