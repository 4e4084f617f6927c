from django.apps import AppConfig


class BackupsConfig(AppConfig):
    name = "sitekeeper.backups"
    label = "backups"
    verbose_name = "Backups and restore tests"
