"""sitekeeper: website maintenance & support contracts, enforced and measured."""

__version__ = "0.1.0"
