"""What the Django-using benchmarks share: Django set up from a checkout, a client on a fresh catalogue."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def setup_django() -> None:
    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sitekeeper.settings")
    import django

    django.setup()


def fresh_client(home: Path) -> Any:
    """A migrated SQLite catalogue of its own under `home` and one Business client, Berlin calendar."""
    os.environ["SITEKEEPER_HOME"] = str(home)
    os.environ.pop("SITEKEEPER_DATABASE_URL", None)
    setup_django()
    from django.core.management import call_command
    from tests.conftest import WEEKDAY_HOURS, make_client

    from sitekeeper.contracts.models import Calendar, CalendarVersion

    call_command("migrate", verbosity=0)
    calendar = Calendar.objects.create(slug="hq", name="Berlin office")
    CalendarVersion.objects.create(calendar=calendar, number=1, timezone="Europe/Berlin", hours=WEEKDAY_HOURS)
    return make_client("bench", "Bench Ltd", "business", calendar)
