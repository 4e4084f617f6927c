"""Every route of the URL conf, requested as every persona, against an explicit table of access rules.

The routes are found by walking Django's resolver (web pages, the ninja API, Django admin), so a route added
anywhere is picked up here; a route that no rule covers fails `test_every_route_has_a_rule`, and so does a
rule that no longer matches any route. Each route's URL is filled from the acme fixture's objects, and then:

- anonymous: web pages redirect to the login page, the API answers 401;
- outsider (globex's owner): never sees acme's data — 404 or 403, and "acme" never in the body;
- owner and member (acme): 200 on client-scoped routes for their own client, 403 on agency-only pages;
- agency staff: the console; Django admin only for the agency admin.
"""

from __future__ import annotations

import enum
import fnmatch
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from django.test import Client as HttpClient
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from tests.web.world import PERSONAS, World


class Kind(enum.Enum):
    LOGIN = "the login page: anonymous 200, signed-in people are sent home"
    PUBLIC = "for everyone, signed in or not (password reset): the same answer whoever asks"
    LOGOUT = "POST only; everyone ends up at the login page"
    HOME = "signed-in people are sent to their console or portal"
    AGENCY = "staff console: agency roles only"
    AUDIT = "agency admin and account managers only (audit log, business page, editing clients and contracts)"
    AGENCY_ADMIN = "agency admin only (lockouts)"
    PORTAL = "portal home: each client person sees their own client; agency people go to /staff/"
    PORTAL_PAGE = "a portal page of the person's own client (lists, forms); agency people go to the console"
    CLIENT_OBJECT = "one of acme's objects in the portal: acme's people only; agency people go to the console"
    ACCOUNT = "any signed-in person, about themselves"
    OWNER_PAGE = "the client owner's settings for their own client (the second-factor rule): owners only"
    OWN_TOKEN = "POST, the owner's own API token: only the owner"
    ADMIN = "Django admin: the agency admin only"
    STATUS = "public status page of a client that enabled it: anyone, signed in or not (disabled: 404)"
    METRICS = "Prometheus /metrics: the bearer token or an agency login; client people 403, anonymous 401"
    API_PUBLIC = "API without data (OpenAPI, docs): no token needed"
    API_ANY = "API, not client data: any valid token"
    API_CLIENT_LIST = "API list: a client person's token sees only their own client's objects"
    API_CLIENT_OBJECT = "API object of acme: acme's people and agency staff; another client gets 404"
    API_CLIENT_CHILDREN = "API list under one of acme's objects: acme's people and staff; another client 404"


@dataclass(frozen=True, eq=False)  # rules compare by identity: two lines are two rules
class Rule:
    route: str  # fnmatch pattern over the full route string, e.g. "staff/*"
    kind: Kind
    kwargs: dict[str, str] = field(default_factory=dict)  # URL kwarg → name in World.objects
    query: str = ""
    status: int = 200  # what the entitled personas get
    why: str = ""


ADMIN_OBJECT = "<the admin page's own model>"

