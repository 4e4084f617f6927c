"""The escalation loop: a warning at 75 % of an SLA clock's target, a breach notice at its due instant, and
the on-call page of a P1 that arrived (or was raised to P1) after hours on a plan with after-hours emergency
cover — each sent exactly once however many workers run and whenever one of them crashes.

One pass (`escalation_pass`, run every minute by the worker, see desk.tasks):
1. one indexed query (on next_check_at) picks the tickets whose next check has come, in batches;
2. a batch is claimed in one transaction: on PostgreSQL with `SELECT … FOR UPDATE SKIP LOCKED`, so two
   workers never handle one ticket at the same time (the second skips it, and a ticket whose next check has
   moved on meanwhile is not claimed at all); SQLite has no row locks but serialises writers, and the unique
   constraint below decides;
3. the batch's clocks are evaluated from history (pauses, resolutions and sent notices of the whole batch in
   one query each, read under the row locks), and each ticket's notices, timeline events and next check are
   worked out in memory; a ticket whose check raises is left alone (logged, retried by the next pass);
4. then the writes, in one savepoint for the batch: the Escalation rows first (one INSERT; unique on ticket,
   clock, kind, due), then `notify()` records the deliveries under a key derived from the notice (so even a
   repeated call cannot duplicate them; all of the batch's in one INSERT, see notify.batched; notify sends
   them only after the commit, one queued task per transaction). If anything in there fails — an
   IntegrityError means another worker sent one of these notices — the savepoint is rolled back and the
   tickets are written one by one, each in its own savepoint: a ticket whose notice another worker inserted
   is rolled back alone, and the next pass, which sees the other worker's rows, finishes it;
5. the timeline events are inserted, and next_check_at moves to the next unsent instant, or to the next
   business opening for held notices (one UPDATE for the batch).
Rows, events, deliveries and next_check_at commit together or not at all: a crash before the commit leaves
nothing behind, next_check_at is still in the past, and the next pass sends the notice — exactly once.

After-hours page (agreement 2.2): desk.services sets `after_hours_p1_at` when a request becomes P1 outside the
contract calendar's business hours on such a plan; that instant is a check like a due instant, so the next
pass (within the minute) pages on-call (SITEKEEPER_ONCALL, else the escalation list) and the assignee, with an
Escalation row (clock "emergency", kind "page", due = that instant) under the same unique constraint.

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
from dataclasses import asdict, dataclass, field

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from sitekeeper.access.models import User
from sitekeeper.contracts.models import CalendarVersion, Contact
from sitekeeper.core.calendar import BusinessCalendar
from sitekeeper.core.clocks import ClockState
from sitekeeper.desk import clocks, oncall, presenters
from sitekeeper.desk.models import Escalation, Event, Pause, PauseReason, Priority, Ticket
from sitekeeper.notify import Message, Recipient, batched, notify, recipients_for_contact

logger = logging.getLogger(__name__)

BATCH = 100  # tickets per transaction: row locks are held for a fraction of a second
# Deadline targets (same_bd, next_bd, Nbd, Nbh) fall due exactly at a closing; a breach found a minute later
# still goes out that evening rather than the next morning.
CLOSING_GRACE = dt.timedelta(minutes=15)
WARNING = Escalation.Kind.WARNING
BREACH = Escalation.Kind.BREACH
PAGE = Escalation.Kind.PAGE

Check = tuple[dt.datetime, str, str]  # (instant, clock, kind), as desk.clocks.pending_checks gives them


@dataclass
class Summary:
    tickets: int = 0  # claimed and evaluated
    warnings: int = 0  # warning notices sent
    breaches: int = 0  # breach notices sent
    pages: int = 0  # after-hours P1 pages sent
    held: int = 0  # notices waiting for the next business opening
    already_sent: int = 0  # tickets where another worker inserted a notice first (retried next pass)
    skipped: int = 0  # locked by another worker, or no longer due when claimed
    failed: int = 0  # tickets whose check raised (rolled back; the next pass retries them)
    seconds: float = 0.0

    @property
    def sent(self) -> int:
        return self.warnings + self.breaches + self.pages

    def add(self, outcome: Counter[str]) -> None:
        for name, count in outcome.items():
            setattr(self, name, getattr(self, name) + count)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def __str__(self) -> str:
        return (
            f"{self.tickets} tickets checked, {self.warnings} warnings, {self.breaches} breaches and "
            f"{self.pages} after-hours pages sent, "
            f"{self.held} held for business hours, {self.already_sent} already sent, {self.skipped} skipped, "
            f"{self.failed} failed in {self.seconds:.3f} s"
        )


def escalation_pass(now: dt.datetime | None = None, *, batch: int = BATCH) -> Summary:
    """Send every warning and breach notice that is due at `now` (default: the current time)."""
    started = time.perf_counter()
    run = _Pass(now or timezone.now())
    for ids in _due_batches(run.now, batch):
        run.summary.add(_check_batch(ids, run))
    run.summary.seconds = time.perf_counter() - started
    return run.summary


class _Pass:
    """What one pass looks up once: the contract calendars, who is on the rota, the agency people's and the
    clients' emergency contacts' notification settings (a change to those applies from the next pass)."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        self.summary = Summary()
        self._calendars: dict[int, BusinessCalendar] = {}
        self._rota: dict[tuple[str, str], list[Recipient]] = {}
        self._emergency: dict[tuple[int, str], list[Recipient]] = {}

    def calendar(self, ticket: Ticket) -> BusinessCalendar:
        """The contract calendar's current version: a closure added since receipt holds notices too (the
        clocks themselves keep the version in force at receipt)."""
        calendar_id = ticket.contract.calendar_id
        if calendar_id not in self._calendars:
            version = CalendarVersion.objects.filter(calendar_id=calendar_id).order_by("-number").first()
            self._calendars[calendar_id] = (version or ticket.calendar_version).to_core()
        return self._calendars[calendar_id]

    def rota(self, who: str, event: str) -> list[Recipient]:
        if (who, event) not in self._rota:
            lookup = oncall.escalation_list if who == "escalation" else oncall.oncall
            self._rota[who, event] = lookup(event)
        return self._rota[who, event]

    def user(self, user: User | None, event: str) -> list[Recipient]:
        if user is None:
            return []
        key = (f"user:{user.pk}", event)
        if key not in self._rota:
            self._rota[key] = oncall.for_user(user, event)
        return self._rota[key]

    def emergency(self, ticket: Ticket, event: str) -> list[Recipient]:
        key = (ticket.client_id, event)
        if key not in self._emergency:
            self._emergency[key] = emergency_contacts(ticket, event)
        return self._emergency[key]


