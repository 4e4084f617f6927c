from django.contrib import admin
from django.urls import include, path

from sitekeeper.web.views import admin_login

urlpatterns = [
    # One login page for everyone: Django admin's own login form is replaced by ours (before admin's URLs).
    path("admin/login/", admin_login, name="admin_login"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("sitekeeper.api.urls")),
    path("account/two-factor/", include("sitekeeper.web.urls_twofactor")),
    path("portal/requests/", include("sitekeeper.desk.urls_portal")),
    path("staff/desk/", include("sitekeeper.desk.urls_staff")),
    path("", include("sitekeeper.monitoring.urls")),
    path("", include("sitekeeper.backups.urls")),
    path("", include("sitekeeper.security.urls")),
    path("", include("sitekeeper.health.urls_links")),
    path("", include("sitekeeper.health.urls_performance")),
    path("", include("sitekeeper.releases.urls")),
    path("", include("sitekeeper.web.urls")),
]
