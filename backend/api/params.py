"""Bounded path, query and body numbers: an id or page no database can hold is a 422, not a 500.

SQLite and PostgreSQL keep ids in signed 64-bit integers; a larger number sent to SQLite raises
``OverflowError`` inside the driver. Ids are bounded lower still, by 2**53 - 1: the largest
integer a JSON number holds exactly in JavaScript (the web UI) and in the float arithmetic that
JSON Schema validators use (with 2**63 - 1 as the maximum, 2**63 + 191 passed the spec's check
and failed the app's). Pages are bounded so that ``(page - 1) * size`` (the SQL OFFSET) fits
too, whatever page size a list allows.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import Field

ID_MAX = 2**53 - 1
# The largest page size any list offers is 500: 2**31 pages of it stay far below 2**63.
PAGE_MAX = 2**31 - 1

IdField = Annotated[int, Field(ge=1, le=ID_MAX)]


def id_path(what: str) -> object:
    return Path(ge=1, le=ID_MAX, description=f"the {what}'s id")


ImageId = Annotated[int, id_path("image")]
JobId = Annotated[int, id_path("job")]
GroupId = Annotated[int, id_path("group")]
PickId = Annotated[int, id_path("pick")]
DecisionId = Annotated[int, id_path("decision")]
PageNo = Annotated[int, Query(ge=1, le=PAGE_MAX, description="the page, from 1")]
