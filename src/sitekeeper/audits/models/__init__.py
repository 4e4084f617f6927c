"""Audit models, one module per concern; all importable from here."""

from sitekeeper.audits.models.findings import (
    HEALTH_KINDS,
    SECURITY_KINDS,
    Finding,
    FindingKind,
    FindingStatus,
    Severity,
)
from sitekeeper.audits.models.health import *  # noqa: F403 (names in its __all__)
from sitekeeper.audits.models.incidents import *  # noqa: F403 (names in its __all__)
from sitekeeper.audits.models.integrity import *  # noqa: F403 (names in its __all__)
from sitekeeper.audits.models.inventory import *  # noqa: F403 (names in its __all__)
from sitekeeper.audits.models.jobs import *  # noqa: F403 (names in its __all__)
from sitekeeper.audits.models.links import *  # noqa: F403 (names in its __all__)
from sitekeeper.audits.models.performance import *  # noqa: F403 (names in its __all__)
from sitekeeper.audits.models.releases import *  # noqa: F403 (names in its __all__)
from sitekeeper.audits.models.scans import *  # noqa: F403 (names in its __all__)

__all__ = ["HEALTH_KINDS", "SECURITY_KINDS", "Finding", "FindingKind", "FindingStatus", "Severity"]
