from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "sitekeeper.notify"
    label = "notify"
    verbose_name = "Notifications"
