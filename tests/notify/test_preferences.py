"""Per-contact and per-user preferences: which channels hear which events; e-mail when nothing is set."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from sitekeeper.access.audit import acting_as
from sitekeeper.access.crypto import decrypt
from sitekeeper.access.models import AuditEntry
from sitekeeper.notify import Recipient, recipients_for_contact, recipients_for_user
from sitekeeper.notify.models import NotificationPreference

pytestmark = pytest.mark.django_db

SLACK = "slack://T0KEN-A/T0KEN-B/T0KEN-C"
HOOK = "https://hooks.acme.test/sitekeeper/T0KEN-abcdef123456"


@pytest.fixture
def contact(acme):
    return acme.contacts.get(role="product_owner")


def test_without_preferences_a_contact_gets_email(contact):
    assert recipients_for_contact(contact, "ticket.breach") == [
        Recipient("email", "owner@acme.test", "Acme GmbH Owner")
    ]


def test_preferences_choose_channels_by_event_prefix(contact):
    NotificationPreference.objects.create(
        contact=contact, kind="apprise", target=SLACK, events=["ticket.breach"]
    )
    NotificationPreference.objects.create(contact=contact, kind="webhook", target=HOOK, secret="whsec-1")
    NotificationPreference.objects.create(contact=contact, kind="email", events=["report"])

    breach = recipients_for_contact(contact, "ticket.breach")
    assert [(r.kind, r.target, r.secret) for r in breach] == [
        ("apprise", SLACK, ""),
        ("webhook", HOOK, "whsec-1"),
    ]
    report = recipients_for_contact(contact, "report.sent")
    # A blank e-mail target is the contact's own address.
    assert [(r.kind, r.target) for r in report] == [("webhook", HOOK), ("email", "owner@acme.test")]


def test_a_person_with_preferences_but_none_for_the_event_hears_nothing(contact):
    NotificationPreference.objects.create(contact=contact, kind="email", events=["report"])
    NotificationPreference.objects.create(contact=contact, kind="webhook", target=HOOK, active=False)
    assert recipients_for_contact(contact, "ticket.breach") == []


def test_users_default_to_their_email_and_inactive_accounts_hear_nothing(engineer, member):
    assert recipients_for_user(engineer, "ticket.assigned") == [
        Recipient("email", "engineer@people.test", "engineer")
    ]
    NotificationPreference.objects.create(user=member, kind="apprise", target=SLACK)
    assert [r.kind for r in recipients_for_user(member, "ticket.assigned")] == ["apprise"]
    member.is_active = False
    member.save()
    assert recipients_for_user(member, "ticket.assigned") == []


def test_a_user_without_an_address_gets_no_default(engineer):
    engineer.email = ""
    engineer.save()
    assert recipients_for_user(engineer, "x") == []
    NotificationPreference.objects.create(user=engineer, kind="email")
    assert recipients_for_user(engineer, "x") == []


@pytest.mark.parametrize("owners", ["both", "neither"])
def test_a_preference_belongs_to_exactly_one_contact_or_user(contact, engineer, owners):
    fields = {"contact": contact, "user": engineer} if owners == "both" else {}
    with pytest.raises(IntegrityError), transaction.atomic():
        NotificationPreference.objects.create(kind="email", target="a@b.test", **fields)


@pytest.mark.parametrize(
    ("kind", "target", "field"),
    [
        ("email", "not-an-address", "target"),
        ("webhook", "", "target"),
        ("webhook", "ftp://hooks.acme.test/x", "target"),
        ("apprise", "slack-without-scheme", "target"),
    ],
)
def test_clean_checks_the_target_for_its_kind(contact, kind, target, field):
    preference = NotificationPreference(contact=contact, kind=kind, target=target)
    with pytest.raises(ValidationError) as caught:
        preference.full_clean()
    assert field in caught.value.message_dict


def test_clean_checks_events_and_owner(contact):
    with pytest.raises(ValidationError, match="event prefixes"):
        NotificationPreference(contact=contact, kind="email", events="ticket").full_clean()
    with pytest.raises(ValidationError, match="exactly one"):
        NotificationPreference(kind="email").full_clean()


def test_target_and_secret_are_encrypted_at_rest_and_labelled_for_people(contact):
    preference = NotificationPreference.objects.create(
        contact=contact, kind="webhook", target=HOOK, secret="whsec-1"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT target, secret, label FROM notify_notificationpreference WHERE id = %s", [preference.pk]
        )
        target, secret, label = cursor.fetchone()
    assert "T0KEN" not in target
    assert "whsec" not in secret
    assert (decrypt(target), decrypt(secret)) == (HOOK, "whsec-1")
    assert label == "https://hooks.acme.test/…"
    assert (
        str(preference)
        == "Acme GmbH Owner (Product owner): Webhook (signed JSON POST) https://hooks.acme.test/…"
    )


def test_changes_by_a_person_are_audited_under_the_client(contact, manager, acme):
    with acting_as(manager):
        preference = NotificationPreference.objects.create(contact=contact, kind="webhook", target=HOOK)
        preference.active = False
        preference.save()
    entries = AuditEntry.objects.filter(model="notify.NotificationPreference").order_by("id")
    assert [e.action for e in entries] == ["create", "update"]
    assert all(e.client == acme and e.actor == manager for e in entries)
    assert entries[1].after == {"active": False}


def test_the_audit_log_never_holds_a_secret_in_clear(contact, manager):
    with acting_as(manager):
        preference = NotificationPreference.objects.create(
            contact=contact, kind="webhook", target=HOOK, secret="whsec-1"
        )
        preference.secret = "whsec-2"
        preference.save()
    logged = str(list(AuditEntry.objects.values_list("before", "after")))
    assert "whsec" not in logged
    assert "T0KEN" not in logged
    assert len(AuditEntry.objects.get(action="update").after["secret"]) > 0  # the change itself is visible