def _due_batches(now: dt.datetime, batch: int) -> Iterator[list[int]]:
    """Ids of the tickets due for a check, oldest check first, from the next_check_at index.

    Keyset pagination on (next_check_at, id): a handled ticket's next check moves past `now` and drops out;
    one whose check failed keeps its place behind the cursor, so it is seen once per pass, never in a loop.
    """
    cursor: tuple[dt.datetime, int] | None = None
    while True:
        due = Ticket.objects.filter(next_check_at__lte=now)
        if cursor is not None:
            due = due.filter(Q(next_check_at__gt=cursor[0]) | Q(next_check_at=cursor[0], pk__gt=cursor[1]))
        rows = list(due.order_by("next_check_at", "pk").values_list("next_check_at", "pk")[:batch])
        if rows:
            yield [pk for _, pk in rows]
        if len(rows) < batch:
            return
        cursor = rows[-1]


@dataclass
class _Work:
    """What the pass does for one claimed ticket, worked out before anything is written."""

    ticket: Ticket
    outcome: Counter[str]
    next_check_at: dt.datetime | None  # the ticket's value after the pass (before: ticket.next_check_at)
    rows: list[Escalation] = field(default_factory=list)  # the notices sent (warnings folded in too)
    notices: list[tuple[list[Recipient], Message, str]] = field(default_factory=list)  # notify() calls
    events: list[Event] = field(default_factory=list)

    def failed(self, outcome: Counter[str]) -> None:
        """Nothing of this ticket is written; next_check_at stays, so the next pass looks again."""
        self.outcome, self.next_check_at = outcome, self.ticket.next_check_at
        self.rows, self.notices, self.events = [], [], []


