from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "sitekeeper.access"
    label = "access"
    verbose_name = "Access, users and audit log"

    def ready(self) -> None:
        from sitekeeper.access import audit, twofactor
        from sitekeeper.access.models import ApiToken

        # Issuing and revoking a token is a change a person makes: it goes into the audit log. Registered
        # here, not with @audited on the model: audit.py reads access.models (AuditEntry), so models.py
        # importing audit.py would close a circle.
        audit.audited(ApiToken)
        audit.connect_signals()
        twofactor.connect_signals()  # an authenticator deleted in the admin or a shell is audited too
