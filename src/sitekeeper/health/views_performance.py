"""Performance pages: the staff console per site (latest Lighthouse result per page and form factor with
scores, metrics and budget breaches, "run now" with live progress, a 12-month trend chart per page, the
recent audits), one audit, the JSON report download, the key pages form; the portal per site (the client's
own people: scores and trend charts, no reports or errors).

Access (tests/web/test_persona_matrix.py checks each route once wired): /staff/health/… agency roles only;
/portal/health/… the person's own client's sites (client_sites: another client's site is a 404), agency
people are sent to the console. Charts are hand-written inline SVG (no JS library).
"""

from __future__ import annotations

import datetime as dt
import gzip
from typing import Any

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_POST

from sitekeeper.access.audit import acting_as
from sitekeeper.access.models import AuditEntry
from sitekeeper.access.permissions import agency_required, client_sites, portal_view
from sitekeeper.contracts.models import Site
from sitekeeper.health import performance
from sitekeeper.health.models import BUDGET_METRICS, JobStatus, KeyPage, LighthouseResult, PerformanceAudit

BUSY = (JobStatus.QUEUED, JobStatus.RUNNING)
AUDITS_SHOWN = 12
SCORES = (("performance", "Performance"), ("accessibility", "Accessibility"),
          ("best_practices", "Best practices"), ("seo", "SEO"))  # fmt: skip
METRICS = (("lcp_ms", "LCP", "ms"), ("fcp_ms", "FCP", "ms"), ("tbt_ms", "TBT", "ms"),
           ("speed_index_ms", "Speed Index", "ms"), ("ttfb_ms", "TTFB", "ms"), ("cls", "CLS", ""),
           ("page_weight_bytes", "Weight", "bytes"))  # fmt: skip
# What each measure means, in words: the portal's labels, and the staff page's hover text for the acronyms.
PLAIN = {"lcp_ms": "Main content shown after", "fcp_ms": "First content shown after",
         "tbt_ms": "Page busy (not answering clicks)", "speed_index_ms": "Visibly complete after",
         "ttfb_ms": "Server answered after", "cls": "Layout shift (lower is better)",
         "page_weight_bytes": "Page weight"}  # fmt: skip
LABEL = "Performance score per month (median)"
SERIES_COLOURS = {"mobile": "#2563eb", "desktop": "#16a34a"}


# -- the trend chart -----------------------------------------------------------------------------------------
def trend_svg(series: dict[str, list[dict[str, Any]]], *, width: int = 560, height: int = 180) -> SafeString:
    """Monthly median performance (0-100) per form factor as an inline SVG line chart; a month without a
    result leaves a gap. Every value we draw is a number or an escaped label."""
    left, right, top, bottom = 30, 24, 10, 28  # room for the last month's label
    months = next(iter(series.values()), [])
    if not months:
        return mark_safe("")
    step = (width - left - right) / max(len(months) - 1, 1)

    def x(i: int) -> float:
        return round(left + i * step, 1)

    def y(score: float) -> float:
        return round(top + (100 - score) * (height - top - bottom) / 100, 1)

    head = f'<svg class="trend" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{LABEL}">'
    parts = [head]
    for level, colour in ((90, "#bbf7d0"), (50, "#fecaca")):
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(level)}" y2="{y(level)}" '
                     f'stroke="{colour}" stroke-dasharray="4 3"/>')  # fmt: skip
    for level in (0, 50, 90, 100):
        parts.append(
            f'<text x="{left - 4}" y="{y(level) + 3}" text-anchor="end" font-size="9">{level}</text>'
        )
    for i, point in enumerate(months):
        if (len(months) - 1 - i) % max(len(months) // 6, 1) == 0:  # counted back from this month
            parts.append(f'<text x="{x(i)}" y="{height - 10}" text-anchor="middle" font-size="9">'
                         f"{escape(point['month'])}</text>")  # fmt: skip
    for name, points in series.items():
        parts.extend(_series(name, points, x, y))
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - built above from numbers and escaped text


def _series(name: str, points: list[dict[str, Any]], x: Any, y: Any) -> list[str]:
    colour = SERIES_COLOURS.get(name, "#475569")
    out, run = [], []
    for i, point in enumerate([*points, {"performance": None}]):
        if point["performance"] is None:
            if len(run) > 1:
                out.append(
                    f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(run)}"/>'
                )
            run = []
            continue
        run.append(f"{x(i)},{y(point['performance'])}")
        label = escape(f"{name} {point['month']}: {point['performance']:g} ({point['count']} result(s))")
        out.append(f'<circle cx="{x(i)}" cy="{y(point["performance"])}" r="3" fill="{colour}" '
                   f'class="point-{escape(name)}"><title>{label}</title></circle>')  # fmt: skip
    return out