# First match wins. Broad patterns come last so that a new page under staff/ or admin/ is at least checked
# as agency-only / admin-only; anything else new must get its own line here.
RULES: tuple[Rule, ...] = (
    Rule("login/", Kind.LOGIN),
    Rule("favicon.ico", Kind.PUBLIC, status=301, why="browsers ask for /favicon.ico: a redirect to the SVG"),
    Rule("logout/", Kind.LOGOUT),
    Rule("", Kind.HOME),
    Rule("staff/audit/", Kind.AUDIT),
    Rule("staff/business/", Kind.AUDIT, why="revenue and the book: off the engineers' home"),
    # Console edit pages (views_console.py): the commercial side for admin and account managers; a site's
    # addresses for every agency role.
    Rule("staff/clients/<slug:slug>/edit/", Kind.AUDIT, {"slug": "client_slug"}),
    Rule("staff/clients/<slug:slug>/contract/edit/", Kind.AUDIT, {"slug": "client_slug"}),
    Rule("staff/sites/<int:pk>/edit/", Kind.AGENCY, {"pk": "site_pk"}),
    # People and invitations (views_people.py): the agency admin manages everyone; a client's product owner
    # their own organisation's people (members and agency people 403: agency people have /staff/people/).
    Rule("staff/people/", Kind.AGENCY_ADMIN),
    Rule("staff/people/invite/", Kind.AGENCY_ADMIN, status=405, why="inviting is a POST"),
    Rule("staff/people/<int:pk>/*/", Kind.AGENCY_ADMIN, {"pk": "person_pk"}, status=405, why="POSTs"),
    Rule(
        "staff/people/invitations/<int:pk>/*/",
        Kind.AGENCY_ADMIN,
        {"pk": "access.invitation"},
        status=405,
        why="re-sending and revoking are POSTs",
    ),
    Rule("portal/people/", Kind.OWNER_PAGE),
    Rule("portal/people/invite/", Kind.OWNER_PAGE, status=405, why="inviting is a POST"),
    Rule("portal/people/<int:pk>/*/", Kind.OWNER_PAGE, {"pk": "person_pk"}, status=405, why="POSTs"),
    Rule(
        "portal/people/invitations/<int:pk>/*/",
        Kind.OWNER_PAGE,
        {"pk": "access.invitation"},
        status=405,
        why="re-sending and revoking are POSTs",
    ),
    # The invited person's link: no login (the link is the proof); a made-up token says it no longer works.
    Rule(
        "invite/<str:token>/",
        Kind.PUBLIC,
        {"token": "confirm_token"},
        status=410,
        why="a link nobody was sent: 'This invitation link no longer works'",
    ),
    Rule("staff/lockouts/", Kind.AGENCY_ADMIN),
    Rule("staff/lockouts/unlock/", Kind.AGENCY_ADMIN, status=405, why="unlocking is a POST"),
    # Password reset: one answer for everyone, so nobody learns which addresses have an account.
    Rule("account/password-reset/", Kind.PUBLIC),
    Rule("account/password-reset/sent/", Kind.PUBLIC),
    Rule("account/password-reset/done/", Kind.PUBLIC),
    Rule(
        "account/password-reset/<uidb64>/<token>/",
        Kind.PUBLIC,
        {"uidb64": "reset_uid", "token": "reset_token"},
        why="a made-up link says it no longer works",
    ),
    # Service desk console. Actions are POST only: staff get 405 for a GET, everyone else never gets that far.
    Rule("staff/desk/", Kind.AGENCY),
    Rule("staff/desk/assign/", Kind.AGENCY, status=405, why="bulk assign is a POST"),
    Rule("staff/desk/<int:pk>/", Kind.AGENCY, {"pk": "ticket_pk"}),
    Rule(
        "staff/desk/sla/<slug:client_slug>/<yyyy_mm:month>/",
        Kind.AGENCY,
        {"client_slug": "client_slug", "month": "sla_month"},
    ),
    Rule(
        "staff/desk/<int:pk>/attachments/<int:attachment_id>/",
        Kind.AGENCY,
        {"pk": "ticket_pk", "attachment_id": "attachment_id"},
    ),
    Rule(
        "staff/desk/<int:pk>/*/", Kind.AGENCY, {"pk": "ticket_pk"}, status=405, why="ticket actions are POSTs"
    ),
    # Monitoring console: uptime per site, exclusion tags and announcements (POSTs) — agency only.
    Rule("staff/monitoring/", Kind.AGENCY),
    Rule("staff/monitoring/sites/<int:pk>/", Kind.AGENCY, {"pk": "site_pk"}),
    Rule(
        "staff/monitoring/sites/<int:pk>/monitors/",
        Kind.AGENCY,
        {"pk": "site_pk"},
        status=405,
        why="adding a monitor is a POST (the form is on the site's uptime page)",
    ),
    Rule("staff/monitoring/monitors/<int:pk>/", Kind.AGENCY, {"pk": "monitoring.monitor"}),
    Rule(
        "staff/monitoring/monitors/<int:pk>/*/",
        Kind.AGENCY,
        {"pk": "monitoring.monitor"},
        status=405,
        why="pausing and resuming a monitor are POSTs",
    ),
    Rule(
        "staff/monitoring/sites/<int:pk>/announce/",
        Kind.AGENCY,
        {"pk": "site_pk"},
        status=405,
        why="announcing is a POST",
    ),
    Rule(
        "staff/monitoring/outages/<int:pk>/tag/",
        Kind.AGENCY,
        {"pk": "outage_pk"},
        status=405,
        why="tagging an outage is a POST",
    ),
    # Backups console: catalogue, live status, restore form, runbook — agency only; actions are POSTs.
    Rule("staff/backups/site/<int:pk>/backup/", Kind.AGENCY, {"pk": "site_pk"}, status=405, why="a POST"),
    Rule(
        "staff/backups/site/<int:pk>/restore-test/", Kind.AGENCY, {"pk": "site_pk"}, status=405, why="a POST"
    ),
    Rule(
        "staff/backups/site/<int:pk>/runbook/reviewed/",
        Kind.AGENCY,
        {"pk": "site_pk"},
        status=405,
        why="a POST",
    ),
    Rule(
        "staff/backups/exports/<int:pk>/",
        Kind.AGENCY,
        {"pk": "export_pk"},
        status=404,
        why="the world's download is still queued: a download that is not ready is a 404",
    ),
    Rule("staff/backups/site/<int:pk>/*", Kind.AGENCY, {"pk": "site_pk"}),
    # Security console: findings per site, incidents; actions are POSTs — agency only.
    Rule("staff/security/site/<int:pk>/", Kind.AGENCY, {"pk": "site_pk"}),
    Rule(
        "staff/security/findings/<int:pk>/*/",
        Kind.AGENCY,
        {"pk": "finding_pk"},
        status=405,
        why="finding actions (accept, approve, quarantine, escalate) are POSTs",
    ),
    Rule("staff/security/incidents/<int:pk>/", Kind.AGENCY, {"pk": "incident_pk"}),
    Rule("staff/security/incidents/<int:pk>/report.md", Kind.AGENCY, {"pk": "incident_pk"}),
    Rule(
        "staff/security/incidents/<int:pk>/*/",
        Kind.AGENCY,
        {"pk": "incident_pk"},
        status=405,
        why="checklist, notification and report changes are POSTs",
    ),
    # Site health: performance (per site, one audit, a report), key pages; actions are POSTs — agency only.
    Rule(
        "staff/health/site/<int:pk>/performance/run/",
        Kind.AGENCY,
        {"pk": "site_pk"},
        status=405,
        why="starting an audit is a POST",
    ),
    Rule(
        "staff/health/site/<int:pk>/links/scan/",
        Kind.AGENCY,
        {"pk": "site_pk"},
        status=405,
        why="starting a scan is a POST",
    ),
    Rule("staff/health/site/<int:pk>/*", Kind.AGENCY, {"pk": "site_pk"}),
    Rule("staff/health/links/<int:pk>/*", Kind.AGENCY, {"pk": "link_scan_pk"}),
    Rule("staff/health/performance/<int:pk>/*", Kind.AGENCY, {"pk": "performance_audit_pk"}),
    Rule("staff/health/lighthouse/<int:pk>/report.json", Kind.AGENCY, {"pk": "lighthouse_result_pk"}),
    # Staged updates: overview, site, release with its POST actions, packages — agency only.
    Rule(
        "staff/updates/site/<int:pk>/plan/",
        Kind.AGENCY,
        {"pk": "site_pk"},
        status=405,
        why="planning a release is a POST",
    ),
    Rule("staff/updates/site/<int:pk>/", Kind.AGENCY, {"pk": "site_pk"}),
    Rule("staff/updates/releases/<int:pk>/", Kind.AGENCY, {"pk": "release_pk"}),
    Rule("staff/updates/releases/<int:pk>/live/", Kind.AGENCY, {"pk": "release_pk"}),
    Rule(
        "staff/updates/releases/<int:pk>/*/",
        Kind.AGENCY,
        {"pk": "release_pk"},
        status=405,
        why="approve, cancel and advance are POSTs",
    ),
    Rule("staff/updates/packages/fetch/", Kind.AGENCY, status=405, why="fetching a package is a POST"),
    Rule("staff/clients/<slug:slug>/", Kind.AGENCY, {"slug": "client_slug"}),
    Rule("staff/sites/<int:pk>/", Kind.AGENCY, {"pk": "site_pk"}),
    Rule("staff/*", Kind.AGENCY),
    Rule("portal/", Kind.PORTAL),
    # Portal area pages: the client's sites with the area's state in one line; a single site goes straight
    # to its page (health always lists: links and speed are two pages per site).
    Rule("portal/uptime/", Kind.PORTAL_PAGE, status=302, why="one site: straight to its uptime page"),
    Rule("portal/security/", Kind.PORTAL_PAGE, status=302, why="one site: straight to its security page"),
    Rule("portal/updates/", Kind.PORTAL_PAGE, status=302, why="one site: straight to its updates page"),
    Rule("portal/health/", Kind.PORTAL_PAGE),
    Rule("portal/sites/<int:pk>/", Kind.CLIENT_OBJECT, {"pk": "site_pk"}),
    Rule("portal/sites/<int:pk>/uptime/", Kind.CLIENT_OBJECT, {"pk": "site_pk"}),
    # Backups portal: the own client's catalogue and runbook; the download request is a POST (owners only).
    Rule("portal/backups/", Kind.PORTAL_PAGE),
    Rule(
        "portal/backups/site/<int:pk>/export/",
        Kind.CLIENT_OBJECT,
        {"pk": "site_pk"},
        status=405,
        why="requesting a download is a POST; the site is looked up first, so the outsider gets a 404",
    ),
    Rule(
        "portal/backups/exports/<int:pk>/",
        Kind.CLIENT_OBJECT,
        {"pk": "export_pk"},
        status=404,
        why="the world's download is still queued: a download that is not ready is a 404",
    ),
    Rule("portal/backups/site/<int:pk>/*", Kind.CLIENT_OBJECT, {"pk": "site_pk"}),
    # Security portal: the own client's site summary and published incident reports (read-only).
    Rule("portal/security/site/<int:pk>/", Kind.CLIENT_OBJECT, {"pk": "site_pk"}),
    Rule("portal/security/incidents/<int:pk>/*", Kind.CLIENT_OBJECT, {"pk": "incident_pk"}),
    # Site health and release records in the portal: the own client's sites (read-only).
    Rule("portal/health/site/<int:pk>/*", Kind.CLIENT_OBJECT, {"pk": "site_pk"}),
    Rule("portal/health/links/<int:pk>/", Kind.CLIENT_OBJECT, {"pk": "link_scan_pk"}),
    Rule("portal/updates/site/<int:pk>/", Kind.CLIENT_OBJECT, {"pk": "site_pk"}),
    Rule("portal/updates/releases/<int:pk>/", Kind.CLIENT_OBJECT, {"pk": "release_pk"}),
    # Public: an enabled status page (globex's; acme's is disabled: tests/monitoring/test_status_metrics.py).
    Rule("status/<slug:slug>/", Kind.STATUS, {"slug": "status_slug"}),
    Rule("metrics", Kind.METRICS),
    # Service desk portal: the person's own client's requests; another client's request is a 404.
    Rule("portal/requests/", Kind.PORTAL_PAGE),
    Rule("portal/requests/new/", Kind.PORTAL_PAGE),
    Rule("portal/requests/sla/<yyyy_mm:month>/", Kind.PORTAL_PAGE, {"month": "sla_month"}),
    Rule("portal/requests/<int:pk>/", Kind.CLIENT_OBJECT, {"pk": "ticket_pk"}),
    Rule(
        "portal/requests/<int:pk>/attachments/<int:attachment_id>/",
        Kind.CLIENT_OBJECT,
        {"pk": "ticket_pk", "attachment_id": "attachment_id"},
    ),
    Rule(
        "portal/requests/<int:pk>/*/",
        Kind.CLIENT_OBJECT,
        {"pk": "ticket_pk"},
        status=405,
        why="request actions are POSTs; the ticket is looked up first, so the outsider still gets a 404",
    ),
    Rule("account/tokens/", Kind.ACCOUNT),
    # The second factor: each person's own; the organisation's rule is the client owner's to set.
    Rule("account/two-factor/", Kind.ACCOUNT),
    Rule("account/two-factor/enrol/", Kind.ACCOUNT),
    Rule("account/two-factor/verify/", Kind.ACCOUNT, status=302, why="a verified session is sent on home"),
    Rule("account/two-factor/recovery-codes/", Kind.ACCOUNT, status=405, why="new codes are a POST"),
    Rule("account/two-factor/remove/", Kind.ACCOUNT, status=405, why="removing is a POST"),
    Rule("account/two-factor/organisation/", Kind.OWNER_PAGE),
    # An unverified sender's confirmation link: no login (the link is the proof); a made-up token is a 404.
    Rule(
        "portal/requests/confirm/<str:token>/",
        Kind.PUBLIC,
        {"token": "confirm_token"},
        status=404,
        why="a link nobody was sent",
    ),
    Rule("account/tokens/<int:pk>/revoke/", Kind.OWN_TOKEN, {"pk": "owner_token_pk"}),
    # Django admin. Statuses other than 200 are the admin's own answers, each for a stated reason.
    Rule(
        "admin/r/<path:content_type_id>/<path:object_id>/",
        Kind.ADMIN,
        {"content_type_id": "site_content_type", "object_id": "site_pk"},
        status=404,
        why="view-on-site: our models define no get_absolute_url",
    ),
    Rule(
        "admin/(?P<url>.*)$", Kind.ADMIN, {"url": "missing_admin_page"}, status=404, why="admin's catch-all"
    ),
    Rule("admin/^(?P<app_label>*)/$", Kind.ADMIN, {"app_label": "admin_app_label"}),
    Rule(
        "admin/autocomplete/",
        Kind.ADMIN,
        query="app_label=access&model_name=user&field_name=client&term=Ac",
    ),
    Rule("admin/access/user/<id>/password/", Kind.ADMIN, {"id": "owner_pk"}),
    Rule(
        "admin/otp_totp/totpdevice/<int:pk>/*/",
        Kind.ADMIN,
        {"pk": "otp_totp.totpdevice"},
        status=403,
        why="an authenticator's secret and QR code are never shown, not even to the admin",
    ),
    *(
        Rule(f"admin/axes/{model}/add/", Kind.ADMIN, status=403, why="login records are written by axes only")
        for model in ("accessattempt", "accesslog", "accessfailurelog")
    ),
    Rule(
        "admin/axes/*/<path:object_id>/delete/",
        Kind.ADMIN,
        {"object_id": ADMIN_OBJECT},
        status=403,
        why="login history is evidence; unlocking is an audited admin action, not a delete",
    ),
    Rule(
        "admin/access/auditentry/add/", Kind.ADMIN, status=403, why="the audit log is never written by hand"
    ),
    Rule(
        "admin/access/auditentry/<path:object_id>/delete/",
        Kind.ADMIN,
        {"object_id": ADMIN_OBJECT},
        status=403,
        why="the audit log is never deleted",
    ),
    Rule(
        "admin/access/invitation/add/", Kind.ADMIN, status=403, why="invitations are made at /staff/people/"
    ),
    Rule(
        "admin/access/invitation/<path:object_id>/delete/",
        Kind.ADMIN,
        {"object_id": ADMIN_OBJECT},
        status=403,
        why="an invitation is revoked (audited) at /staff/people/, never deleted",
    ),
    Rule("admin/access/apitoken/add/", Kind.ADMIN, status=403, why="a token is issued by its owner"),
    Rule("admin/monitoring/outage/add/", Kind.ADMIN, status=403, why="outages are confirmed by probes"),
    Rule("admin/desk/*/add/", Kind.ADMIN, status=403, why="desk rows are written by desk.services only"),
    Rule("admin/notify/delivery/add/", Kind.ADMIN, status=403, why="deliveries are written by notify() only"),
    *(
        Rule(f"admin/backups/{model}/add/", Kind.ADMIN, status=403, why="job records are written by the jobs")
        for model in ("backuprun", "snapshot", "restoretest")
    ),
    Rule(
        "admin/backups/snapshot/<path:object_id>/delete/",
        Kind.ADMIN,
        {"object_id": ADMIN_OBJECT},
        status=403,
        why="retention and termination let snapshots go, with evidence",
    ),
    Rule(
        "admin/notify/delivery/<path:object_id>/delete/",
        Kind.ADMIN,
        {"object_id": ADMIN_OBJECT},
        status=403,
        why="a delivery records what was sent; its key keeps notify() idempotent",
    ),
    Rule(
        "admin/desk/*/<path:object_id>/delete/",
        Kind.ADMIN,
        {"object_id": ADMIN_OBJECT},
        status=403,
        why="a request's history is SLA evidence: never deleted",
    ),
    Rule("admin/*/<path:object_id>/*", Kind.ADMIN, {"object_id": ADMIN_OBJECT}),
    Rule("admin/logout/", Kind.ADMIN, why="POST: the admin sees the logged-out page"),
    Rule("admin/*", Kind.ADMIN),
    # REST API.
    Rule("api/v1/openapi.json", Kind.API_PUBLIC),
    Rule(
        "api/v1/<path:rest>",
        Kind.API_PUBLIC,
        {"rest": "missing_api_path"},
        status=404,
        why="a path under the API that no route has: a JSON 404, with or without a token",
    ),
    Rule("api/v1/docs", Kind.API_PUBLIC),
    Rule("api/v1/", Kind.API_PUBLIC, status=404, why="ninja's root view only names the docs URL"),
    Rule("api/v1/plans", Kind.API_ANY),
    Rule("api/v1/plans/<slug>", Kind.API_ANY, {"slug": "plan_slug"}),
    Rule("api/v1/clients", Kind.API_CLIENT_LIST),
    Rule("api/v1/clients/<slug>", Kind.API_CLIENT_OBJECT, {"slug": "client_slug"}),
    Rule("api/v1/contracts", Kind.API_CLIENT_LIST),
    Rule("api/v1/contracts/<int:contract_id>", Kind.API_CLIENT_OBJECT, {"contract_id": "contract_id"}),
    Rule("api/v1/sites", Kind.API_CLIENT_LIST),
    Rule("api/v1/sites/<int:site_id>", Kind.API_CLIENT_OBJECT, {"site_id": "site_id"}),
    Rule("api/v1/sites/<int:site_id>/uptime", Kind.API_CLIENT_OBJECT, {"site_id": "site_id"}),
    Rule("api/v1/backups/sites", Kind.API_CLIENT_LIST),
    Rule("api/v1/backups/sites/<int:site_id>", Kind.API_CLIENT_OBJECT, {"site_id": "site_id"}),
    Rule("api/v1/backups/sites/<int:site_id>/*", Kind.API_CLIENT_CHILDREN, {"site_id": "site_id"}),
    Rule("api/v1/security/sites/<int:site_id>/findings", Kind.API_CLIENT_CHILDREN, {"site_id": "site_id"}),
    Rule("api/v1/security/sites/<int:site_id>/scans", Kind.API_CLIENT_CHILDREN, {"site_id": "site_id"}),
    Rule(
        "api/v1/security/incidents/<int:incident_id>/dismiss",
        Kind.API_CLIENT_OBJECT,
        {"incident_id": "incident_pk"},
        status=405,
        why="POST only: ninja refuses the GET before it looks at the token",
    ),
    Rule(
        "api/v1/security/incidents/<int:incident_id>", Kind.API_CLIENT_OBJECT, {"incident_id": "incident_pk"}
    ),
    Rule(
        "api/v1/security/findings/<int:finding_id>/accept",
        Kind.API_CLIENT_OBJECT,
        {"finding_id": "finding_pk"},
        status=405,
        why="POST only: ninja refuses the GET before it looks at the token",
    ),
    Rule("api/v1/links/sites/<int:site_id>/*", Kind.API_CLIENT_CHILDREN, {"site_id": "site_id"}),
    Rule("api/v1/links/scans/<int:scan_id>", Kind.API_CLIENT_OBJECT, {"scan_id": "link_scan_pk"}),
    Rule(
        "api/v1/performance/sites/<int:site_id>/trend",
        Kind.API_CLIENT_CHILDREN,
        {"site_id": "site_id"},
        query="url=https://acme.test&form_factor=mobile",
    ),
    Rule("api/v1/performance/sites/<int:site_id>/*", Kind.API_CLIENT_CHILDREN, {"site_id": "site_id"}),
    Rule(
        "api/v1/performance/audits/<int:audit_id>",
        Kind.API_CLIENT_OBJECT,
        {"audit_id": "performance_audit_pk"},
    ),
    Rule("api/v1/releases/sites/<int:site_id>", Kind.API_CLIENT_CHILDREN, {"site_id": "site_id"}),
    Rule("api/v1/releases/<int:release_id>", Kind.API_CLIENT_OBJECT, {"release_id": "release_pk"}),
    Rule(
        "api/v1/releases/<int:release_id>/approve",
        Kind.API_CLIENT_OBJECT,
        {"release_id": "release_pk"},
        status=405,
        why="POST only: ninja refuses the GET before it looks at the token",
    ),
    Rule("api/v1/tickets", Kind.API_CLIENT_LIST),
    Rule(
        "api/v1/tickets/<int:ticket_id>/state",
        Kind.API_CLIENT_OBJECT,
        {"ticket_id": "ticket_id"},
        status=405,
        why="POST only: ninja refuses the GET before it looks at the token",
    ),
    Rule(
        "api/v1/tickets/<int:ticket_id>/merge",
        Kind.API_CLIENT_OBJECT,
        {"ticket_id": "ticket_id"},
        status=405,
        why="POST only: ninja refuses the GET before it looks at the token",
    ),
    Rule(
        "api/v1/tickets/<int:ticket_id>/links",
        Kind.API_CLIENT_OBJECT,
        {"ticket_id": "ticket_id"},
        status=405,
        why="POST only: ninja refuses the GET before it looks at the token",
    ),
    Rule("api/v1/tickets/<int:ticket_id>", Kind.API_CLIENT_OBJECT, {"ticket_id": "ticket_id"}),
    Rule("api/v1/tickets/<int:ticket_id>/messages", Kind.API_CLIENT_OBJECT, {"ticket_id": "ticket_id"}),
    Rule(
        "api/v1/tickets/<int:ticket_id>/attachments/<int:attachment_id>",
        Kind.API_CLIENT_OBJECT,
        {"ticket_id": "ticket_id", "attachment_id": "attachment_id"},
    ),
)
POST_ROUTES = frozenset({"logout/", "admin/logout/", "account/tokens/<int:pk>/revoke/"})


