from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from huey.contrib.djhuey import HUEY

from tests.notify.servers import Inbox, Sink, running_sink
from tests.serving import free_port


@pytest.fixture
def sink() -> Iterator[Sink]:
    with running_sink() as server:
        yield server


@pytest.fixture
def closed_port() -> int:
    return free_port()


@pytest.fixture
def smtp_inbox(settings) -> Iterator[Inbox]:
    """A real SMTP server on loopback, and Django's SMTP backend pointed at it."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.DEFAULT_FROM_EMAIL = "desk@agency.test"
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def huey_immediate() -> Iterator[None]:
    """Tasks run inline when enqueued, as a worker would run them."""
    previous = HUEY.immediate
    HUEY.immediate = True
    try:
        yield
    finally:
        HUEY.immediate = previous
