"""Every tool a step may call: the built-in ones, then the HTTP tools registered in the database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.store.db import Database
from app.store.models import HttpTool as HttpToolRow
from app.tools.builtin import builtin_tools
from app.tools.http_tools import HttpTool
from app.tools.registry import Tool


def _http_tool(row: HttpToolRow) -> HttpTool:
    return HttpTool(row.name, row.description, row.method, row.url_template, dict(row.secret_headers),
                    dict(row.parameters))


class ToolCatalog:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, name: str) -> Tool | HttpTool | None:
        found = builtin_tools.get(name)
        if found is not None:
            return found
        with self._db.session() as session:
            row = session.get(HttpToolRow, name)
            return _http_tool(row) if row else None

    def all(self) -> list[Any]:
        with self._db.session() as session:
            rows = list(session.scalars(select(HttpToolRow).order_by(HttpToolRow.name)))
        return [*builtin_tools.all(), *(_http_tool(r) for r in rows)]
