from django.apps import AppConfig
from django.db.models.signals import post_save


class BackupsConfig(AppConfig):
    name = "sitekeeper.backups"
    label = "backups"
    verbose_name = "Backups and restore tests"

    def ready(self) -> None:
        # A change to what is backed up or where flags the site's recovery runbook for review.
        from sitekeeper.backups import runbook, termination
        from sitekeeper.contracts.models import Contract

        runbook.connect_signals()
        # A returning client's new contract stops a running transition the moment it is saved.
        post_save.connect(
            termination.on_contract_saved, sender=Contract, dispatch_uid="sitekeeper_backups_contract_saved"
        )
