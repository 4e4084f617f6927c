from django.urls import path

from sitekeeper.api.views import api

urlpatterns = [path("", api.urls)]
