"""The audit log: every change a person makes to an audited model is recorded with before/after values.

Who is acting is carried in a context variable: the web middleware sets it for a logged-in request, CLI
commands set it with `acting_as("cli:apply")`. Changes made by background jobs run without an actor and are
not a person's change, so they are not written here (jobs keep their own records).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import decimal
import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import models
from django.db.models.signals import post_delete, post_save, pre_save

_actor: contextvars.ContextVar[tuple[Any, str] | None] = contextvars.ContextVar(
    "sitekeeper_actor", default=None
)
_AUDITED: set[type[models.Model]] = set()


def audited(model: type[models.Model]) -> type[models.Model]:
    """Class decorator: record every create/update/delete of this model made by a person."""
    _AUDITED.add(model)
    return model


@contextmanager
def acting_as(user: Any = None, label: str | None = None) -> Iterator[None]:
    """Attribute the changes made inside the block to `user` (a User) or a label such as 'cli:apply'."""
    name = label or getattr(user, "username", None) or f"cli:{getpass.getuser()}"
    token = _actor.set((user, name))
    try:
        yield
    finally:
        _actor.reset(token)


def current_actor() -> tuple[Any, str] | None:
    return _actor.get()


def _plain(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return value


def _logged_value(field: models.Field, instance: models.Model) -> Any:
    value = getattr(instance, field.attname)
    # Encrypted fields give a redacted form (a fingerprint): a changed secret shows as changed, not in clear.
    redact = getattr(field, "audit_value", None)
    return _plain(redact(value) if redact else value)


def snapshot(instance: models.Model) -> dict[str, Any]:
    """The instance's concrete field values as JSON-safe data (foreign keys as their ids)."""
    return {
        field.attname: _logged_value(field, instance)
        for field in instance._meta.concrete_fields
        if field.attname not in {"password"}  # never copy a credential into the log
    }


def _client_id(instance: models.Model) -> int | None:
    if instance._meta.label == "contracts.Client":
        return instance.pk
    return getattr(instance, "client_id", None) or getattr(
        getattr(instance, "contract", None), "client_id", None
    )


def _write(instance: models.Model, action: str, before: dict | None, after: dict | None) -> None:
    from sitekeeper.access.models import AuditEntry

    actor = _actor.get()
    if actor is None:
        return
    user, label = actor
    AuditEntry.objects.create(
        actor=user if getattr(user, "pk", None) else None,
        actor_label=label[:150],
        action=action,
        model=instance._meta.label,
        object_pk=str(instance.pk),
        object_repr=str(instance)[:200],
        before=before,
        after=after,
        client_id=_client_id(instance),
    )


def record(
    instance: models.Model, action: str, before: dict | None = None, after: dict | None = None
) -> None:
    """Write one entry for a change made outside the audited models' signals (e.g. a user created by a
    command); like them, only when a person is acting (`acting_as`)."""
    _write(instance, action, before, after)


def _pre_save(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    if sender not in _AUDITED or _actor.get() is None or instance.pk is None:
        return
    old = sender._default_manager.filter(pk=instance.pk).first()
    instance._audit_before = snapshot(old) if old is not None else None  # type: ignore[attr-defined]


def _post_save(sender: type[models.Model], instance: models.Model, created: bool, **kwargs: Any) -> None:
    if sender not in _AUDITED or _actor.get() is None:
        return
    after = snapshot(instance)
    before = None if created else getattr(instance, "_audit_before", None)
    if before is not None:
        changed = {key for key in after if before.get(key) != after[key]}
        if not changed:
            return  # a save that changed nothing is not a change
        before = {key: before.get(key) for key in sorted(changed)}
        after = {key: after[key] for key in sorted(changed)}
    _write(instance, "create" if created else "update", before, after)


def _post_delete(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    if sender in _AUDITED:
        _write(instance, "delete", snapshot(instance), None)


def connect_signals() -> None:
    pre_save.connect(_pre_save, dispatch_uid="sitekeeper_audit_pre")
    post_save.connect(_post_save, dispatch_uid="sitekeeper_audit_post")
    post_delete.connect(_post_delete, dispatch_uid="sitekeeper_audit_delete")
