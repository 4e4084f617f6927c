"""Backups proven restorable: restic repositories, data sources, runs, retention, restore tests, restores."""
