"""The escalation loop: a warning at 75 % of an SLA clock's target, a breach notice at its due instant,
each sent exactly once however many workers run and whenever one of them crashes.

One pass (`escalation_pass`, run every minute by the worker, see desk.tasks):
1. one indexed query picks the tickets whose `next_check_at` has come, in batches (keyset on the id);
2. each ticket is claimed in its own transaction: on PostgreSQL with `SELECT … FOR UPDATE SKIP LOCKED`, so
   two workers never handle one ticket at the same time (the second skips it); SQLite has no row locks but
   serialises writers, and the unique constraint below decides;
3. its clocks are evaluated from history; for each reached warning/breach the Escalation row is inserted
   first (unique on ticket, clock, kind, due) inside a savepoint: an IntegrityError means another worker
   has already sent that notice, so this one skips it;
4. in the same transaction the timeline event is written and `notify()` records the deliveries under a key
   derived from the notice (so even a repeated call cannot duplicate them); the notify worker sends them
   after commit. Row, event and deliveries commit together or not at all: a crash before the commit leaves
   nothing behind, `next_check_at` is still in the past, and the next pass sends the notice — once;
5. `next_check_at` moves to the next unsent instant, or to the next business opening for held notices.

Business hours: P1 on a plan with after-hours emergency cover pages at any hour (the on-call engineer too);
every other notice waits for the next opening of the contract's calendar (the current version), and its
Escalation row is inserted only when it is actually sent. A notice found within CLOSING_GRACE after a closing
still goes out, because deadline targets fall due exactly at close of business.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from zoneinfo import ZoneInfo

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from sitekeeper.contracts.models import CalendarVersion, Contact
from sitekeeper.core.calendar import BusinessCalendar
from sitekeeper.core.clocks import ClockState
from sitekeeper.desk import clocks, oncall
from sitekeeper.desk.models import Escalation, Event, Priority, Ticket
from sitekeeper.notify import Message, Recipient, notify, recipients_for_contact

logger = logging.getLogger(__name__)

BATCH = 200
# Deadline targets (same_bd, next_bd, Nbd, Nbh) fall due exactly at a closing; a breach found a minute later
# still goes out that evening rather than the next morning.
CLOSING_GRACE = dt.timedelta(minutes=15)
WARNING = Escalation.Kind.WARNING
BREACH = Escalation.Kind.BREACH

Check = tuple[dt.datetime, str, str]  # (instant, clock, kind), as desk.clocks.pending_checks gives them


@dataclass
class Summary:
    tickets: int = 0  # claimed and evaluated
    warnings: int = 0  # warning notices sent
    breaches: int = 0  # breach notices sent
    held: int = 0  # notices waiting for the next business opening
    already_sent: int = 0  # another worker inserted the notice first
    skipped: int = 0  # locked by another worker, or no longer due when claimed
    failed: int = 0  # tickets whose check raised (rolled back; the next pass retries them)
    seconds: float = 0.0

    @property
    def sent(self) -> int:
        return self.warnings + self.breaches

    def add(self, outcome: Counter[str]) -> None:
        for name, count in outcome.items():
            setattr(self, name, getattr(self, name) + count)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def __str__(self) -> str:
        return (
            f"{self.tickets} tickets checked, {self.warnings} warnings and {self.breaches} breaches sent, "
            f"{self.held} held for business hours, {self.already_sent} already sent, {self.skipped} skipped, "
            f"{self.failed} failed in {self.seconds:.3f} s"
        )


def escalation_pass(now: dt.datetime | None = None, *, batch: int = BATCH) -> Summary:
    """Send every warning and breach notice that is due at `now` (default: the current time)."""
    now = now or timezone.now()
    started = time.perf_counter()
    summary = Summary()
    hours = _OpeningHours()
    for pk in _due_ticket_ids(now, batch):
        _check_ticket(pk, now, summary, hours)
    summary.seconds = time.perf_counter() - started
    return summary


def _due_ticket_ids(now: dt.datetime, batch: int) -> Iterator[int]:
    # Keyset on the id, not on next_check_at: a ticket whose next check stays in the past (its check failed)
    # is seen once per pass, never in a loop.
    last = 0
    while True:
        ids = list(
            Ticket.objects.filter(next_check_at__lte=now, pk__gt=last)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch]
        )
        yield from ids
        if len(ids) < batch:
            return
        last = ids[-1]


def _check_ticket(pk: int, now: dt.datetime, summary: Summary, hours: _OpeningHours) -> None:
    try:
        with transaction.atomic():
            ticket = _claim(pk, now)
            outcome = _escalate(ticket, now, hours) if ticket else Counter(skipped=1)
    except Exception:  # one broken ticket must not stop the others' notices
        summary.failed += 1
        logger.exception("escalation check of ticket %s failed; the next pass retries it", pk)
        return
    summary.add(outcome)


def _claim(pk: int, now: dt.datetime) -> Ticket | None:
    tickets = Ticket.objects.select_related(
        "contract__plan", "calendar_version", "client", "assignee"
    ).filter(pk=pk, next_check_at__lte=now)
    if connection.features.has_select_for_update_skip_locked:
        tickets = tickets.select_for_update(skip_locked=True, of=("self",))
    return tickets.first()


def _escalate(ticket: Ticket, now: dt.datetime, hours: _OpeningHours) -> Counter[str]:
    states = clocks.recompute(ticket)  # refreshes the derived columns; next_check_at is settled below
    pending = clocks.pending_checks(ticket, states) if ticket.is_open else []
    reached = [check for check in pending if check[0] <= now]
    outcome: Counter[str] = Counter(tickets=1)
    hold_until = None
    if reached and not (pages_at_any_hour(ticket) or is_open(hours.calendar(ticket), now)):
        hold_until = next_opening(hours.calendar(ticket), now)
        outcome["held"] += len(reached)
    elif reached:
        outcome += _send_all(ticket, reached, states, now)
    # Whatever was reached is now sent or was sent by someone else; anything held waits for the opening
    # (a later check before the opening would be held too: same ticket, same rule).
    later = [check[0] for check in pending if check[0] > now]
    next_check = hold_until or (min(later) if later else None)
    if next_check != ticket.next_check_at:
        Ticket.objects.filter(pk=ticket.pk).update(next_check_at=next_check)
        ticket.next_check_at = next_check
    return outcome


def pages_at_any_hour(ticket: Ticket) -> bool:
    return ticket.priority == Priority.P1 and ticket.contract.plan.after_hours_emergency


def _send_all(
    ticket: Ticket, reached: list[Check], states: dict[str, ClockState], now: dt.datetime
) -> Counter[str]:
    outcome: Counter[str] = Counter()
    breached = {clock for _, clock, kind in reached if kind == BREACH}
    for instant, clock, kind in reached:
        row = _insert(ticket, clock, kind, states[clock].due, now)
        if row is None:
            outcome["already_sent"] += 1
        elif kind == WARNING and clock in breached:
            continue  # late: the breach notice of the same clock, sent now, says it all
        else:
            _announce(ticket, row, states[clock], instant, now)
            outcome["warnings" if kind == WARNING else "breaches"] += 1
    return outcome


def _insert(
    ticket: Ticket, clock: str, kind: str, due: dt.datetime | None, now: dt.datetime
) -> Escalation | None:
    try:
        with transaction.atomic():  # a savepoint: the ticket's transaction goes on after a duplicate
            return Escalation.objects.create(ticket=ticket, clock=clock, kind=kind, due=due, at=now)
    except IntegrityError:
        return None


def _announce(
    ticket: Ticket, row: Escalation, state: ClockState, reached: dt.datetime, now: dt.datetime
) -> None:
    notified = []
    for audience, recipients, message in _audiences(ticket, row, state):
        if recipients:
            notify(recipients, message, key=f"{notice_key(row)}:{audience}")
            notified.append(audience)
        else:
            logger.warning("%s %s %s: nobody to tell (%s)", ticket.reference, row.clock, row.kind, audience)
    Event.objects.create(
        ticket=ticket,
        kind=Event.Kind.WARNING if row.kind == WARNING else Event.Kind.BREACH,
        at=now,
        actor_label="sitekeeper",
        data={
            "clock": row.clock,
            "due": row.due.isoformat(),
            "reached": reached.isoformat(),
            "notified": notified,
        },
        public=row.kind == BREACH,
    )


def notice_key(row: Escalation) -> str:
    """The notify() key of a notice: the unique constraint's own fields, stable across retries."""
    return f"escalation:{row.ticket_id}:{row.clock}:{row.kind}:{row.due.isoformat()}"


