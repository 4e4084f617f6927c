import pytest

from sitekeeper.contracts.models import Plan


@pytest.mark.django_db
def test_builtin_plans_exist_after_migrations():
    assert list(Plan.objects.values_list("slug", flat=True)) == [
        "starter",
        "professional",
        "business",
        "enterprise",
    ]
