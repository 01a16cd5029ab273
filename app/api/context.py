"""Context: values a workflow's steps read as `{{ context.key }}`, for the workflow or for one run."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from app.api.backend import ApiBackend, Backend
from app.api.errors import ApiError
from app.api.pagination import Cursor, Limit, page, paginate
from app.api.runs import find_run
from app.api.schemas import ContextIn, ContextOut
from app.api.workflows import find_workflow
from app.store.models import ContextEntry

router = APIRouter()


def _put_context(backend: ApiBackend, body: ContextIn, workflow_id: str | None,
                 run_id: str | None) -> dict[str, Any]:
    with backend.db.session() as session:
        query = select(ContextEntry).where(ContextEntry.key == body.key)
        query = query.where(ContextEntry.run_id == run_id) if run_id else query.where(
            ContextEntry.workflow_id == workflow_id, ContextEntry.run_id.is_(None))
        entry = session.scalars(query).first()
        if entry is None:
            entry = ContextEntry(workflow_id=workflow_id, run_id=run_id, key=body.key, value=body.value)
            session.add(entry)
        else:
            entry.value = body.value
        session.flush()
        return ContextOut.model_validate(entry, from_attributes=True).model_dump(mode="json")


def _list_context(backend: ApiBackend, limit: int, cursor: str | None, workflow_id: str | None,
                  run_id: str | None) -> dict[str, Any]:
    with backend.db.session() as session:
        query = select(ContextEntry).where(ContextEntry.run_id == run_id) if run_id else select(ContextEntry).where(
            ContextEntry.workflow_id == workflow_id, ContextEntry.run_id.is_(None))
        rows, next_cursor = paginate(session, query, ContextEntry.id, limit, cursor)
        return page([ContextOut.model_validate(e, from_attributes=True).model_dump(mode="json") for e in rows],
                    next_cursor)


def _check_run_of(backend: ApiBackend, workflow_id: str, run_id: str) -> None:
    with backend.db.session() as session:
        if find_run(session, run_id).workflow_id != workflow_id:
            raise ApiError(404, f"run {run_id!r} is not a run of workflow {workflow_id!r}")


def _check_workflow(backend: ApiBackend, workflow_id: str) -> None:
    with backend.db.session() as session:
        find_workflow(session, workflow_id)


@router.post("/workflows/{workflow_id}/context", status_code=201, response_model=ContextOut, tags=["context"])
def put_workflow_context(workflow_id: str, body: ContextIn, backend: Backend) -> dict[str, Any]:
    _check_workflow(backend, workflow_id)
    return _put_context(backend, body, workflow_id, None)


@router.get("/workflows/{workflow_id}/context", tags=["context"])
def get_workflow_context(workflow_id: str, backend: Backend, limit: Limit = 20,
                         cursor: Cursor = None) -> dict[str, Any]:
    _check_workflow(backend, workflow_id)
    return _list_context(backend, limit, cursor, workflow_id, None)


@router.post("/workflows/{workflow_id}/runs/{run_id}/context", status_code=201, response_model=ContextOut,
             tags=["context"])
def put_run_context(workflow_id: str, run_id: str, body: ContextIn, backend: Backend) -> dict[str, Any]:
    _check_run_of(backend, workflow_id, run_id)
    return _put_context(backend, body, workflow_id, run_id)


@router.get("/workflows/{workflow_id}/runs/{run_id}/context", tags=["context"])
def get_run_context(
    workflow_id: str, run_id: str, backend: Backend, limit: Limit = 20, cursor: Cursor = None
) -> dict[str, Any]:
    _check_run_of(backend, workflow_id, run_id)
    return _list_context(backend, limit, cursor, workflow_id, run_id)
