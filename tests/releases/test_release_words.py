"""The portal's release page names each smoke check as a client reads it: no server paths."""

from __future__ import annotations

import pytest

from sitekeeper.releases.templatetags.release_words import client_check


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("apply updates", "Updates applied"),
        ("page /", "Page / answers"),
        ("no PHP fatal on /bestellen/", "No PHP errors on /bestellen/"),
        ("PHP error log /srv/sites/bakery/wp-content/debug.log", "No new errors in the site's error log"),
        ("after rollback: page /", "After the rollback: page / answers"),
        (
            "after rollback: PHP error log /srv/x/debug.log",
            "After the rollback: no new errors in the site's error log",
        ),
        ("expected text on /kontakt/", "Expected text on /kontakt/"),
    ],
)
def test_client_check_names(name, shown):
    assert client_check(name) == shown
    assert "/srv/" not in client_check(name)
