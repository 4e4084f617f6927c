"""Releases models, one module per concern; all importable from here."""

from sitekeeper.releases.models.releases import *  # noqa: F403 (names in its __all__)
