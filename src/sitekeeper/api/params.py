"""The API's path and query parameters, each with the range or the values it takes, so the OpenAPI document
says them and a value outside them is a 422 naming the parameter — never a database error.

Enums are the models' own choices (`choices_of`), so the document cannot drift from what is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from django.db.models import Model
from ninja.params.functions import Path, Query
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

# Ids are 64-bit (settings.DEFAULT_AUTO_FIELD is BigAutoField): a larger number names nothing, and would
# overflow the database's integer instead of being a plain "no such object".
MAX_ID = 2**63 - 1
# Paging: far beyond any real list, and far below the database's 64-bit OFFSET.
MAX_OFFSET = 1_000_000
SLUG_PATTERN = r"^[-a-zA-Z0-9_]+$"
# Months the figures can be asked for: YYYY-MM from 2000-01 to 2099-12.
MONTH_PATTERN = r"^20[0-9]{2}-(0[1-9]|1[0-2])$"


def object_id(what: str) -> Any:
    """A path parameter holding an object's id (1 … 2⁶³−1)."""
    return Annotated[int, Path(..., ge=1, le=MAX_ID, description=f"The {what}'s id")]


def slug(what: str) -> Any:
    """A path parameter holding an object's slug."""
    about = f"The {what}'s slug"
    return Annotated[str, Path(..., min_length=1, max_length=50, pattern=SLUG_PATTERN, description=about)]


def month_query(description: str) -> Any:
    return Annotated[str | None, Query(pattern=MONTH_PATTERN, description=description)]


def one_of(values: Sequence[Any], hint: str = "") -> Any:
    """An enum: a Literal of `values` (listed in the OpenAPI document); anything else is refused with
    "expected one of a, b, c" and the `hint`, the words these parameters have always answered with."""
    allowed = tuple(values)
    words = ", ".join(str(value) if value != "" else '""' for value in allowed)

    def check(value: Any) -> Any:
        if value not in allowed:
            raise PydanticCustomError("enum", f"expected one of {words}{hint}")
        return value

    return Annotated[Literal[allowed], BeforeValidator(check)]  # type: ignore[valid-type]


def choices_of(model: type[Model], field_name: str, hint: str = "") -> Any:
    """`one_of` a model field's stored values (and "" where it may be blank)."""
    field = model._meta.get_field(field_name)
    values = [value for value, _label in field.flatchoices]  # type: ignore[union-attr]
    if field.blank and "" not in values:  # type: ignore[union-attr]
        values.append("")
    return one_of(values, hint)


SiteId = object_id("site")
