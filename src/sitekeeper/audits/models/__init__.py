"""Audit models, one module per concern; all importable from here."""

from sitekeeper.audits.models.findings import Finding, FindingKind, FindingStatus, Severity

__all__ = ["Finding", "FindingKind", "FindingStatus", "Severity"]
