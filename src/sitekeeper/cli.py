"""The `sitekeeper` console script: Django's management commands under one name.

`sitekeeper apply FILE`, `sitekeeper sla due …`, `sitekeeper demo`, `sitekeeper serve` and the rest are
management commands in the apps that own them; this wrapper only points Django at our settings and turns a
configuration error into one readable line instead of a traceback.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sitekeeper.settings")
    from sitekeeper.conf import ConfigError

    try:
        from django.core.management import execute_from_command_line

        execute_from_command_line(["sitekeeper", *(sys.argv[1:] if argv is None else argv)])
    except ConfigError as exc:
        sys.stderr.write(f"sitekeeper: configuration error: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
