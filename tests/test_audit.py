"""Every change a person makes is in the audit log: who, when, what, before and after."""

from decimal import Decimal

import pytest
from django.http import HttpResponse

from sitekeeper.access.audit import acting_as, current_actor
from sitekeeper.access.middleware import AuditActorMiddleware
from sitekeeper.access.models import AuditEntry


@pytest.mark.django_db
def test_changes_by_a_person_are_recorded_with_before_and_after(acme, manager):
    contract = acme.contract
    with acting_as(manager):
        contract.monthly_fee = Decimal("950.00")
        contract.save()
    entry = AuditEntry.objects.get(model="contracts.Contract")
    assert entry.actor == manager
    assert entry.actor_label == "manager"
    assert entry.action == "update"
    assert entry.before == {"monthly_fee": "900.00"}
    assert entry.after == {"monthly_fee": "950.00"}
    assert entry.client == acme


@pytest.mark.django_db
def test_create_and_delete_are_recorded(acme):
    with acting_as(label="cli:apply"):
        site = acme.sites.create(url="https://new.acme.test", platform="static")
        site.delete()
    actions = list(AuditEntry.objects.filter(model="contracts.Site").values_list("action", flat=True))
    assert sorted(actions) == ["create", "delete"]
    assert all(e.actor is None and e.actor_label == "cli:apply" for e in AuditEntry.objects.all())


@pytest.mark.django_db
def test_a_save_that_changes_nothing_is_not_a_change(acme, manager):
    with acting_as(manager):
        acme.save()
    assert not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_background_changes_without_a_person_are_not_logged(acme):
    acme.name = "Acme AG"
    acme.save()
    assert not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_logged_in_request_is_attributed_to_the_user(rf, admin):
    """The middleware sets the actor for every request of a logged-in person."""
    seen = []

    def view(request):
        seen.append(current_actor())
        return HttpResponse("ok")

    request = rf.get("/")
    request.user = admin
    AuditActorMiddleware(view)(request)
    assert seen == [(admin, "admin")]
    assert current_actor() is None
