"""Progress of long jobs: stored on the job's row (the UI polls it) and handed to whoever listens in this
process (the CLI draws a bar) — one call for both, so no job is silent in either place."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import IO, Any, TypeVar

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


T = TypeVar("T")
BAR_WIDTH = 120


def terminal_bar(work: Callable[[], T], out: IO[str], render: Callable[[dict[str, Any]], str]) -> T:
    """Run `work`, drawing each progress report as one line on `out` (`render` turns it into text) and
    clearing it at the end; nothing is drawn when `out` is not a terminal (a pipe, a log file)."""
    interactive = out.isatty()

    def draw(data: dict[str, Any]) -> None:
        if interactive:
            out.write("\r" + render(data)[:BAR_WIDTH].ljust(BAR_WIDTH))
            out.flush()

    with listening(draw):
        result = work()
    if interactive:
        out.write("\r" + " " * BAR_WIDTH + "\r")
    return result