def walk(resolver: URLResolver | None = None, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(full route, name) of every endpoint, recursing into includes (admin, the API)."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from walk(entry, route)
        elif isinstance(entry, URLPattern):
            yield route, entry.name or "(unnamed)"


ROUTES = sorted(set(walk()))


def rule_for(route: str) -> Rule | None:
    return next((rule for rule in RULES if fnmatch.fnmatchcase(route, rule.route)), None)


def test_every_route_has_a_rule():
    uncovered = [route for route, _name in ROUTES if rule_for(route) is None]
    assert not uncovered, f"routes without an access rule in RULES: {uncovered}"


def test_every_rule_matches_a_route():
    used = {rule_for(route) for route, _name in ROUTES}
    stale = [rule.route for rule in RULES if rule not in used]
    assert not stale, f"rules that match no route (remove them or fix the pattern): {stale}"


def test_the_walk_sees_every_part_of_the_site():
    routes = {route for route, _name in ROUTES}
    assert {"portal/", "staff/", "api/v1/sites", "api/v1/openapi.json", "admin/"} <= routes


_PARAM = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>[^)]*\)")


def build_url(route: str, rule: Rule, world: World) -> str:
    def value(match: re.Match[str]) -> str:
        kwarg = match.group(1) or match.group(2)
        key = rule.kwargs.get(kwarg)
        if key is None:
            pytest.fail(f"route {route!r}: rule {rule.route!r} gives no value for <{kwarg}>")
        if key == ADMIN_OBJECT:
            app, model = route.split("/")[1:3]
            key = f"{app}.{model}"
        if key not in world.objects:
            pytest.fail(f"route {route!r}: no object {key!r} in the world fixture")
        return str(world.objects[key])

    path = "/" + _PARAM.sub(value, route).replace("^", "").replace("$", "")
    # (ResolverMatch.route drops a regex's "^" anchor.)
    assert resolve(path).route == route.replace("^", ""), f"{path} does not reach route {route!r}"
    return path + (f"?{rule.query}" if rule.query else "")


