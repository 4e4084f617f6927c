"""Mend rows written before issue 12 (item 2).

1. Requests the platform opened (channel "monitor") were filed like incomplete client requests: an
   "incomplete request" pause, a client-proposed priority, `incomplete`/`missing_fields` set, and an
   acknowledgement asking the client for steps to reproduce. The pauses (with their pause/resume/completed
   events) are removed, the priority is the agency's (confirmed, nobody proposed it), nothing is missing, and
   the acknowledgement says what was detected, as desk.services.detected_acknowledgement now writes it.
2. Resolving a request left its non-state pauses (incomplete request, …) running, so they outlived the
   resolution and the SLA report charged days of pause. Every open pause of a resolved or closed request is
   ended at the instant the standing resolution was recorded (its RESOLVED event), with a resume event.
3. The derived clock columns of every request touched are recomputed here.

Why the recomputation is done in this file rather than by `desk.clocks.recompute`: a migration must not import
the app's models (they describe the newest schema, not this migration's), and a post-migrate hook would have
to guess which rows changed. The arithmetic itself is `sitekeeper.core` — plain Python without Django or
models, the very functions desk.clocks calls — so this file only gathers each ticket's history from the
historical models and writes the columns back, as desk.clocks.recompute does.
tests/desk/test_mend_migration.py runs this migration on broken rows and checks the result against
desk.clocks.recompute.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.db import migrations

from sitekeeper.core import clocks as core_clocks
from sitekeeper.core import sla
from sitekeeper.core.calendar import BusinessCalendar
from sitekeeper.core.targets import MonthlyBatch

DETECTED = "monitor"
INCOMPLETE = "incomplete_request"
CLOSED_STATES = ("resolved", "closed")


def _reason_is(reason: str) -> dict[str, str]:
    return {"data__reason": reason}


def mend_detected(apps, touched: set[int]) -> None:
    Ticket = apps.get_model("desk", "Ticket")
    Pause = apps.get_model("desk", "Pause")
    Event = apps.get_model("desk", "Event")
    Message = apps.get_model("desk", "Message")
    detected = Ticket.objects.filter(channel=DETECTED)
    paused = set(
        Pause.objects.filter(ticket__in=detected, reason=INCOMPLETE).values_list("ticket_id", flat=True)
    )
    Pause.objects.filter(ticket__in=detected, reason=INCOMPLETE).delete()
    Event.objects.filter(ticket__in=detected, kind__in=["pause", "resume"], **_reason_is(INCOMPLETE)).delete()
    wrong = detected.exclude(incomplete=False, proposed_priority="", priority_confirmed=True)
    touched |= paused | set(wrong.values_list("pk", flat=True))
    wrong.update(incomplete=False, missing_fields=[], proposed_priority="", priority_confirmed=True)
    # The old acknowledgement ("We received your request …", perhaps asking for steps) was shown on the
    # request page only (nobody was mailed for a detected request): it now says what was detected.
    acknowledged = Message.objects.filter(
        ticket__in=detected, kind="auto", body__startswith="We received your request"
    ).select_related("ticket__site", "ticket__calendar_version")
    for message in acknowledged:
        Message.objects.filter(pk=message.pk).update(body=_acknowledgement(message.ticket))


def _acknowledgement(ticket) -> str:
    """desk.services.detected_acknowledgement, from the historical rows (same words)."""
    what = ticket.subject.rstrip(".")
    site = (ticket.site.name or ticket.site.url) if ticket.site is not None else ""
    where = f" on {site}" if site and site not in what else ""
    tz = ZoneInfo(ticket.calendar_version.timezone)
    local = ticket.received_at.astimezone(tz)
    when = f"{local:%a} {local.day} {local:%b %Y %H:%M} {local.tzname()}"
    return (
        f"sitekeeper detected: {what}{where} at {when}. "
        f"We opened request SK-{ticket.pk:05d} for it and are on it; you do not need to do anything."
    )


def end_pauses_at_resolution(apps, touched: set[int]) -> None:
    Pause = apps.get_model("desk", "Pause")
    Event = apps.get_model("desk", "Event")
    left_open = Pause.objects.filter(end__isnull=True, ticket__state__in=CLOSED_STATES).select_related(
        "ticket"
    )
    for pause in left_open:
        resolved = _standing_resolution(Event, pause.ticket_id) or pause.ticket.updated_at
        end = max(resolved, pause.start)
        pause.end = end
        pause.save(update_fields=["end"])
        Event.objects.create(
            ticket_id=pause.ticket_id,
            kind="resume",
            at=end,
            actor_label="system",
            data={"reason": pause.reason},
        )
        touched.add(pause.ticket_id)


def _resolutions(events, ticket_id: int) -> tuple[tuple[dt.datetime, dt.datetime | None], ...]:
    """desk.clocks.resolutions: (resolved, reopened or None) pairs; a resolution while one stands is not
    a new one."""
    pairs: list[tuple[dt.datetime, dt.datetime | None]] = []
    timeline = (
        events.objects.filter(ticket_id=ticket_id, kind__in=["resolved", "reopened"])
        .order_by("at", "id")
        .values_list("kind", "at")
    )
    for kind, at in timeline:
        standing = bool(pairs) and pairs[-1][1] is None
        if kind == "resolved" and not standing:
            pairs.append((at, None))
        elif kind == "reopened" and standing:
            pairs[-1] = (pairs[-1][0], at)
    return tuple(pairs)


def _standing_resolution(events, ticket_id: int) -> dt.datetime | None:
    pairs = _resolutions(events, ticket_id)
    return pairs[-1][0] if pairs and pairs[-1][1] is None else None


def _calendar(version) -> BusinessCalendar:
    """CalendarVersion.spec() → core, from the historical row."""
    holidays = None
    if version.holiday_country:
        holidays = {"country": version.holiday_country, "subdivision": version.holiday_subdivision or None}
    return BusinessCalendar.from_spec(
        timezone=version.timezone,
        hours=version.hours,
        holidays=holidays,
        closures=list(version.closures),
        business_day_minutes=version.business_day_minutes,
    )


def recompute(apps, touched: set[int]) -> None:
    """desk.clocks.recompute for the touched tickets: the derived clock columns from their history."""
    Ticket = apps.get_model("desk", "Ticket")
    Pause = apps.get_model("desk", "Pause")
    Event = apps.get_model("desk", "Event")
    Escalation = apps.get_model("desk", "Escalation")
    tickets = Ticket.objects.filter(pk__in=touched).select_related("contract__plan", "calendar_version")
    for ticket in tickets:
        pauses = [
            sla.Pause(start, end, reason)
            for start, end, reason in Pause.objects.filter(ticket_id=ticket.pk)
            .order_by("start", "id")
            .values_list("start", "end", "reason")
        ]
        history = core_clocks.History(
            received=ticket.received_at,
            pauses=pauses,
            first_response=ticket.first_response_at,
            recovered=ticket.recovered_at,
            resolutions=_resolutions(Event, ticket.pk),
            is_incident=ticket.type == "incident",
        )
        plan = ticket.contract.plan
        tables = {"response": plan.response_targets, "resolution": plan.resolution_targets,
                  "recovery": plan.recovery_targets}  # fmt: skip
        targets = {clock: tables[clock].get(ticket.priority) or None for clock in core_clocks.CLOCKS}
        batch = MonthlyBatch.parse(ticket.contract.update_batch)
        states = core_clocks.evaluate_all(targets, history, _calendar(ticket.calendar_version), batch)
        is_open = ticket.state not in CLOSED_STATES
        unmet = [s.due for s in states.values() if s.due is not None and s.met is None]
        sent = set(Escalation.objects.filter(ticket_id=ticket.pk).values_list("clock", "kind", "due"))
        checks = []
        for name, state in states.items():
            if state.due is None or state.met is not None:
                continue
            for kind, instant in (("warning", state.warn), ("breach", state.due)):
                if instant is not None and (name, kind, state.due) not in sent:
                    checks.append(instant)
        Ticket.objects.filter(pk=ticket.pk).update(
            **{f"{name}_due": s.due for name, s in states.items()},
            **{f"{name}_met_at": s.met for name, s in states.items()},
            next_due_at=min(unmet) if unmet and is_open else None,
            next_check_at=min(checks) if checks and is_open else None,
        )


def forwards(apps, schema_editor) -> None:
    touched: set[int] = set()
    mend_detected(apps, touched)
    end_pauses_at_resolution(apps, touched)
    recompute(apps, touched)


class Migration(migrations.Migration):
    dependencies = [("desk", "0002_after_hours_page")]

    # Backwards: nothing to undo that would be right to restore (the removed pauses were wrong).
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
