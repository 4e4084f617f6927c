from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "sitekeeper.web"
    label = "web"