def http_for(persona: str, world: World, api: bool) -> HttpClient:
    if persona == "anonymous":
        return HttpClient()
    if api:
        return HttpClient(headers={"authorization": f"Bearer {world.keys[persona]}"})
    client = HttpClient()
    client.force_login(world.users[persona])
    return client


# CSRF tokens are random letters and digits: one may spell "acme" by chance (seen once in CI). They are
# blanked before a page is searched for another client's data.
_CSRF = re.compile(r"""(csrfmiddlewaretoken" value="|X-CSRFToken": ")[A-Za-z0-9]+""")


def body(response) -> str:
    text = b"".join(response.streaming_content if response.streaming else [response.content]).decode()
    return _CSRF.sub(r"\1", text)


SIGNED_IN = ("owner", "member", "outsider", "engineer", "manager", "admin")


def _row(*outcomes: str) -> dict[str, str]:
    return dict(zip(SIGNED_IN, outcomes, strict=True))


# What each signed-in persona gets on a web page: "status [redirect target]" (anonymous: always the login).
# fmt: off
WEB_OUTCOMES: dict[Kind, dict[str, str]] = {
    #                   owner, member, outsider, engineer, manager, admin
    Kind.HOME:          _row("302 /portal/", "302 /portal/", "302 /portal/",
                             "302 /staff/", "302 /staff/", "302 /staff/"),
    Kind.AGENCY:        _row("403", "403", "403", "200", "200", "200"),
    Kind.AUDIT:         _row("403", "403", "403", "403", "200", "200"),
    Kind.AGENCY_ADMIN:  _row("403", "403", "403", "403", "403", "200"),
    Kind.PORTAL:        _row("200", "200", "200", "302 /staff/", "302 /staff/", "302 /staff/"),
    Kind.PORTAL_PAGE:   _row("200", "200", "200", "302 /staff/*", "302 /staff/*", "302 /staff/*"),
    Kind.CLIENT_OBJECT: _row("200", "200", "404", "302 /staff/*", "302 /staff/*", "302 /staff/*"),
    Kind.ACCOUNT:       _row("200", "200", "200", "200", "200", "200"),
    Kind.OWNER_PAGE:    _row("200", "403", "200", "403", "403", "403"),
    Kind.OWN_TOKEN:     _row("302 /account/tokens/", "404", "404", "404", "404", "404"),
}
# fmt: on


