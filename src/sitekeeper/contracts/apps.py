from django.apps import AppConfig


class ContractsConfig(AppConfig):
    name = "sitekeeper.contracts"
    label = "contracts"
    verbose_name = "Clients and contracts"