def _audiences(
    ticket: Ticket, row: Escalation, state: ClockState
) -> list[tuple[str, list[Recipient], Message]]:
    event = f"ticket.{row.kind}"
    assignee = oncall.for_user(ticket.assignee, event)
    if row.kind == WARNING:
        agency = assignee or oncall.escalation_list(event)
    else:
        agency = oncall.escalation_list(event) + assignee
    if pages_at_any_hour(ticket):
        agency += oncall.oncall(event)
    audiences = [("agency", _unique(agency), agency_message(ticket, row, state))]
    if row.kind == BREACH and ticket.priority == Priority.P1:
        audiences.append(("emergency", emergency_contacts(ticket, event), client_message(ticket, row)))
    return audiences


def emergency_contacts(ticket: Ticket, event: str) -> list[Recipient]:
    contacts = Contact.objects.filter(client_id=ticket.client_id, role=Contact.Role.EMERGENCY)
    return _unique(r for contact in contacts for r in recipients_for_contact(contact, event))


def _unique(recipients: Iterator[Recipient] | list[Recipient]) -> list[Recipient]:
    seen: dict[tuple[str, str], Recipient] = {}
    for recipient in recipients:
        seen.setdefault((recipient.kind, recipient.target.lower()), recipient)
    return list(seen.values())