def _fixed_answer(kind: Kind, rule: Rule, persona: str, response, world: World) -> None:
    """Kinds whose answer does not follow the persona table."""
    status, where = response.status_code, response.get("Location", "")
    if kind is Kind.LOGIN:
        assert (status, where) == ((200, "") if persona == "anonymous" else (302, "/"))
    elif kind is Kind.PUBLIC:
        assert status == rule.status, rule.why
    elif kind is Kind.LOGOUT:
        assert (status, where) == (302, "/login/")
    elif kind is Kind.STATUS:
        assert status == 200, "an enabled status page is public"
        assert world.globex.name in body(response)
    elif kind is Kind.METRICS:
        want = 401 if persona == "anonymous" else 200 if persona in {"engineer", "manager", "admin"} else 403
        assert status == want, "metrics: the token or an agency login"
    elif kind is Kind.ADMIN:  # followed: where did the person end up?
        final = response.request["PATH_INFO"]
        if persona == "anonymous":
            assert (status, final) == (200, "/login/"), "anonymous must end on the login page"
        elif persona == "admin":
            assert status == rule.status, rule.why
        else:
            assert status == 403, "only the agency admin may use Django admin"


FIXED_ANSWERS = frozenset({Kind.LOGIN, Kind.PUBLIC, Kind.LOGOUT, Kind.STATUS, Kind.METRICS, Kind.ADMIN})


