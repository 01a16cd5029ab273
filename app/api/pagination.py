"""Lists as `{"items", "next_cursor"}`, taking `limit` and `cursor`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query
from sqlalchemy.orm import Session

from app.api.errors import ApiError

Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=60)]


def paginate(
    session: Session, query: Any, id_column: Any, limit: int, cursor: str | None
) -> tuple[list[Any], str | None]:
    """Items after `cursor` in id order; ids sort in creation order, so the last id is the next cursor."""
    if cursor:
        numeric = id_column.type.python_type is int
        if numeric and not cursor.isdigit():
            raise ApiError(422, "cursor is not one this list gave out")
        query = query.where(id_column > (int(cursor) if numeric else cursor))
    rows = list(session.scalars(query.order_by(id_column).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (str(rows[-1].id) if more and rows else None)


def page(items: list[Any], next_cursor: str | None) -> dict[str, Any]:
    return {"items": items, "next_cursor": next_cursor}
