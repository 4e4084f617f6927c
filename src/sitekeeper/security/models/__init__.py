"""Security models, one module per concern; all importable from here."""

from sitekeeper.security.models.findings import (
    HEALTH_KINDS,
    SECURITY_KINDS,
    Finding,
    FindingKind,
    FindingStatus,
    Severity,
)
from sitekeeper.security.models.incidents import *  # noqa: F403 (names in its __all__)
from sitekeeper.security.models.integrity import *  # noqa: F403 (names in its __all__)
from sitekeeper.security.models.inventory import *  # noqa: F403 (names in its __all__)
from sitekeeper.security.models.scans import *  # noqa: F403 (names in its __all__)

__all__ = ["HEALTH_KINDS", "SECURITY_KINDS", "Finding", "FindingKind", "FindingStatus", "Severity"]