def check_web(kind: Kind, rule: Rule, persona: str, response, world: World) -> None:
    if kind in FIXED_ANSWERS:
        _fixed_answer(kind, rule, persona, response, world)
        return
    status, where = response.status_code, response.get("Location", "")
    if persona == "anonymous":
        assert status == 302, "anonymous must be sent to the login page"
        assert where.startswith("/login/?next=")
        return
    want = WEB_OUTCOMES[kind][persona].split(" ")
    want_status, want_where = int(want[0]), (want[1] if len(want) > 1 else "")
    if want_status == 200:  # the entitled personas get the rule's answer (e.g. 405 for a POST-only action)
        want_status = rule.status
        want_where = "*" if rule.status in {301, 302} else want_where
    assert status == want_status, rule.why
    assert fnmatch.fnmatchcase(where, want_where), f"redirected to {where!r}, expected {want_where!r}"
    own_pages = {Kind.PORTAL, Kind.PORTAL_PAGE, Kind.CLIENT_OBJECT, Kind.OWNER_PAGE}
    if status == 200 and persona in {"owner", "member"} and kind in own_pages:
        assert world.acme.name in body(response), "acme's people see acme's data"
    if status == 200 and persona == "outsider" and kind in {Kind.PORTAL, Kind.PORTAL_PAGE, Kind.OWNER_PAGE}:
        assert world.globex.name in body(response), "the outsider sees their own client"


