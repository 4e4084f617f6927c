"""Admin: deliveries are read-only; a preference's secret is never rendered, and a blank field keeps it."""

from __future__ import annotations

import pytest

from sitekeeper.notify import Message, Recipient, notify
from sitekeeper.notify.models import NotificationPreference

pytestmark = pytest.mark.django_db

HOOK = "https://hooks.acme.test/sitekeeper/T0KEN-abcdef123456"


@pytest.fixture
def preference(acme):
    contact = acme.contacts.get(role="product_owner")
    return NotificationPreference.objects.create(
        contact=contact, kind="webhook", target=HOOK, secret="whsec-1"
    )


def test_delivery_admin_lists_labels_and_is_read_only(client, admin):
    notify([Recipient("webhook", HOOK, secret="whsec-1")], Message("s", "t"), key="k")
    client.force_login(admin)
    listing = client.get("/admin/notify/delivery/")
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "https://hooks.acme.test/…" in page
    assert "T0KEN" not in page
    assert "whsec" not in page
    assert client.get("/admin/notify/delivery/add/").status_code == 403


def test_preference_secret_is_never_shown(client, admin, preference):
    client.force_login(admin)
    listing = client.get("/admin/notify/notificationpreference/")
    assert listing.status_code == 200
    assert "whsec-1" not in listing.content.decode()
    assert "T0KEN" not in listing.content.decode()
    form = client.get(f"/admin/notify/notificationpreference/{preference.pk}/change/")
    assert form.status_code == 200
    assert "whsec-1" not in form.content.decode()


def _post(client, preference, **changes):
    data = {
        "contact": preference.contact_id,
        "user": "",
        "kind": "webhook",
        "target": HOOK,
        "secret": "",
        "events": "[]",
        "active": "on",
        **changes,
    }
    return client.post(f"/admin/notify/notificationpreference/{preference.pk}/change/", data)


def test_a_blank_secret_keeps_the_stored_one_and_clear_removes_it(client, admin, preference):
    client.force_login(admin)
    assert _post(client, preference, events='["ticket"]').status_code == 302
    preference.refresh_from_db()
    assert (preference.secret, preference.events) == ("whsec-1", ["ticket"])

    assert _post(client, preference, secret="whsec-2").status_code == 302
    preference.refresh_from_db()
    assert preference.secret == "whsec-2"

    assert _post(client, preference, clear_secret="on").status_code == 302
    preference.refresh_from_db()
    assert preference.secret == ""
