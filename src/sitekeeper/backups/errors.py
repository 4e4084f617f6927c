"""What the backup jobs, restore tests, restores and the update pipeline's restore points share, one floor
below all of them: the errors a job turns into a failed run (instead of a crash), the one that stops a worker
whose job was taken over, and a site's backup settings."""

from __future__ import annotations

from sitekeeper import proc
from sitekeeper.access.crypto import DecryptionError
from sitekeeper.backups.models import SiteBackup
from sitekeeper.backups.restic import ResticError
from sitekeeper.backups.sources.base import SourceError
from sitekeeper.contracts.models import Site

JOB_ERRORS = (proc.ProcError, proc.MissingProgramError, SourceError, ResticError, OSError, DecryptionError)


class BackupError(RuntimeError):
    pass


def config_for(site: Site) -> SiteBackup:
    try:
        return site.backup
    except SiteBackup.DoesNotExist:
        raise BackupError(f"{site} has no backup settings (repository, schedule)") from None
