"""Client portal: the client's requests, under /portal/requests/ (see desk/views_portal.py)."""

from __future__ import annotations

import datetime as dt

from django.urls import path, register_converter
from django.urls.converters import get_converters

from sitekeeper.desk import views_portal as views


class MonthConverter:
    """'2026-01' ↔ date(2026, 1, 1); a month that does not exist (2026-13) is no match, so a 404."""

    regex = r"[0-9]{4}-[0-9]{2}"

    def to_python(self, value: str) -> dt.date:
        year, month = value.split("-")
        return dt.date(int(year), int(month), 1)  # ValueError → no match

    def to_url(self, value: dt.date | str) -> str:
        return value if isinstance(value, str) else f"{value.year:04d}-{value.month:02d}"


def register_month_converter() -> None:
    if "yyyy_mm" not in get_converters():
        register_converter(MonthConverter, "yyyy_mm")


register_month_converter()

urlpatterns = [
    path("", views.requests_list, name="portal_requests"),
    path("new/", views.request_new, name="portal_request_new"),
    path("sla/<yyyy_mm:month>/", views.sla, name="portal_sla"),
    # The link mailed to the contact of an unverified e-mail request: no login (docs/email.md).
    path("confirm/<str:token>/", views.confirm_sender, name="portal_request_confirm"),
    path("<int:pk>/", views.request_detail, name="portal_request"),
    path("<int:pk>/reply/", views.request_reply, name="portal_request_reply"),
    path("<int:pk>/priority/", views.request_priority, name="portal_request_priority"),
    path("<int:pk>/complete/", views.request_complete, name="portal_request_complete"),
    path("<int:pk>/attachments/<int:attachment_id>/", views.attachment_download, name="portal_attachment"),
]
