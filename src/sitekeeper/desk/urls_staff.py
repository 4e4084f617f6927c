"""Staff console: the service desk, under /staff/desk/ (see desk/views_staff.py)."""

from __future__ import annotations

from django.urls import path

from sitekeeper.desk import views_staff as views
from sitekeeper.desk.urls_portal import register_month_converter

register_month_converter()

urlpatterns = [
    path("", views.queue, name="staff_desk"),
    path("assign/", views.bulk_assign, name="staff_desk_assign"),
    path("sla/<slug:client_slug>/<yyyy_mm:month>/", views.sla, name="staff_sla"),
    path("<int:pk>/", views.ticket_detail, name="staff_ticket"),
    path("<int:pk>/reply/", views.reply, name="staff_ticket_reply"),
    path("<int:pk>/state/", views.change_state, name="staff_ticket_state"),
    path("<int:pk>/priority/", views.change_priority, name="staff_ticket_priority"),
    path("<int:pk>/recovered/", views.mark_recovered, name="staff_ticket_recovered"),
    path("<int:pk>/resolve/", views.resolve, name="staff_ticket_resolve"),
    path("<int:pk>/reopen/", views.reopen, name="staff_ticket_reopen"),
    path("<int:pk>/assign/", views.assign, name="staff_ticket_assign"),
    path("<int:pk>/reclassify/", views.reclassify, name="staff_ticket_reclassify"),
    path("<int:pk>/time/", views.log_time, name="staff_ticket_time"),
    path("<int:pk>/merge/", views.merge, name="staff_ticket_merge"),
    path("<int:pk>/link/", views.link, name="staff_ticket_link"),
    path("<int:pk>/unlink/", views.unlink, name="staff_ticket_unlink"),
    path("<int:pk>/accept-sender/", views.accept_sender, name="staff_ticket_accept_sender"),
    path("<int:pk>/attachments/<int:attachment_id>/", views.attachment_download, name="staff_attachment"),
]
