"""URL conf for the performance tests: the project's URLs plus the performance routes and API router, so the
tests run before and after the lead wires them into sitekeeper/urls.py and api/views.py (then the project's
own mounting is used and this adds nothing that matters)."""

from __future__ import annotations

from django.urls import include, path
from ninja import NinjaAPI

from sitekeeper.api import views as api_views
from sitekeeper.api.auth import TokenAuth
from sitekeeper.api.performance import router
from sitekeeper.urls import urlpatterns as project

extra = []
if getattr(router, "api", None) is None:
    test_api = NinjaAPI(
        title="performance (tests)", version="test", urls_namespace="perf-test", auth=TokenAuth()
    )
    test_api.add_router("/performance", router)
    extra.append(path("api/v1-test/", test_api.urls))
    API = "/api/v1-test/performance"
else:
    API = "/api/v1/performance"
assert api_views.api is not None  # the project's API is built (and may have mounted the router) first

urlpatterns = [*extra, path("", include("sitekeeper.health.urls_performance")), *project]
