"""The worker process's services, installed once by whoever starts the worker.

RQ finds job functions by dotted name, so they cannot be handed their
collaborators; they ask this module instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.services import Services

_services: Services | None = None


def install(services: Services) -> None:
    global _services
    _services = services


def current() -> Services:
    if _services is None:
        raise RuntimeError("no services installed: start jobs with `acme worker`, which installs them")
    return _services
