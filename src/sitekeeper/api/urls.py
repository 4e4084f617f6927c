from django.urls import URLPattern, path

from sitekeeper.api.errors import json_method_not_allowed
from sitekeeper.api.views import api

_patterns, _app, _namespace = api.urls
# A method a path does not take is a JSON 405 too: ninja's path views answer it with a text body.
for pattern in _patterns:
    if isinstance(pattern, URLPattern):
        pattern.callback = json_method_not_allowed(pattern.callback)

urlpatterns = [path("", (_patterns, _app, _namespace))]
