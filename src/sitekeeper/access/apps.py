from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "sitekeeper.access"
    label = "access"
    verbose_name = "Access, users and audit log"

    def ready(self) -> None:
        from sitekeeper.access import audit

        audit.connect_signals()