def _check_batch(ids: list[int], run: _Pass) -> Counter[str]:
    """One transaction per batch (one commit, not one per ticket): the batch's clocks are read in three
    queries, each ticket is worked out in memory, and the writes go out together (_write); the timeline
    events and the new next_check_at values are written once for the whole batch."""
    outcome: Counter[str] = Counter()
    try:
        with transaction.atomic():
            tickets = _claim(ids, run.now)
            outcome["skipped"] += len(ids) - len(tickets)
            works = _work_out(tickets, run)
            _write(works)
            Event.objects.bulk_create([event for work in works for event in work.events])
            moved = [work.ticket for work in works if work.next_check_at != work.ticket.next_check_at]
            for work in works:
                work.ticket.next_check_at = work.next_check_at
                outcome += work.outcome
            Ticket.objects.bulk_update(moved, ["next_check_at"])
    except DatabaseError:  # the commit itself failed (SQLite: locked); the next pass retries the batch
        logger.exception("escalation batch of %d tickets failed; the next pass retries it", len(ids))
        return Counter(failed=len(ids))
    return outcome


def _claim(ids: list[int], now: dt.datetime) -> list[Ticket]:
    # Re-checking next_check_at under the lock drops tickets another worker has handled meanwhile.
    tickets = (
        Ticket.objects.select_related("contract__plan", "calendar_version", "client", "assignee")
        .filter(pk__in=ids, next_check_at__lte=now)
        .order_by("next_check_at", "pk")
    )
    if connection.features.has_select_for_update_skip_locked:
        tickets = tickets.select_for_update(skip_locked=True, of=("self",))
    return list(tickets)


def _work_out(tickets: list[Ticket], run: _Pass) -> list[_Work]:
    """Each ticket's notices, events and next check, from the batch's clocks (read under the row locks)."""
    if not tickets:
        return []
    states = clocks.evaluate_many(tickets)
    sent = clocks.sent_notices(tickets)
    works = []
    for ticket in tickets:
        try:
            works.append(_escalate(ticket, states[ticket.pk], sent[ticket.pk], run))
        except DatabaseError:  # the transaction may be broken (PostgreSQL): the next pass retries the batch
            raise
        except Exception:  # one broken ticket (a rota that does not resolve…) must not stop the others
            logger.exception("escalation check of %s failed; the next pass retries it", ticket.reference)
            works.append(_Work(ticket, Counter(failed=1), ticket.next_check_at))
    return works


def _escalate(ticket: Ticket, states: dict[str, ClockState], sent: clocks.Sent, run: _Pass) -> _Work:
    """What is due for the ticket, and when to look next.

    The other derived columns are not rewritten: every change to a ticket recomputes them, and nothing in
    them depends on the time (desk.clocks.recompute).
    """
    now = run.now
    pending = clocks.pending_checks(ticket, states, sent) if ticket.is_open else []
    reached = [check for check in pending if check[0] <= now]
    work = _Work(ticket, Counter(tickets=1), None)
    hold_until = None
    if reached and not (pages_at_any_hour(ticket) or is_open(run.calendar(ticket), now)):
        hold_until = next_opening(run.calendar(ticket), now)
        work.outcome["held"] += len(reached)
    elif reached:
        _send_all(work, reached, states, run)
        work.outcome["warnings"] += sum(event.kind == Event.Kind.WARNING for event in work.events)
        work.outcome["breaches"] += sum(event.kind == Event.Kind.BREACH for event in work.events)
        work.outcome["pages"] += sum(event.kind == Event.Kind.PAGE for event in work.events)
    # Whatever was reached is now sent; anything held waits for the opening (a later check before the
    # opening would be held too: same ticket, same rule).
    later = [check[0] for check in pending if check[0] > now]
    work.next_check_at = hold_until or (min(later) if later else None)
    return work


def pages_at_any_hour(ticket: Ticket) -> bool:
    return ticket.priority == Priority.P1 and ticket.contract.plan.after_hours_emergency


def _send_all(work: _Work, reached: list[Check], states: dict[str, ClockState], run: _Pass) -> None:
    ticket = work.ticket
    breached = {clock for _, clock, kind in reached if kind == BREACH}
    for instant, clock, kind in reached:
        if kind == PAGE:
            row = Escalation(ticket=ticket, clock=clock, kind=kind, due=instant, at=run.now)
            work.rows.append(row)
            work.events.append(_page(work, row, run))
            continue
        row = Escalation(ticket=ticket, clock=clock, kind=kind, due=states[clock].due, at=run.now)
        work.rows.append(row)
        if kind == WARNING and clock in breached:
            continue  # late: the breach notice of the same clock, sent now, says it all
        work.events.append(_announce(work, row, states[clock], instant, run))


