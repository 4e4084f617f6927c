# The backfill (0003) runs in its own migration: PostgreSQL refuses to ALTER a table with pending trigger
# events from updates made in the same transaction.

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('monitoring', '0003_monitor_created_held_maintenance_log'),
    ]

    operations = [
        migrations.AlterField(
            model_name='monitor',
            name='created_at',
            field=models.DateTimeField(default=django.utils.timezone.now, editable=False),
        ),
    ]
