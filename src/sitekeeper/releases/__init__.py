"""Releases: update packages, the staged update pipeline (stage, smoke checks, approval, the window,
production, rollback) and release records."""
