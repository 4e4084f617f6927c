"""Site health models, one module per concern; all importable from here."""

from sitekeeper.health.models.health import *  # noqa: F403 (names in its __all__)
from sitekeeper.health.models.jobs import *  # noqa: F403 (names in its __all__)
from sitekeeper.health.models.links import *  # noqa: F403 (names in its __all__)
from sitekeeper.health.models.performance import *  # noqa: F403 (names in its __all__)
