from django.apps import AppConfig


class SecurityConfig(AppConfig):
    name = "sitekeeper.security"
    label = "security"
    verbose_name = "Security"
