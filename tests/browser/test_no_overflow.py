"""No staff or portal page of the demo runs wider than the window at 1,366 px (issue 15, acceptance).

The demo is seeded as `sitekeeper demo` seeds it; then every route the persona matrix walks
(tests/web/test_persona_matrix.py: the same walk, rules and URL building) that a browser opens with GET is
opened once — staff pages as the demo's agency admin, portal pages as the bakery's product owner — and
`document.documentElement.scrollWidth` must not exceed `window.innerWidth`. The health, security and update
pages are also measured at 390 px (a phone), where their tables become cards or scroll inside their own box.

Routes that answer something other than an HTML page with 200 (POST-only actions, downloads, JSON and
Markdown, htmx fragments) are left out; so is a route whose URL values the demo cannot fill. A route that
does not exist yet is simply not walked, and one the matrix has no rule for yet is still measured.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.test import Client as HttpClient
from django.utils import timezone

from sitekeeper.access.models import User
from sitekeeper.contracts.models import Site
from sitekeeper.desk.models import Ticket
from sitekeeper.health.models import LinkScan, PerformanceAudit
from sitekeeper.monitoring.models import Monitor
from sitekeeper.releases.models import Release
from sitekeeper.security.models import SecurityIncident
from tests.browser.conftest import ARTIFACTS
from tests.web.test_persona_matrix import POST_ROUTES, ROUTES, Kind, Rule, build_url, rule_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

BAKERY = "https://brot-und-butter.test"
STAFF_USER, PORTAL_USER = "admin", "bakery-owner"  # the demo's agency admin sees every staff page
STAFF_KINDS = {Kind.AGENCY, Kind.AUDIT, Kind.AGENCY_ADMIN}
PORTAL_KINDS = {Kind.PORTAL, Kind.PORTAL_PAGE, Kind.CLIENT_OBJECT, Kind.OWNER_PAGE}
NOT_PAGES = re.compile(r"(\.(md|json|csv|txt|zip|pdf)$|/live/$|/attachments/|/export/|/download/)")
PHONE_CHECKED = re.compile(r"^(staff|portal)/(health|security|updates)/")  # this part's own pages, at 390 px
# The widest elements that start inside the window and end past it: what a person would have to fix.
CULPRITS = """() => { const w = window.innerWidth, found = [];
  for (const e of document.querySelectorAll('body *')) {
    const r = e.getBoundingClientRect(), p = e.parentElement && e.parentElement.getBoundingClientRect();
    if (r.width > 0 && r.right > w + 1 && (!p || p.right <= w + 1)) {
      const name = typeof e.className === 'string' ? e.className.trim() : '';
      const cls = name ? '.' + name.split(/\\s+/).join('.') : '', id = e.id ? '#' + e.id : '';
      found.push(`${e.tagName.toLowerCase()}${id}${cls} (right edge ${Math.round(r.right)} px)`);
    }
  }
  return found.slice(0, 5); }"""


def demo_values() -> dict[str, object]:
    """The persona matrix's URL value names, filled from the demo's bakery (the client with the most data)."""
    site = Site.objects.get(url=BAKERY)
    ticket = Ticket.objects.filter(client=site.client).order_by("pk").first()
    scan = LinkScan.objects.filter(site=site).order_by("-created_at").first()
    audit = PerformanceAudit.objects.filter(site=site).order_by("-created_at").first()
    release = Release.objects.filter(site=site).order_by("pk").first()
    incident = SecurityIncident.objects.filter(finding__site=site).order_by("pk").first()
    monitor = Monitor.objects.filter(site=site).order_by("pk").first()
    values: dict[str, object] = {
        "site_pk": site.pk,
        "client_slug": site.client.slug,
        "sla_month": timezone.now().strftime("%Y-%m"),
        "ticket_pk": ticket and ticket.pk,
        "link_scan_pk": scan and scan.pk,
        "performance_audit_pk": audit and audit.pk,
        "release_pk": release and release.pk,
        "incident_pk": incident and incident.pk,
        "monitor_pk": monitor and monitor.pk,
        "monitoring.monitor": monitor and monitor.pk,  # the matrix's name for it (the admin's own model)
    }
    return {name: value for name, value in values.items() if value is not None}


_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")


def guessed_kwargs(route: str) -> dict[str, str]:
    """URL value names for a route whose rule names none (a broad "staff/*" rule, or no rule yet)."""
    guessed = {}
    for match in _PARAM.finditer(route):
        before = route[: match.start()].rstrip("/").rsplit("/", 1)[-1]
        name = match.group(1)
        if name in ("slug", "client_slug") and before == "clients":
            guessed[name] = "client_slug"
        elif name == "pk" and before in ("site", "sites"):
            guessed[name] = "site_pk"
        elif name == "pk" and before in ("desk", "requests"):
            guessed[name] = "ticket_pk"
        elif name == "pk" and before == "monitors":
            guessed[name] = "monitor_pk"
    return guessed


def persona_for(route: str, rule: Rule | None) -> str | None:
    """Who opens the route: staff pages the agency admin, portal and account pages the bakery's owner."""
    if rule is None:  # a page the matrix has no rule for yet: by its place in the site
        places = {"staff": STAFF_USER, "portal": PORTAL_USER}
        return places.get(route.split("/", 1)[0])
    if rule.kind in STAFF_KINDS:
        return STAFF_USER
    if rule.kind in PORTAL_KINDS or rule.kind is Kind.ACCOUNT:
        return PORTAL_USER
    return None