def _page(work: _Work, row: Escalation, run: _Pass) -> Event:
    """The on-call page of a P1 after hours: on-call and the assignee, at once. The client sees on the
    request that the on-call engineer was alerted."""
    ticket = work.ticket
    event = "ticket.page"
    recipients = _unique(run.rota("oncall", event) + run.user(ticket.assignee, event))
    if recipients:
        work.notices.append((recipients, page_message(ticket, row), f"{notice_key(row)}:oncall"))
    else:
        logger.warning("%s after-hours P1: nobody on call to page", ticket.reference)
    return Event(
        ticket=ticket,
        kind=Event.Kind.PAGE,
        at=run.now,
        actor_label="sitekeeper",
        data={"since": row.due.isoformat(), "notified": ["oncall"] if recipients else []},
        public=bool(recipients),
    )


def _announce(work: _Work, row: Escalation, state: ClockState, reached: dt.datetime, run: _Pass) -> Event:
    """Add the notify() calls of a notice to the work; return the timeline event to write."""
    ticket = work.ticket
    notified = []
    for audience, recipients, message in _audiences(ticket, row, state, run):
        if recipients:
            work.notices.append((recipients, message, f"{notice_key(row)}:{audience}"))
            notified.append(audience)
        else:
            logger.warning("%s %s %s: nobody to tell (%s)", ticket.reference, row.clock, row.kind, audience)
    return Event(
        ticket=ticket,
        kind=Event.Kind.WARNING if row.kind == WARNING else Event.Kind.BREACH,
        at=run.now,
        actor_label="sitekeeper",
        data={
            "clock": row.clock,
            "due": row.due.isoformat(),
            "reached": reached.isoformat(),
            "notified": notified,
        },
        public=row.kind == BREACH,
    )


def _write(works: list[_Work]) -> None:
    """Insert the batch's Escalation rows (one INSERT), then record the deliveries (notify sends them after
    the commit), all in one savepoint. If that fails — another worker inserted one of these notices first
    (possible without row locks, i.e. on SQLite), or a notify() call failed — the savepoint is rolled back
    and the tickets are written one by one, each in its own savepoint, so one broken ticket rolls back alone.
    """
    sending = [work for work in works if work.rows]
    if not sending:
        return
    try:
        with transaction.atomic():
            _insert_and_notify(sending)
    except Exception as exc:  # noqa: BLE001 — each ticket is retried alone just below
        logger.info("escalation: writing %d tickets at once failed (%r); one by one", len(sending), exc)
    else:
        return
    for work in sending:
        for row in work.rows:  # ids handed out by the insert just rolled back
            row.pk, row._state.adding = None, True
        try:
            with transaction.atomic():
                _insert_and_notify([work])
        except IntegrityError:
            # Another worker inserted one of these notices first: all of this ticket's work is undone, and
            # the next pass sees what the other worker sent.
            work.failed(Counter(already_sent=1))
        except Exception:  # one broken ticket must not stop the others' notices
            logger.exception("escalation check of %s failed; the next pass retries it", work.ticket.reference)
            work.failed(Counter(failed=1))


def _insert_and_notify(works: list[_Work]) -> None:
    # Inserted first: the unique constraint makes a second worker's insert fail, before anything is sent.
    Escalation.objects.bulk_create([row for work in works for row in work.rows])
    with batched():  # the deliveries of all these notices in one INSERT (and one SELECT) when the block ends
        for work in works:
            for recipients, message, key in work.notices:
                notify(recipients, message, key=key)


def notice_key(row: Escalation) -> str:
    """The notify() key of a notice: the unique constraint's own fields, stable across retries."""
    return f"escalation:{row.ticket_id}:{row.clock}:{row.kind}:{row.due.isoformat()}"


