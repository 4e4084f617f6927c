"""Link scans cut short by a limit are incomplete (issue 12.16): the status "incomplete", which limit stopped
the scan (page limit: `truncated`, depth limit: `depth_limited`), how many same-site pages it found but did
not read (`unread`, with the first few); the per-site limits get their bounds.

Existing scans that reached the page limit become "incomplete"; how much they left unread was never
counted, so their `unread` is empty (the pages say "an unknown number")."""

import django.core.validators
from django.db import migrations, models


def truncated_scans_are_incomplete(apps, schema_editor):
    scan = apps.get_model("audits", "LinkScan")
    scan.objects.filter(status="succeeded", truncated=True).update(status="incomplete", unread=None)


def incomplete_scans_back_to_succeeded(apps, schema_editor):
    apps.get_model("audits", "LinkScan").objects.filter(status="incomplete").update(status="succeeded")


class Migration(migrations.Migration):
    dependencies = [("audits", "0003_site_errors_finding")]

    operations = [
        migrations.AddField(
            model_name="linkscan",
            name="depth_limited",
            field=models.BooleanField(default=False, help_text="The depth limit left pages unread"),
        ),
        migrations.AddField(
            model_name="linkscan",
            name="unread",
            field=models.PositiveIntegerField(
                blank=True,
                default=0,
                help_text="Same-site pages found but not read because of a limit (the links on them were not "
                "checked); empty: not counted (scans from before this was counted)",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="linkscan",
            name="unread_examples",
            field=models.JSONField(blank=True, default=list, help_text="The first 20 of them"),
        ),
        migrations.AlterField(
            model_name="healthconfig",
            name="link_max_depth",
            field=models.PositiveSmallIntegerField(
                default=6,
                help_text="Clicks from the start page: pages this deep are read and their links checked",
                validators=[
                    django.core.validators.MinValueValidator(1),
                    django.core.validators.MaxValueValidator(100),
                ],
            ),
        ),
        migrations.AlterField(
            model_name="healthconfig",
            name="link_max_pages",
            field=models.PositiveIntegerField(
                default=5000,
                help_text="Same-site pages read at most (errors, redirects and duplicates do not count)",
                validators=[
                    django.core.validators.MinValueValidator(1),
                    django.core.validators.MaxValueValidator(100000),
                ],
            ),
        ),
        migrations.AlterField(
            model_name="linkscan",
            name="status",
            field=models.CharField(
                choices=[
                    ("queued", "Queued"),
                    ("running", "Running"),
                    ("succeeded", "Succeeded"),
                    ("incomplete", "Incomplete"),
                    ("failed", "Failed"),
                ],
                default="queued",
                max_length=10,
            ),
        ),
        migrations.AlterField(
            model_name="linkscan",
            name="truncated",
            field=models.BooleanField(default=False, help_text="The page limit left pages unread"),
        ),
        migrations.RunPython(truncated_scans_are_incomplete, incomplete_scans_back_to_succeeded),
    ]
