"""Every tool a step may call: the product's own, then the HTTP tools registered in the database."""

from __future__ import annotations

from sqlalchemy import select

from app.store.db import Database
from app.store.models import HttpToolRegistration
from app.tools.http_tools import HttpTool
from app.tools.product_tools import PRODUCT_TOOLS
from app.tools.registry import RunnableTool


def _http_tool(row: HttpToolRegistration) -> HttpTool:
    return HttpTool(row.name, row.description, row.method, row.url_template, dict(row.secret_headers),
                    dict(row.parameters))


class ToolCatalog:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, name: str) -> RunnableTool | None:
        found = PRODUCT_TOOLS.get(name)
        if found is not None:
            return found
        with self._db.session() as session:
            row = session.get(HttpToolRegistration, name)
            return _http_tool(row) if row else None

    def all(self) -> list[RunnableTool]:
        with self._db.session() as session:
            rows = list(session.scalars(select(HttpToolRegistration).order_by(HttpToolRegistration.name)))
        return [*PRODUCT_TOOLS.all(), *(_http_tool(r) for r in rows)]

    def is_product_tool(self, name: str) -> bool:
        return PRODUCT_TOOLS.get(name) is not None