# -- page contexts -------------------------------------------------------------------------------------------
def _latest(site: Site) -> dict[tuple[str, str], LighthouseResult]:
    latest: dict[tuple[str, str], LighthouseResult] = {}
    for row in (
        LighthouseResult.objects.filter(site=site)
        .without_report()
        .select_related("ticket", "page")
        .order_by("url", "form_factor", "-measured_at", "-pk")
    ):
        latest.setdefault((row.url, row.form_factor), row)
    return latest


def _metrics(result: LighthouseResult | None) -> list[dict[str, Any]]:
    if result is None:
        return []
    broken = {line["metric"] for line in result.over_budget or []}
    if "page_weight_kb" in broken:
        broken.add("page_weight_bytes")
    return [{"label": label, "plain": PLAIN[name], "value": getattr(result, name), "unit": unit,
             "text": _metric_text(getattr(result, name), unit), "over": name in broken}
            for name, label, unit in METRICS]  # fmt: skip


def _metric_text(value: float | int | None, unit: str) -> str:
    """7400 ms → "7.4 s", 180 ms → "180 ms", bytes → "1.4 MB", a shift stays a plain number."""
    if value is None:
        return "—"
    if unit == "ms":
        return f"{value / 1000:.1f} s" if value >= 1000 else f"{value:g} ms"
    if unit == "bytes":
        return filesizeformat(value)
    return f"{value:g}"


def budget_lines(budget: dict[str, Any] | None) -> list[str]:
    """A key page's budget in words: {"lcp_ms": 2500} → ["max Largest Contentful Paint (ms): 2500"]."""
    return [
        f"{BUDGET_METRICS.get(key, key.replace('_', ' '))}: {limit}" for key, limit in (budget or {}).items()
    ]


def over_budget_lines(result: LighthouseResult | None) -> list[str]:
    """What a result broke, in words: "max Largest Contentful Paint (ms): 7400, the limit is 2500"."""
    lines = []
    for line in (result.over_budget or []) if result is not None else []:
        name = BUDGET_METRICS.get(line["metric"], str(line["metric"]).replace("_", " "))
        lines.append(f"{name}: {line['actual']}, the limit is {line['limit']}")
    return lines


def _month_name(month: str) -> str:
    """ "2026-11" → "Nov 2026"."""
    year, number = (int(part) for part in month.split("-"))
    return dt.date(year, number, 1).strftime("%b %Y")


