from django.apps import AppConfig


class ReleasesConfig(AppConfig):
    name = "sitekeeper.releases"
    label = "releases"
    verbose_name = "Releases"
