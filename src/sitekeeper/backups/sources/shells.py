"""Where a source's commands run: here, or on the site's host over SSH (`remote.SshShell`, loaded only when
a source asks for it: it brings asyncssh)."""

from __future__ import annotations

from sitekeeper.backups.models import SiteBackup, Source
from sitekeeper.backups.shell import LocalShell, Shell
from sitekeeper.backups.sources.base import SourceError


def shell_for(source: Source) -> Shell:
    """The shell a source's commands run in: over SSH to the site's host, or here."""
    if not source.over_ssh:
        return LocalShell()
    from sitekeeper.backups.remote import SshShell

    try:
        config = source.site.backup
    except SiteBackup.DoesNotExist as exc:
        raise SourceError(
            f"{source}: reached over SSH, but the site has no backup settings (host, key)"
        ) from exc
    return SshShell.for_site(config)
