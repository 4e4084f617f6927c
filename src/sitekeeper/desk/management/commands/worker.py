"""`sitekeeper worker`: huey's consumer with every app's tasks and the project's periodic tasks.

The queue is the one settings.HUEY describes (a SQLite file in SITEKEEPER_HOME, or Redis when
SITEKEEPER_QUEUE_URL says so). Several workers may run at once, on one machine or many: every periodic task
is safe to run twice (the escalation pass claims tickets with row locks and a unique constraint).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils.module_loading import autodiscover_modules
from huey import Huey
from huey.consumer_options import ConsumerConfig

DEFAULT_WORKERS = 2  # the escalation pass and the notification sender each get a thread


class Command(BaseCommand):
    help = "Run the background worker: queued jobs and the every-minute tasks (escalation, notifications)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workers", type=int, default=None, help=f"default {DEFAULT_WORKERS}")
        parser.add_argument("--worker-type", choices=("thread", "process"), default=None)
        parser.add_argument(
            "--no-periodic",
            action="store_true",
            help="run queued jobs only (when another worker already runs the periodic tasks)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        autodiscover_modules("tasks")  # every app's tasks.py registers its tasks with huey
        from huey.contrib.djhuey import HUEY

        # djhuey turns immediate mode on under DEBUG, which is right for the web process, never for this one.
        HUEY.immediate = False
        config = ConsumerConfig(**self.consumer_options(options))
        config.validate()
        huey_logger = logging.getLogger("huey")
        if not huey_logger.handlers:
            config.setup_logger(huey_logger)
            huey_logger.propagate = False  # the root handler of settings.LOGGING would print every line twice
        self.banner(HUEY, config)
        HUEY.create_consumer(**config.values).run()
        self.stdout.write("sitekeeper worker: stopped")

    def consumer_options(self, options: dict[str, Any]) -> dict[str, Any]:
        configured = dict(settings.HUEY.get("consumer", {})) if isinstance(settings.HUEY, dict) else {}
        values: dict[str, Any] = {
            "workers": DEFAULT_WORKERS,
            "worker_type": "thread",
            # SIGTERM (systemd, docker stop, kill) lets a running pass finish; a pass takes seconds.
            "graceful_signal": "TERM",
            **configured,
        }
        if options["workers"] is not None:
            values["workers"] = options["workers"]
        if options["worker_type"] is not None:
            values["worker_type"] = options["worker_type"]
        if options["no_periodic"]:
            values["periodic"] = False
        return values

    def banner(self, huey: Huey, config: ConsumerConfig) -> None:
        values = config.values
        self.stdout.write(f"sitekeeper worker: queue {huey.name!r} in {describe_queue()}")
        periodic = "on" if values["periodic"] else "off (--no-periodic)"
        self.stdout.write(f"  {values['workers']} {values['worker_type']} workers, periodic tasks {periodic}")
        for name, task_class in sorted(huey._registry._registry.items()):  # huey has no public listing
            kind = "periodic" if hasattr(task_class, "validate_datetime") else "task"
            doc = (task_class.__doc__ or "").strip().splitlines()
            self.stdout.write(f"  {kind:<8} {name}" + (f" — {doc[0]}" if doc else ""))
        self.stdout.write("  SIGTERM or Ctrl+C stops it after the running tasks finish")
        self.stdout.flush()


def describe_queue() -> str:
    """Where the jobs live, without a Redis password."""
    queue = settings.HUEY if isinstance(settings.HUEY, dict) else {}
    if "filename" in queue:
        return f"SQLite file {queue['filename']}"
    if "url" in queue:
        parts = urlsplit(str(queue["url"]))
        host = f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)
        return f"Redis {parts.scheme}://{host}{parts.path}"
    return type(settings.HUEY).__name__