def check_api(kind: Kind, rule: Rule, persona: str, response, world: World) -> None:
    status = response.status_code
    if kind is Kind.API_PUBLIC or rule.status == 405:
        assert status == rule.status, rule.why
        return
    if persona == "anonymous":
        assert status == 401, "the API needs a token"
        return
    if kind in {Kind.API_CLIENT_OBJECT, Kind.API_CLIENT_CHILDREN} and persona == "outsider":
        assert status == 404, "another client's object does not exist for the outsider"
        return
    assert status == 200
    if kind in {Kind.API_CLIENT_LIST, Kind.API_CLIENT_OBJECT} and persona != "outsider":
        assert world.acme.slug in body(response), "acme's objects are listed for acme's people and staff"


@pytest.fixture
def matrix_world(world: World) -> World:
    from django.contrib.contenttypes.models import ContentType

    from sitekeeper.contracts.models import Site

    world.objects["site_id"] = world.objects["site_pk"]
    world.objects["missing_admin_page"] = "no-such-page/"
    world.objects["admin_app_label"] = "contracts"
    world.objects["site_content_type"] = ContentType.objects.get_for_model(Site).pk
    world.objects["reset_uid"] = "MQ"  # base64 of "1": a link nobody was sent
    world.objects["reset_token"] = "set-password"
    world.objects["confirm_token"] = "not-a-signed-token"
    world.objects["missing_api_path"] = "no/such/path"
    world.objects["desk.ticketlink"] = _ticket_link(world)
    return world


