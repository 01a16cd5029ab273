"""The create, list, read, update and delete bodies that agents, tasks and HTTP tools share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api.errors import ApiError
from app.api.pagination import page, paginate
from app.store.db import Database

Out = Callable[[Any], dict[str, Any]]
Check = Callable[[Session, Any], None]


def get_or_404(session: Session, model: type[Any], item_id: str, what: str) -> Any:
    item = session.get(model, item_id)
    if item is None:
        raise ApiError(404, f"there is no {what} {item_id!r}")
    return item


def create(db: Database, row: Any, out: Out) -> dict[str, Any]:
    with db.session() as session:
        session.add(row)
        session.flush()
        return out(row)


def list_page(db: Database, model: Any, out: Out, limit: int, cursor: str | None) -> dict[str, Any]:
    with db.session() as session:
        rows, next_cursor = paginate(session, select(model), model.id, limit, cursor)
        return page([out(r) for r in rows], next_cursor)


def read(db: Database, model: Any, item_id: str, what: str, out: Out) -> dict[str, Any]:
    with db.session() as session:
        return out(get_or_404(session, model, item_id, what))


def update(db: Database, model: Any, item_id: str, what: str, changes: dict[str, Any], out: Out,
           check: Check) -> dict[str, Any]:
    """`check(session, item)` sees the item before `changes` are applied, and refuses what may not be."""
    with db.session() as session:
        item = get_or_404(session, model, item_id, what)
        check(session, item)
        for field, value in changes.items():
            setattr(item, field, value)
        session.flush()
        return out(item)


def delete(db: Database, model: Any, item_id: str, what: str) -> Response:
    with db.session() as session:
        session.delete(get_or_404(session, model, item_id, what))
    return Response(status_code=204)
