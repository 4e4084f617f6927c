"""Monitors from the console (issue 15): every kind's form, one validation path (Monitor.clean, the same
words as `apply` for the alert promise and a site URL), pause and resume (audited, paused time is not
watched), certificate days left."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest
import time_machine
from django.contrib.admin.sites import site as admin_site
from django.core.exceptions import ValidationError
from django.test import Client as HttpClient
from hypothesis import given
from hypothesis import strategies as st

from sitekeeper.access.audit import acting_as
from sitekeeper.access.models import AuditEntry
from sitekeeper.contracts.apply import ApplyError, apply_file
from sitekeeper.contracts.models import Site
from sitekeeper.core.certdays import cert_state, days_left
from sitekeeper.monitoring import monitors as changes
from sitekeeper.monitoring.forms import MonitorForm
from sitekeeper.monitoring.models import CheckResult, MaintenanceLog, Monitor, MonitorPause, Rollup
from sitekeeper.monitoring.uptime import month_figures
from tests.contracts.apply_support import EXAMPLE, write
from tests.monitoring.conftest import SINCE, outage, utc, watch

NOW = utc(2026, 4, 10, 12)
BASE = {
    "environment": "prod",
    "name": "",
    "method": "GET",
    "interval_seconds": "60",
    "timeout_seconds": "10",
    "confirmations": "2",
    "quorum": "1",
    "follow_redirects": "on",
}


def form_for(site: Site, instance: Monitor | None = None, **values: str) -> MonitorForm:
    return MonitorForm({**BASE, **values}, site=site, instance=instance)


def login(user) -> HttpClient:
    http = HttpClient()
    http.force_login(user)
    return http


# --- each kind's form ----------------------------------------------------------------------------------


def test_http_monitor_with_keyword_and_status_codes(site):
    form = form_for(
        site,
        kind="http",
        url="https://acme.test/shop/",
        keyword="Add to cart",
        expected_status="200, 301",
        max_response_ms="2000",
    )
    assert form.is_valid(), form.errors
    monitor = changes.save_monitor(form.save(commit=False), list(form.fields))
    monitor.refresh_from_db()
    assert (monitor.kind, monitor.url, monitor.keyword) == ("http", "https://acme.test/shop/", "Add to cart")
    assert monitor.expected_status == [200, 301]
    assert monitor.max_response_ms == 2000


@pytest.mark.parametrize(
    ("kind", "url"),
    [("tcp", "acme.test:3306"), ("tls", "acme.test"), ("tls", "acme.test:8443"), ("dns", "acme.test")],
)
def test_host_kinds_accept_their_targets_and_drop_http_settings(site, kind, url):
    form = form_for(site, kind=kind, url=url, keyword="ignored", expected_status="200")
    assert form.is_valid(), form.errors
    monitor = changes.save_monitor(form.save(commit=False), list(form.fields))
    assert (monitor.kind, monitor.url, monitor.keyword, monitor.expected_status) == (kind, url, "", [])


def test_tls_monitor_keeps_its_warning_days(site):
    form = form_for(site, kind="tls", url="acme.test", cert_warn_days="21, 7")
    assert form.is_valid(), form.errors
    assert form.save().cert_warn_days == [21, 7]


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"kind": "http", "url": "ftp://acme.test"}, "url", "'ftp://acme.test' is not an http(s) URL"),
        (
            {"kind": "tcp", "url": "acme.test"},
            "url",
            "'acme.test': give the port as well, e.g. acme.test:443",
        ),
        ({"kind": "tcp", "url": "acme.test:99999"}, "url", "the port must be a number from 1 to 65535"),
        ({"kind": "dns", "url": "acme.test:53"}, "url", "leave out the port"),
        ({"kind": "tls", "url": "bad host!"}, "url", "is not a host name or IP address"),
        (
            {"kind": "http", "url": "https://acme.test/", "expected_status": "200, abc"},
            "expected_status",
            "abc",
        ),
        (
            {"kind": "http", "url": "https://acme.test/", "expected_status": "700"},
            "expected_status",
            "100 to 599",
        ),
        (
            {"kind": "http", "url": "https://acme.test/", "keyword": "(unclosed", "keyword_regex": "on"},
            "keyword",
            "is not a regular expression",
        ),
        ({"kind": "http", "url": "https://acme.test/", "interval_seconds": "10"}, "interval_seconds", "30"),
        (
            {"kind": "http", "url": "https://acme.test/", "timeout_seconds": "60"},
            "timeout_seconds",
            "must be shorter than the interval",
        ),
        ({"kind": "tls", "url": "acme.test", "cert_warn_days": "30, 0"}, "cert_warn_days", "1 to 365"),
    ],
)
def test_bad_values_are_refused_naming_the_field(site, values, field, message):
    form = form_for(site, **values)
    assert not form.is_valid()
    assert message in " ".join(form.errors[field])
    labels = [label for label, _ in form.error_lines]
    assert str(form.fields[field].label) in labels
    assert not Monitor.objects.exists()


def test_the_admin_refuses_the_same_bad_target_with_the_same_words(site):
    """One validation path: Monitor.clean() refuses for the form and for the admin (and any full_clean)."""
    form = form_for(site, kind="tcp", url="acme.test")
    assert not form.is_valid()
    model_admin = admin_site._registry[Monitor]
    admin_form_class = model_admin.get_form(None)
    admin_form = admin_form_class(
        {
            **BASE,
            "site": site.pk,
            "kind": "tcp",
            "url": "acme.test",
            "expected_status": "[]",
            "headers": "{}",
            "cert_warn_days": "[]",
            "enabled": "on",
        }
    )
    assert not admin_form.is_valid()
    assert admin_form.errors["url"] == form.errors["url"]


def test_the_http_url_rule_is_the_contract_files(tmp_path, site):
    """The same bad URL: apply refuses it for a site with the words the monitor form uses for the monitor."""
    bad = "htp://acme.test"
    with pytest.raises(ApplyError) as raised:
        apply_file(write(tmp_path, EXAMPLE.replace('url: "https://acme.test"', f'url: "{bad}"', 1)))
    form = form_for(site, kind="http", url=bad)
    assert not form.is_valid()
    (form_message,) = form.errors["url"]
    assert any(error.endswith(f": {form_message}") for error in raised.value.errors), raised.value.errors


# --- the alert promise: the same refusal as apply -----------------------------------------------------------


def test_the_alert_promise_is_refused_in_apply_s_words(db, tmp_path):
    """A monitor that cannot alert within the contract's time: the console refuses it with the message
    `apply` gives for the same monitor when a contract file would shorten the alert time to that."""
    apply_file(write(tmp_path, EXAMPLE))
    site = Site.objects.get(url="https://acme.test")
    values = {
        "kind": "http",
        "name": "Home page",
        "url": "https://acme.test/",
        "interval_seconds": "60",
        "timeout_seconds": "30",
        "confirmations": "2",
    }
    # apply's path: the monitor exists and the file shortens the alert time to 2 min.
    good = form_for(site, **values)
    assert good.is_valid(), good.errors
    kept = good.save()
    contract_line = (
        'contract: {plan: business, start: 2026-01-01, monthly_fee: "900.00", currency: EUR, calendar: hq'
    )
    with pytest.raises(ApplyError) as raised:
        apply_file(write(tmp_path, EXAMPLE.replace(contract_line, contract_line + ", alert_minutes: 2")))
    (apply_error,) = raised.value.errors
    apply_message = apply_error.split("alert_minutes: ", 1)[1]
    # The console's path: the contract promises 2 min; the same monitor is refused with the same words.
    kept.delete()
    site.client.contract.__class__.objects.filter(pk=site.client.contract.pk).update(alert_minutes=2)
    site = Site.objects.get(pk=site.pk)
    form = form_for(site, **values)
    assert not form.is_valid()
    assert form.non_field_errors() == [apply_message]
    assert "60 s interval × 2 confirmations + 30 s timeout = 150 s" in apply_message


def test_a_stage_monitor_makes_no_alert_promise(site):
    site.client.contract.__class__.objects.filter(pk=site.client.contract.pk).update(alert_minutes=1)
    site = Site.objects.get(pk=site.pk)
    form = form_for(
        site, kind="http", url="https://stage.acme.test/", environment="stage", interval_seconds="600"
    )
    assert form.is_valid(), form.errors


def test_resume_is_refused_when_the_promise_changed_meanwhile(site, engineer):
    monitor = Monitor.objects.create(site=site, url=site.url, interval_seconds=120, confirmations=2)
    changes.pause(monitor, engineer)
    site.client.contract.__class__.objects.filter(pk=site.client.contract.pk).update(alert_minutes=3)
    with pytest.raises(changes.MonitorError, match="cannot alert within the contract's 3 min"):
        changes.resume(Monitor.objects.get(pk=monitor.pk), engineer)
    assert Monitor.objects.get(pk=monitor.pk).paused


# --- the views: add, refuse, edit, pause, resume (audited) --------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_add_edit_pause_resume_through_the_pages_audited(site, engineer, owner):
    http = login(engineer)
    response = http.post(
        f"/staff/monitoring/sites/{site.pk}/monitors/",
        {**BASE, "kind": "tls", "url": "acme.test", "name": "Certificate"},
    )
    assert response.status_code == 302
    monitor = Monitor.objects.get(name="Certificate")
    created = AuditEntry.objects.get(model="monitoring.Monitor", object_pk=str(monitor.pk), action="create")
    assert created.actor == engineer

    response = http.post(
        f"/staff/monitoring/monitors/{monitor.pk}/",
        {**BASE, "kind": "tls", "url": "acme.test", "name": "TLS"},
    )
    assert response.status_code == 302
    assert Monitor.objects.get(pk=monitor.pk).name == "TLS"

    http.post(f"/staff/monitoring/monitors/{monitor.pk}/pause/", {"reason": "Moving to a new host"})
    pause = MonitorPause.objects.get(monitor=monitor)
    assert (pause.paused_by, pause.start, pause.end, pause.reason) == (
        engineer,
        NOW,
        None,
        "Moving to a new host",
    )
    assert not Monitor.objects.get(pk=monitor.pk).enabled
    assert AuditEntry.objects.filter(
        model="monitoring.MonitorPause", action="create", actor=engineer
    ).exists()
    page = http.get(f"/staff/monitoring/sites/{site.pk}/").content.decode()
    assert "paused" in page
    assert "by engineer" in page
    assert "Moving to a new host" in page
    portal = login(owner).get(f"/portal/sites/{site.pk}/uptime/").content.decode()
    assert "paused" in portal
    assert "not watched" in portal
    assert "/staff/" not in portal.split("<main", 1)[1]

    http.post(f"/staff/monitoring/monitors/{monitor.pk}/resume/")
    pause.refresh_from_db()
    assert (pause.end, pause.resumed_by) == (NOW, engineer)
    resumed = Monitor.objects.get(pk=monitor.pk)
    assert resumed.enabled
    assert resumed.next_check_at == NOW
    assert AuditEntry.objects.filter(
        model="monitoring.MonitorPause", action="update", actor=engineer
    ).exists()


@time_machine.travel(NOW, tick=False)
def test_a_refused_add_shows_the_page_again_with_the_field_named(site, engineer):
    response = login(engineer).post(
        f"/staff/monitoring/sites/{site.pk}/monitors/", {**BASE, "kind": "tcp", "url": "acme.test"}
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "The monitor was not saved" in text
    assert "<b>Address to check</b>: &#x27;acme.test&#x27;: give the port as well" in text
    assert 'aria-invalid="true"' in text
    assert not Monitor.objects.exists()


def test_client_people_cannot_change_monitors(site, owner, monitor):
    http = login(owner)
    assert http.post(f"/staff/monitoring/monitors/{monitor.pk}/pause/").status_code in (302, 403)
    assert not MonitorPause.objects.exists()
    assert http.post(
        f"/staff/monitoring/sites/{site.pk}/monitors/", {**BASE, "kind": "dns", "url": "x.test"}
    ).status_code in (302, 403)
    assert Monitor.objects.count() == 1


def test_pausing_twice_is_refused(monitor, engineer):
    changes.pause(monitor, engineer)
    with pytest.raises(changes.MonitorError, match="already paused"):
        changes.pause(Monitor.objects.get(pk=monitor.pk), engineer)


def test_an_edit_leaves_what_the_probe_wrote(site, monitor):
    form = form_for(site, instance=monitor, kind="http", url=site.url, name="Renamed")
    assert form.is_valid(), form.errors
    edited = form.save(commit=False)
    Monitor.objects.filter(pk=monitor.pk).update(state="down")  # the probe, meanwhile
    changes.save_monitor(edited, list(form.fields))
    assert Monitor.objects.filter(pk=monitor.pk).values_list("name", "state").get() == ("Renamed", "down")


# --- paused time is not watched, never up -------------------------------------------------------------------


MARCH = (utc(2026, 2, 28, 23), utc(2026, 3, 31, 22))  # March in Berlin, as UTC
AFTER_MARCH = utc(2026, 4, 15)


def test_paused_time_is_not_watched_and_not_up(site, monitor):
    watch(*MARCH)
    MonitorPause.objects.create(monitor=monitor, start=utc(2026, 3, 10), end=utc(2026, 3, 20))
    figures = month_figures(site, 2026, 3, now=AFTER_MARCH)
    assert figures.watched == dt.timedelta(hours=743 - 240)
    assert figures.unknown == dt.timedelta(hours=240)
    assert figures.coverage == 100 * Fraction(503, 743)
    assert figures.monitoring_gap


def test_an_outage_while_paused_is_not_counted(site, monitor):
    watch(*MARCH)
    MonitorPause.objects.create(monitor=monitor, start=utc(2026, 3, 10), end=utc(2026, 3, 20))
    outage(monitor, utc(2026, 3, 9, 23), utc(2026, 3, 10, 1))  # one hour before the pause, one inside
    figures = month_figures(site, 2026, 3, now=AFTER_MARCH)
    assert figures.counted == dt.timedelta(hours=1)


def test_an_open_pause_runs_to_now_and_a_paused_only_monitor_is_unmeasured_then(site, monitor, engineer):
    watch(utc(2026, 4, 1), utc(2026, 4, 10, 12))
    with time_machine.travel(utc(2026, 4, 5), tick=False):
        changes.pause(monitor, engineer)
    figures = month_figures(site, 2026, 4, now=utc(2026, 4, 10, 12))
    # Watched from 1 Apr 00:00 UTC (the probe's start) to the pause on 5 Apr 00:00 UTC; nothing after it.
    assert figures.watched == dt.timedelta(days=4)
    assert figures.measured
    assert figures.unknown > dt.timedelta(days=5)


def test_a_resumed_monitor_watches_again(site, monitor, engineer):
    watch(*MARCH)
    with time_machine.travel(utc(2026, 3, 10), tick=False):
        changes.pause(monitor, engineer)
    with time_machine.travel(utc(2026, 3, 11), tick=False):
        changes.resume(Monitor.objects.get(pk=monitor.pk), engineer)
    figures = month_figures(site, 2026, 3, now=AFTER_MARCH)
    assert figures.unknown == dt.timedelta(hours=24)


# --- certificate expiry -----------------------------------------------------------------------------------


def test_cert_days_left_and_state(site):
    monitor = Monitor.objects.create(site=site, kind="tls", url="acme.test", cert_expires_at=utc(2026, 5, 1))
    assert monitor.cert_days_left(NOW) == 20
    assert monitor.cert_state(NOW) == "warning"
    assert monitor.cert_state(utc(2026, 3, 1)) == "ok"
    assert monitor.cert_state(utc(2026, 5, 2)) == "expired"
    monitor.cert_warn_days = [7]
    assert monitor.cert_state(NOW) == "ok"


@time_machine.travel(NOW, tick=False)
def test_cert_expiry_shown_on_staff_and_portal_pages(site, engineer, owner):
    Monitor.objects.create(
        site=site, kind="tls", url="acme.test", cert_expires_at=utc(2026, 4, 22, 9), cert_issuer="R11"
    )
    staff = login(engineer).get(f"/staff/monitoring/sites/{site.pk}/").content.decode()
    portal = login(owner).get(f"/portal/sites/{site.pk}/uptime/").content.decode()
    for text in (staff, portal):
        assert "valid until 22 Apr 2026" in text
        assert 'data-days-left="11"' in text
        assert "11 days left" in text
        assert 'data-cert="warning"' in text
    assert "renew before it expires" in staff
    assert "issuer R11" in staff
    assert "we renew it before then" in portal
    assert "R11" not in portal


NAIVE_BOUNDS = (dt.datetime(2020, 1, 1), dt.datetime(2030, 1, 1))  # noqa: DTZ001 (hypothesis: naive bounds)


@given(
    st.datetimes(min_value=NAIVE_BOUNDS[0], max_value=NAIVE_BOUNDS[1], timezones=st.just(dt.UTC)),
    st.integers(min_value=-10_000_000, max_value=100_000_000),
    st.lists(st.integers(min_value=1, max_value=365), max_size=4),
)
def test_days_left_and_state_agree(now, seconds, warn):
    expires = now + dt.timedelta(seconds=seconds)
    left = days_left(expires, now)
    state = cert_state(expires, now, warn)
    assert left * 86400 <= seconds < (left + 1) * 86400
    assert (state == "expired") == (seconds <= 0)
    if state == "ok":
        assert left >= max(warn or [30])


# --- the chart and the admin names ------------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_response_chart_has_labelled_time_and_value_axes(site, monitor, engineer):
    for hours in range(1, 100, 5):
        Rollup.objects.create(
            monitor=monitor,
            period="hour",
            start=NOW - dt.timedelta(hours=hours),
            checks=60,
            failures=0,
            response_ms_avg=100 + hours,
            response_ms_max=300,
        )
    CheckResult.objects.create(monitor=monitor, location="fra", at=NOW, ok=True, response_ms=180)
    text = login(engineer).get(f"/staff/monitoring/sites/{site.pk}/").content.decode()
    assert text.count('class="ytick"') == 5
    assert ">0 ms<" in text
    assert ">200 ms<" in text
    assert text.count('class="xtick"') == 7  # midnights, Berlin time, in the last 7 days
    assert ">Fri 10<" in text  # 10 Apr 00:00 CEST
    assert "style=" not in text.split('<svg class="chart"', 1)[1].split("</svg>", 1)[0]


def test_admin_model_names_read_right():
    assert str(Monitor._meta.verbose_name_plural) == "monitors"
    assert str(MonitorPause._meta.verbose_name_plural) == "monitor pauses"
    assert str(MaintenanceLog._meta.verbose_name_plural) == "maintenance log entries"
    assert str(Rollup._meta.verbose_name_plural) == "hourly and daily rollups"


def test_full_clean_is_the_one_path(site):
    with acting_as(None, "test"):
        bad = Monitor(site=site, kind="dns", url="acme.test:53", created_at=SINCE)
        with pytest.raises(ValidationError) as raised:
            bad.full_clean()
    assert "url" in raised.value.message_dict


def test_the_admin_shows_a_monitor_s_pauses_read_only(monitor, admin, engineer):
    changes.pause(monitor, engineer, "Host move")
    response = login(admin).get(f"/admin/monitoring/monitor/{monitor.pk}/change/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "Monitor pauses" in text
    assert "Host move" in text
