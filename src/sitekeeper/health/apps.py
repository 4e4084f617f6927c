from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "sitekeeper.health"
    label = "health"
    verbose_name = "Site health"