def _ticket_link(world: World) -> int:
    """A second request of acme's, linked to the world's (made here, not in the world: other tests count
    the world's requests)."""
    from sitekeeper.desk import services
    from sitekeeper.desk.models import Ticket, TicketLink

    ticket = Ticket.objects.get(pk=world.objects["ticket_pk"])
    related = services.file_request(
        world.acme,
        channel="portal",
        type="question",
        priority="P4",
        site=ticket.site,
        environment="prod",
        subject="Acme GmbH contact form: which address receives it?",
        description="Where do the contact form's e-mails go?",
        requester_user=world.users["owner"],
        allow_incomplete=False,
    )
    services.link(ticket, related, actor=world.users["engineer"])
    return TicketLink.objects.get(first=ticket, second=related).pk


@pytest.mark.parametrize(("route", "name"), ROUTES, ids=[f"{name}:{route or '/'}" for route, name in ROUTES])
def test_route_as_every_persona(route: str, name: str, matrix_world: World):
    world = matrix_world
    rule = rule_for(route)
    assert rule is not None, f"no rule for {route!r}"
    url = build_url(route, rule, world)
    api = rule.kind.name.startswith("API_")
    method = "post" if route in POST_ROUTES else "get"
    # The owner goes last: on the token route their request revokes the token the others tried to reach.
    for persona in sorted(PERSONAS, key=lambda p: p == "owner"):
        http = http_for(persona, world, api)
        response = getattr(http, method)(url, follow=rule.kind is Kind.ADMIN)
        where = f"{method.upper()} {url} as {persona}"
        if persona in {"anonymous", "outsider"}:
            assert "acme" not in body(response).lower(), f"{where}: acme's data leaked"
        try:
            (check_api if api else check_web)(rule.kind, rule, persona, response, world)
        except AssertionError as exc:
            raise AssertionError(f"{where} → {response.status_code} ({rule.kind.value}): {exc}") from exc
        if method == "post" and persona == "anonymous":
            # A POST-only route refuses GET for everyone; a page that changes things is never a GET.
            assert http.get(url).status_code in {302, 405}


LIST_ROUTES = sorted(
    {route for route, _name in ROUTES if (rule := rule_for(route)) and rule.kind is Kind.API_CLIENT_LIST}
)


@pytest.mark.parametrize("route", LIST_ROUTES)
@pytest.mark.parametrize(("persona", "own"), [("owner", "acme"), ("member", "acme"), ("outsider", "globex")])
def test_api_lists_hold_only_the_own_clients_objects(route: str, persona: str, own: str, matrix_world: World):
    items = http_for(persona, matrix_world, api=True).get(f"/{route}").json()
    assert items, f"{persona} sees their own objects at /{route}"
    assert {item.get("client", item.get("slug")) for item in items} == {own}


def test_api_lists_are_covered():
    assert set(LIST_ROUTES) == {
        "api/v1/clients",
        "api/v1/contracts",
        "api/v1/sites",
        "api/v1/tickets",
        "api/v1/backups/sites",
    }
