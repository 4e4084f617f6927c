"""The `sitekeeper` console script: Django's management commands under one name.

`sitekeeper apply FILE`, `sitekeeper sla due …`, `sitekeeper demo`, `sitekeeper serve` and the rest are
management commands in the apps that own them; this wrapper points Django at our settings, turns a
configuration error into one readable line instead of a traceback, and keeps the data folder private: every
command runs with umask 077 (what it creates is owner-only), and the long-running ones (`serve`, `worker`,
`demo`) first bring an older data folder's files and folders to 0600/0700 (sitekeeper.files).
"""

from __future__ import annotations

import os
import sys

# Spellings people type that Django cannot name a command (no '-' in module names): alias → command.
ALIASES = {"mail-in": "mail_in", "imap-poll": "imap_poll"}
# Commands that serve or work for long: worth one walk of the data folder at start. Other commands (run
# by cron or an MTA for every message) only get the umask, so they never pay for the walk.
TIGHTENING = frozenset({"serve", "worker", "demo"})


def _resolve_alias(args: list[str]) -> list[str]:
    """`sitekeeper mail-in …` and `sitekeeper help mail-in` run Django's mail_in."""
    at = 1 if args[:1] == ["help"] else 0
    if len(args) > at and args[at] in ALIASES:
        return [*args[:at], ALIASES[args[at]], *args[at + 1 :]]
    return args


def _tighten_data_folder() -> None:
    """Settings and logging first, so the one line about the data folder goes where the logs go."""
    import django
    from django.conf import settings

    from sitekeeper import files

    django.setup()
    files.tighten_data_folder(settings)


def main(argv: list[str] | None = None) -> int:
    from sitekeeper import files

    files.restrict_umask()  # before the settings create the data folder, the secret key and the database
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sitekeeper.settings")
    from sitekeeper.conf import ConfigError

    args = _resolve_alias(list(sys.argv[1:] if argv is None else argv))
    try:
        from django.core.management import execute_from_command_line

        if args[:1] and args[0] in TIGHTENING:
            _tighten_data_folder()
        execute_from_command_line(["sitekeeper", *args])
    except ConfigError as exc:
        sys.stderr.write(f"sitekeeper: configuration error: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