def pages() -> tuple[list[tuple[str, str]], list[str]]:
    """([(persona, URL)], [routes left out and why]) for every GET page of the demo."""
    values = demo_values()
    world = SimpleNamespace(objects=values)
    found: list[tuple[str, str]] = []
    left_out: list[str] = []
    for route, _name in ROUTES:
        if route in POST_ROUTES or NOT_PAGES.search(route) or route.startswith(("admin/", "api/")):
            continue
        rule = rule_for(route)
        if rule is not None and rule.status != 200:
            continue  # POST-only (405) and redirects: not a page to measure
        persona = persona_for(route, rule)
        if persona is None:
            continue  # login, public, status pages, the API, the admin
        kwargs = dict(guessed_kwargs(route))
        kwargs.update(rule.kwargs if rule is not None else {})
        missing = sorted(m.group(1) for m in _PARAM.finditer(route) if kwargs.get(m.group(1)) not in values)
        if missing:
            left_out.append(f"{route}: the demo gives no value for {missing}")
            continue
        query = rule.query if rule is not None else ""
        found.append((persona, build_url(route, Rule(route, Kind.AGENCY, kwargs, query=query), world)))
    return found, left_out


def signed_in(context, live_server, username: str) -> None:
    """The browser context carries the person's session, second factor verified (tests/conftest.py's
    force_login): the login form itself is tested in test_login_portal.py and test_twofactor.py."""
    http = HttpClient()
    http.force_login(User.objects.get(username=username))
    cookie = http.cookies[django_settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


def test_no_page_of_the_demo_overflows_sideways(settings, tmp_path, live_server, browser):
    settings.HOME = tmp_path  # the demo's restic repository and site trees
    call_command("demo", no_serve=True)
    to_open, left_out = pages()
    assert any(url.startswith("/staff/") for _p, url in to_open), to_open
    assert any(url.startswith("/portal/") for _p, url in to_open), to_open

    measured, skipped, overflowing = [], [], []
    for persona in (STAFF_USER, PORTAL_USER):
        context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB")
        page = context.new_page()
        try:
            signed_in(context, live_server, persona)
            for _persona, url in (item for item in to_open if item[0] == persona):
                # Asked first without navigating: a browser sent to an empty 405 or a download shows its own
                # error page, which would cut short the next page's navigation.
                answer = page.request.get(live_server.url + url, max_redirects=0)
                kind = answer.headers.get("content-type", "").split(";")[0]
                assert answer.status < 500, f"{url} answered {answer.status} to {persona}"  # a broken page
                if answer.status != 200 or kind != "text/html":
                    skipped.append(f"{url}: {answer.status} {kind}")
                    continue
                widths = (1366, 390) if PHONE_CHECKED.match(url.lstrip("/")) else (1366,)
                for width in widths:
                    page.set_viewport_size({"width": width, "height": 900})
                    response = page.goto(live_server.url + url)
                    assert response is not None, url
                    assert response.status == 200, (url, response.status)
                    sizes = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
                    measured.append(f"{url} @{width}")
                    if sizes[0] > sizes[1]:
                        overflowing.append(f"{url} at {width} px: {sizes[0]} > {sizes[1]}, "
                                           f"{page.evaluate(CULPRITS)}")  # fmt: skip
        finally:
            context.close()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "no-overflow.txt").write_text(
        "\n  ".join([f"measured ({len(measured)} page views):", *measured]) + "\n"
        + "\n  ".join(["not measured (not an HTML page with 200):", *skipped]) + "\n"
        + "\n  ".join(["left out (no demo value):", *left_out]) + "\n"
        + "\n  ".join(["overflowing:", *overflowing]) + "\n"
    )  # fmt: skip
    assert len(measured) >= 20, (measured, skipped)
    assert not overflowing, "pages wider than the window:\n" + "\n".join(overflowing)
