from django.urls import URLPattern, path

from sitekeeper.api.errors import json_answers
from sitekeeper.api.views import api

_patterns, _app, _namespace = api.urls
# JSON where Django would answer with a page: a 405 for a method a path does not take, the root's 404.
for pattern in _patterns:
    if isinstance(pattern, URLPattern):
        pattern.callback = json_answers(pattern.callback)

urlpatterns = [path("", (_patterns, _app, _namespace))]
