"""The `sitekeeper` console script: Django's management commands under one name.

`sitekeeper apply FILE`, `sitekeeper sla due …`, `sitekeeper demo`, `sitekeeper serve` and the rest are
management commands in the apps that own them; this wrapper only points Django at our settings and turns a
configuration error into one readable line instead of a traceback.
"""

from __future__ import annotations

import os
import sys

# Spellings people type that Django cannot name a command (no '-' in module names): alias → command.
ALIASES = {"mail-in": "mail_in", "imap-poll": "imap_poll"}


def _resolve_alias(args: list[str]) -> list[str]:
    """`sitekeeper mail-in …` and `sitekeeper help mail-in` run Django's mail_in."""
    at = 1 if args[:1] == ["help"] else 0
    if len(args) > at and args[at] in ALIASES:
        return [*args[:at], ALIASES[args[at]], *args[at + 1 :]]
    return args


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sitekeeper.settings")
    from sitekeeper.conf import ConfigError

    args = _resolve_alias(list(sys.argv[1:] if argv is None else argv))
    try:
        from django.core.management import execute_from_command_line

        execute_from_command_line(["sitekeeper", *args])
    except ConfigError as exc:
        sys.stderr.write(f"sitekeeper: configuration error: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
