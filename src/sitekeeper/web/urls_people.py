"""Routes of the people pages (included from web/urls.py): people and invitations (web/views_people.py)."""

from django.urls import URLPattern, path

from sitekeeper.web import views_people as views

urlpatterns: list[URLPattern] = [
    # The agency admin: everyone.
    path("staff/people/", views.staff_people, name="staff_people"),
    path("staff/people/invite/", views.staff_invite, name="staff_people_invite"),
    path("staff/people/<int:pk>/deactivate/", views.staff_person_deactivate, name="staff_person_deactivate"),
    path("staff/people/<int:pk>/reactivate/", views.staff_person_reactivate, name="staff_person_reactivate"),
    path(
        "staff/people/invitations/<int:pk>/resend/",
        views.staff_invitation_resend,
        name="staff_invitation_resend",
    ),
    path(
        "staff/people/invitations/<int:pk>/revoke/",
        views.staff_invitation_revoke,
        name="staff_invitation_revoke",
    ),
    # A client's product owner: their own organisation's people.
    path("portal/people/", views.portal_people, name="portal_people"),
    path("portal/people/invite/", views.portal_invite, name="portal_people_invite"),
    path(
        "portal/people/<int:pk>/deactivate/", views.portal_person_deactivate, name="portal_person_deactivate"
    ),
    path(
        "portal/people/<int:pk>/reactivate/", views.portal_person_reactivate, name="portal_person_reactivate"
    ),
    path(
        "portal/people/invitations/<int:pk>/resend/",
        views.portal_invitation_resend,
        name="portal_invitation_resend",
    ),
    path(
        "portal/people/invitations/<int:pk>/revoke/",
        views.portal_invitation_revoke,
        name="portal_invitation_revoke",
    ),
    # Public: the invited person chooses a username and a password.
    path("invite/<str:token>/", views.invitation_accept, name="invitation_accept"),
]