def trend_lines(series: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The chart in words, per form factor: the latest month's median performance score and how it moved
    since the month before it that has one ("Mobile: 38 in Dec 2026, down 48 points from 86 in Nov 2026")."""
    lines = []
    for form_factor, points in series.items():
        measured = [p for p in points if p["performance"] is not None]
        if not measured:
            lines.append(f"{form_factor.capitalize()}: not measured in the last {len(points)} months.")
            continue
        last = measured[-1]
        text = f"{form_factor.capitalize()}: {last['performance']:g} in {_month_name(last['month'])}"
        if len(measured) > 1:
            before = measured[-2]
            change = last["performance"] - before["performance"]
            unit = "point" if abs(change) == 1 else "points"
            moved = "no change" if change == 0 else f"{'up' if change > 0 else 'down'} {abs(change):g} {unit}"
            text += f", {moved} from {before['performance']:g} in {_month_name(before['month'])}"
        lines.append(text + ".")
    return lines


def pages_context(site: Site, *, staff: bool) -> list[dict[str, Any]]:
    """One block per target page: its latest result per form factor and its trend chart."""
    latest = _latest(site)
    blocks = []
    for target in performance.targets(site):
        url = performance.page_url(site, target.path)
        rows = []
        for form_factor in performance.FORM_FACTORS:
            result = latest.get((url, form_factor))
            scores = [(label, getattr(result, name, None)) for name, label in SCORES]
            rows.append({"form_factor": form_factor, "result": result, "metrics": _metrics(result),
                         "scores": scores, "over": over_budget_lines(result)})  # fmt: skip
        series = {ff: performance.trend(site, url, ff) for ff in performance.FORM_FACTORS}
        blocks.append({"target": target, "url": url, "rows": rows, "chart": trend_svg(series),
                       "trend": trend_lines(series),
                       "budget": budget_lines(target.budget) if staff else []})  # fmt: skip
    return blocks


def _site_context(site: Site, *, staff: bool) -> dict[str, Any]:
    audits = PerformanceAudit.objects.filter(site=site)
    current = audits.filter(status__in=BUSY).order_by("-created_at").first()
    return {
        "site": site,
        "staff": staff,
        "pages": pages_context(site, staff=staff),
        "audits": list(audits.select_related("requested_by")[:AUDITS_SHOWN]) if staff else [],
        "current": current,
        "live": live_progress(current),
    }


def live_progress(audit: PerformanceAudit | None) -> dict[str, Any]:
    data = dict(audit.progress or {}) if audit is not None else {}
    if data.get("index"):
        data["step"] = (
            f"page {data['index']} of {data['of']}: {data.get('label', '')} ({data.get('form_factor')})"
        )
        if data.get("runs"):
            data["step"] += f", run {data['run']} of {data['runs']}"
    return data


# -- staff console -------------------------------------------------------------------------------------------
def _site(pk: int) -> Site:
    return get_object_or_404(Site.objects.select_related("client"), pk=pk)


@agency_required
def staff_site(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "health/performance_site.html", _site_context(_site(pk), staff=True))


@agency_required
@require_POST
def staff_run(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue an on-demand audit; the worker runs it (tasks.performance_run_task) once this commits."""
    site = _site(pk)
    if PerformanceAudit.objects.filter(site=site, status__in=BUSY).exists():
        messages.info(request, "An audit of this site is already queued or running.")
        return redirect(reverse("staff_performance_site", args=[pk]))
    audit = performance.request_audit(site, request.user)
    AuditEntry.objects.create(
        actor=request.user, actor_label=request.user.username, action=AuditEntry.Action.CREATE,
        model="health.performanceaudit", object_pk=str(audit.pk),
        object_repr=f"Lighthouse audit · {site}"[:200],
        after={"slot": audit.slot, "runs": audit.runs}, client_id=site.client_id,
    )  # fmt: skip
    transaction.on_commit(lambda: enqueue(audit.pk))
    messages.success(request, "Lighthouse audit queued: mobile and desktop for every key page.")
    return redirect(reverse("staff_performance_audit", args=[audit.pk]))


def enqueue(audit_id: int) -> None:
    """Hand the audit to the worker; looked up at call time so tests can replace it."""
    from sitekeeper.health import tasks

    tasks.performance_run_task(audit_id)


def _audit(pk: int) -> PerformanceAudit:
    return get_object_or_404(PerformanceAudit.objects.select_related("site", "site__client"), pk=pk)


@agency_required
def staff_audit(request: HttpRequest, pk: int) -> HttpResponse:
    audit = _audit(pk)
    results = [
        {
            "result": r,
            "metrics": _metrics(r),
            "scores": [(label, getattr(r, name)) for name, label in SCORES],
            "over": over_budget_lines(r),
        }
        for r in audit.results.without_report().select_related("ticket", "page").order_by("pk")
    ]
    return render(request, "health/performance_audit.html", {
        "audit": audit, "site": audit.site, "results": results, "busy": audit.status in BUSY,
        "live": live_progress(audit),
    })  # fmt: skip


@agency_required
def staff_audit_live(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress fragment htmx polls while the audit is queued or running."""
    audit = _audit(pk)
    busy = audit.status in BUSY
    response = render(request, "health/performance_live.html", {"audit": audit, "busy": busy,
                                                                "live": live_progress(audit)})  # fmt: skip
    if not busy and request.headers.get("HX-Request"):
        response["HX-Refresh"] = "true"  # finished: reload for the results
    return response


@agency_required
def staff_report(request: HttpRequest, pk: int) -> HttpResponse:
    """The median run's full Lighthouse JSON report (open it in the Lighthouse viewer)."""
    result = get_object_or_404(LighthouseResult, pk=pk)
    if not result.report_gz:
        raise Http404("no report stored (the page was not measured, or the report passed its retention)")
    response = HttpResponse(gzip.decompress(bytes(result.report_gz)), content_type="application/json")
    name = f"lighthouse-{result.site_id}-{result.form_factor}-{result.measured_at:%Y%m%d}-{result.pk}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# -- key pages -----------------------------------------------------------------------------------------------
class KeyPageForm(forms.ModelForm):
    budget_text = forms.CharField(
        required=False, label="Budget",
        help_text="One per line, metric=limit; metrics: " + ", ".join(BUDGET_METRICS),
        widget=forms.Textarea(attrs={"rows": 3}),
    )  # fmt: skip

    class Meta:
        model = KeyPage
        fields = ["path", "label", "kind", "expected_text", "lighthouse", "position"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # A row of the table: its inputs belong to the row's form (a <form> cannot wrap table cells).
            for field in self.fields.values():
                field.widget.attrs["form"] = f"key-page-form-{self.instance.pk}"
            self.fields["budget_text"].initial = "\n".join(
                f"{k}={v}" for k, v in self.instance.budget.items()
            )

    def clean_path(self) -> str:
        path = self.cleaned_data["path"].strip()
        if not path.startswith("/"):
            raise forms.ValidationError("A path on the site, starting with /")
        return path

    def clean_budget_text(self) -> dict[str, float]:
        budget: dict[str, float] = {}
        for raw in self.cleaned_data["budget_text"].splitlines():
            line = raw.strip()
            if not line:
                continue
            name, sep, value = (part.strip() for part in line.partition("="))
            if not sep or name not in BUDGET_METRICS:
                raise forms.ValidationError(
                    f"{line!r}: write metric=limit with one of {', '.join(BUDGET_METRICS)}"
                )
            try:
                number = float(value)
            except ValueError:
                raise forms.ValidationError(f"{line!r}: the limit must be a number") from None
            budget[name] = int(number) if number.is_integer() else number
        return budget

    def save(self, commit: bool = True) -> KeyPage:
        self.instance.budget = self.cleaned_data["budget_text"]
        return super().save(commit=commit)


def _pages_page(
    request: HttpRequest, site: Site, add: KeyPageForm, editing: dict[int, KeyPageForm]
) -> HttpResponse:
    pages = KeyPage.objects.filter(site=site)
    rows = [
        {"page": p, "form": editing.get(p.pk) or KeyPageForm(instance=p, prefix=f"p{p.pk}")} for p in pages
    ]
    return render(request, "health/performance_pages.html", {"site": site, "rows": rows, "add": add,
                                                             "metrics": BUDGET_METRICS})  # fmt: skip


@agency_required
def staff_pages(request: HttpRequest, pk: int) -> HttpResponse:
    """The site's key pages (also the update pipeline's smoke checks): add, edit, delete."""
    site = _site(pk)
    add = KeyPageForm(prefix="new")
    if request.method != "POST":
        return _pages_page(request, site, add, {})
    action = request.POST.get("action", "")
    if action == "add":
        add = KeyPageForm(request.POST, prefix="new", instance=KeyPage(site=site))
        return _save(request, site, add) or _pages_page(request, site, add, {})
    page = get_object_or_404(KeyPage, pk=request.POST.get("page") or 0, site=site)
    if action == "delete":
        with acting_as(request.user):
            page.delete()
        messages.success(request, f"Key page {page.path} removed.")
        return redirect(reverse("staff_performance_pages", args=[pk]))
    if action == "edit":
        form = KeyPageForm(request.POST, prefix=f"p{page.pk}", instance=page)
        return _save(request, site, form) or _pages_page(request, site, add, {page.pk: form})
    raise Http404("unknown action")


def _save(request: HttpRequest, site: Site, form: KeyPageForm) -> HttpResponse | None:
    if not form.is_valid():
        return None
    duplicate = KeyPage.objects.filter(site=site, path=form.cleaned_data["path"]).exclude(pk=form.instance.pk)
    if duplicate.exists():
        form.add_error("path", "This site already has a key page with this path.")
        return None
    with acting_as(request.user):
        page = form.save()
    messages.success(request, f"Key page {page.path} saved.")
    return redirect(reverse("staff_performance_pages", args=[site.pk]))


# -- client portal -------------------------------------------------------------------------------------------
@portal_view(lambda pk: reverse("staff_performance_site", args=[pk]))
def portal_site(request: HttpRequest, pk: int) -> HttpResponse:
    site = get_object_or_404(client_sites(request.user).select_related("client"), pk=pk)
    return render(request, "health/performance_site.html", _site_context(site, staff=False))
