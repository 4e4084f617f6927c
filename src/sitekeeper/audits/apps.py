from django.apps import AppConfig


class AuditsConfig(AppConfig):
    name = "sitekeeper.audits"
    label = "audits"
    verbose_name = "Security audits"
