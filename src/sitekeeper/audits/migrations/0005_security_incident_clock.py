"""The 6.3 clock starts at detection; false-positive dismissal (issue 12.13). A finding's current episode has
its own detection time; security incidents are one per episode (opened at detection when the finding
indicates an incident), and a person may dismiss one with a reason. Each security scan step's run is
recorded, so a site never scanned reads "never scanned" rather than "nothing found" (issue 12.1)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def episodes_start_at_first_sighting(apps, schema_editor):
    """Existing findings: the only episode known is the one that began at the first sighting."""
    finding = apps.get_model("audits", "Finding")
    finding.objects.filter(detected_at=None).update(detected_at=models.F("first_seen"))


class Migration(migrations.Migration):
    dependencies = [
        ("audits", "0004_linkscan_incomplete"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="finding",
            name="detected_at",
            field=models.DateTimeField(
                blank=True,
                help_text="Start of the current episode: first seen, or seen again after resolved",
                null=True,
            ),
        ),
        migrations.RunPython(episodes_start_at_first_sighting, migrations.RunPython.noop),
        migrations.AddField(
            model_name="securityincident",
            name="automatic",
            field=models.BooleanField(
                default=False,
                help_text="Opened by sitekeeper at detection (the finding indicates an incident)",
            ),
        ),
        migrations.AddField(
            model_name="securityincident",
            name="dismissal_reason",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="securityincident",
            name="dismissed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="securityincident",
            name="dismissed_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="securityincident",
            name="detected_at",
            field=models.DateTimeField(help_text="When the finding was detected: the 6.3 clock starts here"),
        ),
        migrations.AlterField(
            model_name="securityincident",
            name="finding",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="security_incidents",
                to="audits.finding",
            ),
        ),
        migrations.AddConstraint(
            model_name="securityincident",
            constraint=models.UniqueConstraint(
                fields=("finding", "detected_at"), name="security_incident_per_episode"
            ),
        ),
        migrations.CreateModel(
            name="ScanStepRun",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("environment", models.CharField(default="prod", max_length=10)),
                (
                    "step",
                    models.CharField(help_text="inventory, integrity, malware or suspicious", max_length=12),
                ),
                ("started_at", models.DateTimeField()),
                ("finished_at", models.DateTimeField()),
                (
                    "outcome",
                    models.CharField(
                        choices=[
                            ("ok", "Ran"),
                            ("skipped", "Could not run (nothing to read)"),
                            ("failed", "Failed"),
                        ],
                        max_length=8,
                    ),
                ),
                (
                    "summary",
                    models.CharField(blank=True, help_text="What it found, or why it failed", max_length=500),
                ),
                (
                    "site",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="scan_step_runs",
                        to="contracts.site",
                    ),
                ),
            ],
            options={
                "ordering": ["-finished_at"],
                "indexes": [
                    models.Index(
                        fields=["site", "environment", "step", "finished_at"], name="audits_scan_step_recent"
                    )
                ],
            },
        ),
    ]
