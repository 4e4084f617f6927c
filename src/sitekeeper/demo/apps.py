from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "sitekeeper.demo"
    label = "demo"
