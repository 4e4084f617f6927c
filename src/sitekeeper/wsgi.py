"""The WSGI entry for `sitekeeper serve` and any other WSGI server: what the app creates (database
journals, uploads, attachments) is owner-only, as under the `sitekeeper` command (sitekeeper.files)."""

import os

from django.core.wsgi import get_wsgi_application

from sitekeeper.files import restrict_umask

restrict_umask()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sitekeeper.settings")
application = get_wsgi_application()
