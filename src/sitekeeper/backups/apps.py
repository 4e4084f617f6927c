from django.apps import AppConfig


class BackupsConfig(AppConfig):
    name = "sitekeeper.backups"
    label = "backups"
    verbose_name = "Backups and restore tests"

    def ready(self) -> None:
        # A change to what is backed up or where flags the site's recovery runbook for review.
        from sitekeeper.backups import runbook

        runbook.connect_signals()
