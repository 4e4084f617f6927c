"""Issue 12.15: a Lighthouse regression (and a share of pages answering errors) is a site-health finding, not
a security one. It is not listed or counted on the security pages or under /api/v1/security, it cannot become
a security incident, and its notification is a `health.*` event (people who subscribed to security events
do not get it) named for what it is."""

from __future__ import annotations

import pytest
from django.test import Client as HttpClient

from sitekeeper.access.models import ApiToken
from sitekeeper.notify.models import Delivery
from sitekeeper.security import findings, incidents
from sitekeeper.security.models import SecurityIncident
from tests.http_clients import browser

pytestmark = pytest.mark.django_db

TITLE = "Lighthouse performance of / (mobile) fell 42 points: 40 against last month's median 82"


@pytest.fixture
def regression(acme):
    finding, _ = findings.record(
        acme.sites.get(), kind="performance", key="lighthouse:mobile:2026-11:https://acme.test/",
        severity="high", title=TITLE, details={"url": "https://acme.test/", "form_factor": "mobile"},
    )  # fmt: skip
    return finding


def test_security_pages_do_not_show_or_count_a_lighthouse_regression(regression, engineer, owner):
    site = regression.site
    staff = browser(engineer)
    overview = staff.get("/staff/security/").content.decode()
    assert "0 open findings" in overview
    for page in (
        staff.get(f"/staff/security/site/{site.pk}/").content.decode(),
        browser(owner).get(f"/portal/security/site/{site.pk}/").content.decode(),
    ):
        assert "Performance regression" not in page
        assert TITLE not in page
        assert 'id="findings-performance"' not in page


def test_the_security_api_does_not_list_it(regression, owner):
    api = HttpClient(headers={"authorization": f"Bearer {ApiToken.issue(owner, 'test')[1]}"})
    url = f"/api/v1/security/sites/{regression.site_id}/findings"
    assert api.get(url).json() == []
    refused = api.get(f"{url}?kind=performance")
    assert refused.status_code == 422
    assert "site health" in refused.json()["detail"]


def test_it_cannot_become_a_security_incident(regression, engineer):
    with pytest.raises(incidents.IncidentError, match="site health"):
        incidents.escalate(regression, engineer)
    assert browser(engineer).post(f"/staff/security/findings/{regression.pk}/escalate/").status_code == 404
    assert not SecurityIncident.objects.exists()


def test_a_health_finding_is_announced_as_health(acme, admin):
    site = acme.sites.get()
    errors, _ = findings.record(
        site, kind="site_errors", key="error-share", severity="high",
        title="60 % of the site's pages return errors", details={"errors": 6}, priority="P2",
    )  # fmt: skip
    (delivery,) = Delivery.objects.filter(key__startswith=f"finding:{errors.pk}:")
    assert delivery.event == "health.finding"
    assert delivery.message["subject"].startswith("[P2] Site errors finding:")
    assert errors.ticket.subject.startswith("Site errors:")
    integrity, _ = findings.record(
        site, kind="integrity", key="index.php", severity="high", title="index.php changed", details={},
        priority="P2",
    )  # fmt: skip
    assert Delivery.objects.get(key__startswith=f"finding:{integrity.pk}:").event == "security.finding"
