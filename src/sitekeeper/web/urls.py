from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from sitekeeper.web import views, views_lockouts, views_password


class FaviconView(RedirectView):
    """/favicon.ico, which browsers ask for whatever the page links: a permanent redirect to the SVG mark.

    The static URL is resolved per request (not at import), so it carries the manifest's hashed name.
    """

    permanent = True

    def get_redirect_url(self, *args: object, **kwargs: object) -> str:
        return static("web/favicon.svg")


urlpatterns = [
    path("", views.home, name="home"),
    # Anyone, signed in or not: the site's icon.
    path("favicon.ico", FaviconView.as_view(), name="favicon"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="registration/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Password reset by e-mail (views_password.py): anyone, signed in or not.
    path("account/password-reset/", views_password.ResetRequestView.as_view(), name="password_reset"),
    path("account/password-reset/sent/", views_password.ResetDoneView.as_view(), name="password_reset_done"),
    path(
        "account/password-reset/<uidb64>/<token>/",
        views_password.ResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "account/password-reset/done/",
        views_password.ResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    # Staff console: agency roles only.
    path("staff/clients/", views.staff_clients, name="staff_clients"),
    path("staff/clients/<slug:slug>/", views.staff_client_detail, name="staff_client_detail"),
    path("staff/contracts/", views.staff_contracts, name="staff_contracts"),
    path("staff/sites/", views.staff_sites, name="staff_sites"),
    path("staff/sites/<int:pk>/", views.staff_site_detail, name="staff_site_detail"),
    path("staff/plans/", views.staff_plans, name="staff_plans"),
    path("staff/audit/", views.staff_audit, name="staff_audit"),
    # Login and API lockouts: the agency admin only.
    path("staff/lockouts/", views_lockouts.staff_lockouts, name="staff_lockouts"),
    path("staff/lockouts/unlock/", views_lockouts.staff_lockout_unlock, name="staff_lockout_unlock"),
    # Client portal overviews and cards (urls_portal.py), the operations console and the manager's page
    # (urls_ops.py), editing the book in the console (urls_console.py), people and invitations
    # (urls_people.py).
    path("", include("sitekeeper.web.urls_portal")),
    path("", include("sitekeeper.web.urls_ops")),
    path("", include("sitekeeper.web.urls_console")),
    path("", include("sitekeeper.web.urls_people")),
    # Any signed-in person: their own API tokens.
    path("account/tokens/", views.account_tokens, name="account_tokens"),
    path("account/tokens/<int:pk>/revoke/", views.account_token_revoke, name="account_token_revoke"),
]
