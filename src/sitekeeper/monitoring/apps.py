from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "sitekeeper.monitoring"
    label = "monitoring"
    verbose_name = "Uptime and certificate monitoring"
