"""Progress of long jobs: stored on the job's row (the UI polls it) and handed to whoever listens in this
process (the CLI draws a bar) — one call for both, so no job is silent in either place."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from django.db import models

Listener = Callable[[dict[str, Any]], None]
_listeners: list[Listener] = []


@contextlib.contextmanager
def listening(listener: Listener) -> Iterator[None]:
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


def store(model: type[models.Model], pk: int, data: dict[str, Any], **also: Any) -> None:
    """Write `data` to the row's `progress` field (plus any other fields in `also`) and tell listeners."""
    model._default_manager.filter(pk=pk).update(progress=data, **also)
    for listener in list(_listeners):
        listener(data)