def _audiences(
    ticket: Ticket, row: Escalation, state: ClockState, run: _Pass
) -> list[tuple[str, list[Recipient], Message]]:
    event = f"ticket.{row.kind}"
    assignee = run.user(ticket.assignee, event)
    if row.kind == WARNING:
        agency = assignee or run.rota("escalation", event)
    else:
        agency = run.rota("escalation", event) + assignee
    if pages_at_any_hour(ticket):
        agency = agency + run.rota("oncall", event)
    audiences = [("agency", _unique(agency), agency_message(ticket, row, state))]
    if row.kind == BREACH and ticket.priority == Priority.P1:
        audiences.append(("emergency", run.emergency(ticket, event), client_message(ticket, row)))
    return audiences


def emergency_contacts(ticket: Ticket, event: str) -> list[Recipient]:
    contacts = Contact.objects.filter(client_id=ticket.client_id, role=Contact.Role.EMERGENCY)
    return _unique(r for contact in contacts for r in recipients_for_contact(contact, event))


def _unique(recipients: Iterator[Recipient] | list[Recipient]) -> list[Recipient]:
    seen: dict[tuple[str, str], Recipient] = {}
    for recipient in recipients:
        seen.setdefault((recipient.kind, recipient.target.lower()), recipient)
    return list(seen.values())


def agency_message(ticket: Ticket, row: Escalation, state: ClockState) -> Message:
    due = presenters.at(ticket, row.due)
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
    due = presenters.at(ticket, row.due)
    text = (
        f"Your critical (P1) request {ticket.reference} “{ticket.subject}” was due for our {row.clock} "
        f"by {due}, and we have not met that time.\n\n"
        "Our escalation contacts have been alerted and are on it. You will hear from us on the request "
        "itself; this message goes to your emergency contacts only."
    )
    subject = f"[{ticket.reference}] Critical request: our {row.clock} time has passed"
    return Message(subject=subject, text=text, event=f"ticket.{row.kind}", data=_data(ticket, row))


def page_message(ticket: Ticket, row: Escalation) -> Message:
    """The on-call page: what, whose, since when (in the contract's zone) — enough to act from a phone."""
    since = presenters.at(ticket, row.due)
    site = f"Site: {ticket.site}" if ticket.site_id else "Site: —"
    text = "\n".join(
        [
            f"{ticket.reference}: {ticket.subject}",
            f"Client: {ticket.client.name} ({ticket.contract.plan.name}, after-hours emergency cover)",
            site,
            f"P1 since: {since}",
            f"Assignee: {ticket.assignee.username if ticket.assignee else 'nobody (unassigned)'}",
            "",
            (
                "A P1 request arrived outside business hours: the agreement (2.2) promises after-hours "
                "emergency escalation. Please take it now."
            ),
        ]
    )
    subject = f"[{ticket.reference}] P1 after hours: {ticket.subject}"[:200]
    return Message(subject=subject, text=text, event="ticket.page", data=_data(ticket, row))


def decision_message(ticket: Ticket, pause: Pause, note: str) -> Message:
    """To the client's emergency contacts (3.2d): the agency needs their decision on a P1/P2 request."""
    what = "approval" if pause.reason == PauseReason.WAITING_APPROVAL else "information"
    level = "critical (P1)" if ticket.priority == Priority.P1 else "high-priority (P2)"
    where = f" on {ticket.site}" if ticket.site_id else ""
    request = f"{level} request {ticket.reference} “{ticket.subject}”{where}"
    lines = [f"We need your {what} to go on with the {request}."]
    if note:
        lines += ["", f"What we need: {note}"]
    lines += [
        "",
        (
            "Please answer on the request in the portal, or reply to the request's e-mail. You receive this "
            "because you are the emergency contact for urgent requests; the service-level clocks wait for "
            "your answer."
        ),
    ]
    return Message(
        subject=f"[{ticket.reference}] Your decision is needed: {ticket.subject}"[:200],
        text="\n".join(lines),
        event="ticket.decision",
        data={
            "ticket": ticket.reference,
            "client": ticket.client.slug,
            "priority": ticket.priority,
            "waiting_for": what,
        },
    )


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
def in_business_hours(cal: BusinessCalendar, instant: dt.datetime) -> bool:
    """Within one of the day's business-hour intervals (no grace): what "outside business hours" of the
    after-hours emergency cover is measured against."""
    return any(start <= instant < end for start, end in cal.intervals(cal.local_date(instant)))


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
