from django.apps import AppConfig


class DeskConfig(AppConfig):
    name = "sitekeeper.desk"
    label = "desk"
    verbose_name = "Service desk"
