from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "sitekeeper.api"
    label = "api"
