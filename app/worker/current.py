"""The collaborators of the worker working in this thread.

RQ calls a job's function by its dotted name, so the worker cannot hand it arguments of
its own. It sets them here for as long as it works, each thread its own (two workers in
one process never share them), and only the entry points read them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from app.composition import Collaborators

_collaborators: ContextVar[Collaborators] = ContextVar("acme_worker_collaborators")


@contextmanager
def working_with(collaborators: Collaborators) -> Iterator[None]:
    token = _collaborators.set(collaborators)
    try:
        yield
    finally:
        _collaborators.reset(token)


def this_worker() -> Collaborators:
    try:
        return _collaborators.get()
    except LookupError:
        raise RuntimeError("no ACME worker runs in this thread: jobs are run by `acme worker`") from None
