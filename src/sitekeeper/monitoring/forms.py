"""The console's monitor form: every kind the probe runs (HTTP(S) with status codes and a keyword, TCP port,
TLS certificate, DNS), validated by Monitor.clean() — the one validation path the admin uses too, with the
contract's alert promise checked in the same words `apply` uses."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from sitekeeper.contracts.models import Environment, Site
from sitekeeper.monitoring.models import Kind, Monitor
from sitekeeper.monitoring.validation import METHODS

HTTP_ONLY = (
    "method",
    "expected_status",
    "keyword",
    "keyword_absent",
    "keyword_regex",
    "max_response_ms",
    "follow_redirects",
)
TLS_ONLY = ("cert_warn_days",)
COMMON = ("interval_seconds", "timeout_seconds", "confirmations", "quorum")


def _numbers(raw: str, what: str, example: str) -> list[int]:
    tokens = [t for t in re.split(r"[,\s]+", raw.strip()) if t]
    bad = [t for t in tokens if not t.isdigit()]
    if bad:
        raise forms.ValidationError(f"{', '.join(bad)}: {what} are whole numbers, e.g. {example}")
    return [int(t) for t in tokens]


class MonitorForm(forms.ModelForm):
    expected_status = forms.CharField(
        required=False,
        label="Expected status codes",
        help_text="Comma-separated, e.g. 200, 301. Empty: any 2xx or 3xx.",
    )
    cert_warn_days = forms.CharField(
        required=False,
        label="Warn days before expiry",
        help_text="Comma-separated, e.g. 30, 14, 7, 1 (the default when empty).",
    )
    method = forms.ChoiceField(choices=[(m, m) for m in METHODS], initial="GET", label="Method")
    environment = forms.ChoiceField(choices=Environment.Kind.choices, initial="prod", label="Environment")

    class Meta:
        model = Monitor
        fields = (
            "kind",
            "environment",
            "name",
            "url",
            *HTTP_ONLY,
            *TLS_ONLY,
            *COMMON,
        )
        labels = {
            "kind": "Type",
            "name": "Name",
            "url": "Address to check",
            "keyword": "Keyword",
            "keyword_absent": "Fail when the keyword is present",
            "keyword_regex": "Keyword is a regular expression",
            "max_response_ms": "Slowest acceptable response (ms)",
            "follow_redirects": "Follow redirects",
            "interval_seconds": "Check every (seconds)",
            "timeout_seconds": "Timeout (seconds)",
            "confirmations": "Failed checks before down",
            "quorum": "Locations that must agree",
        }
        help_texts = {
            "url": "HTTP(S): a URL (https://shop.example.com/). TCP: host:port. TLS certificate: host or "
            "host:port (443 when left out). DNS: a host name.",
            "name": "Optional; shown instead of the address",
            "keyword": "HTTP(S): text the page must contain",
        }

    def __init__(self, *args: Any, site: Site, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance.site = site
        self.site = site
        if self.instance.pk:
            self.initial["expected_status"] = ", ".join(map(str, self.instance.expected_status or []))
            self.initial["cert_warn_days"] = ", ".join(map(str, self.instance.cert_warn_days or []))
        else:
            self.initial.setdefault("url", site.url)
        for name, field in self.fields.items():
            if name in ("kind", "environment", "name", "url"):
                field.group = "target"
            elif name in HTTP_ONLY:
                field.group = "http"
            elif name in TLS_ONLY:
                field.group = "tls"
            else:
                field.group = "common"

    def clean_expected_status(self) -> list[int]:
        return _numbers(self.cleaned_data.get("expected_status") or "", "status codes", "200, 301")

    def clean_cert_warn_days(self) -> list[int]:
        return _numbers(self.cleaned_data.get("cert_warn_days") or "", "warning days", "30, 14, 7, 1")

    def clean_url(self) -> str:
        return (self.cleaned_data.get("url") or "").strip()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("kind")
        if kind and kind != Kind.HTTP:  # what only an HTTP check reads goes back to its defaults
            data.update(
                method="GET",
                expected_status=[],
                keyword="",
                keyword_absent=False,
                keyword_regex=False,
                max_response_ms=None,
                follow_redirects=True,
            )
        if kind and kind != Kind.TLS:
            data["cert_warn_days"] = []
        return data

    def _post_clean(self) -> None:
        super()._post_clean()  # Monitor.clean(): the one validation path
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs["aria-invalid"] = "true"
                self.fields[name].widget.attrs["aria-describedby"] = f"id_{name}_error"

    @property
    def error_lines(self) -> list[tuple[str, str]]:
        """(field label, message) for every error: the summary above the form names each field."""
        lines = []
        for name, errors in self.errors.items():
            label = "" if name == "__all__" else str(self.fields[name].label)
            lines.extend((label, str(e)) for e in errors)
        return lines


class PauseForm(forms.Form):
    reason = forms.CharField(
        max_length=300, required=False, label="Why (optional; the client sees it on their uptime page)"
    )