def _local(ticket: Ticket, instant: dt.datetime) -> str:
    zone = ZoneInfo(ticket.calendar_version.timezone)
    return f"{instant.astimezone(zone):%Y-%m-%d %H:%M %Z} ({zone.key})"


def agency_message(ticket: Ticket, row: Escalation, state: ClockState) -> Message:
    due = _local(ticket, row.due)
    if row.kind == WARNING:
        subject = f"[{ticket.reference}] SLA warning: {row.clock} due {due}"
        status = "75 % of the target is used up and the clock is not met."
    else:
        subject = f"[{ticket.reference}] SLA breached: {row.clock} was due {due}"
        status = "The due instant has passed and the clock is not met."
    assignee = ticket.assignee.username if ticket.assignee else "nobody (unassigned)"
    text = "\n".join(
        [
            f"{ticket.reference}: {ticket.subject}",
            f"Client: {ticket.client.name} ({ticket.contract.plan.name})",
            f"Priority: {ticket.priority}",
            f"Clock: {row.clock}, target {state.target}",
            f"Due: {due}",
            f"Assignee: {assignee}",
            "",
            status,
        ]
    )
    return Message(subject=subject, text=text, event=f"ticket.{row.kind}", data=_data(ticket, row))


def client_message(ticket: Ticket, row: Escalation) -> Message:
    due = _local(ticket, row.due)
    text = (
        f"Your critical (P1) request {ticket.reference} “{ticket.subject}” was due for our {row.clock} "
        f"by {due}, and we have not met that time.\n\n"
        "Our escalation contacts have been alerted and are on it. You will hear from us on the request "
        "itself; this message goes to your emergency contacts only."
    )
    subject = f"[{ticket.reference}] Critical request: our {row.clock} time has passed"
    return Message(subject=subject, text=text, event=f"ticket.{row.kind}", data=_data(ticket, row))


def _data(ticket: Ticket, row: Escalation) -> dict[str, object]:
    return {
        "ticket": ticket.reference,
        "client": ticket.client.slug,
        "priority": ticket.priority,
        "clock": row.clock,
        "kind": row.kind,
        "due": row.due,
    }


# --- business hours -----------------------------------------------------------------------------------
class _OpeningHours:
    """The current version of each contract calendar, looked up once per pass.

    Notices follow the calendar in force now (a closure added since a ticket arrived counts), while the
    clocks themselves keep the version in force at receipt.
    """

    def __init__(self) -> None:
        self._calendars: dict[int, BusinessCalendar] = {}

    def calendar(self, ticket: Ticket) -> BusinessCalendar:
        calendar_id = ticket.contract.calendar_id
        if calendar_id not in self._calendars:
            version = CalendarVersion.objects.filter(calendar_id=calendar_id).order_by("-number").first()
            self._calendars[calendar_id] = (version or ticket.calendar_version).to_core()
        return self._calendars[calendar_id]


def is_open(cal: BusinessCalendar, now: dt.datetime) -> bool:
    """Within business hours, or less than CLOSING_GRACE after a closing."""
    today = cal.local_date(now)
    for day in (today - dt.timedelta(days=1), today):  # a grace may run past midnight
        if any(start <= now < end + CLOSING_GRACE for start, end in cal.intervals(day)):
            return True
    return False


def next_opening(cal: BusinessCalendar, now: dt.datetime) -> dt.datetime:
    """The first opening after `now` (later today, else on the next business day)."""
    today = cal.local_date(now)
    for start, _ in cal.intervals(today):
        if start > now:
            return start
    return cal.intervals(cal.next_business_day(today))[0][0]
