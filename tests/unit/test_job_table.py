"""Every job in the table is a function RQ can import in the worker, taking what the web process sends it."""

from __future__ import annotations

import inspect

from rq.utils import import_attribute

from app.queueing.job_table import ENTRY_POINTS, FAILURE_CALLBACK, JOB_KINDS, QUEUE_ORDER


def test_every_entry_imports_and_takes_the_arguments_it_is_queued_with() -> None:
    for kind in JOB_KINDS:
        function = import_attribute(kind.function)
        assert callable(function), kind.name
        assert kind.function.startswith(ENTRY_POINTS + "."), f"{kind.name} must enter through {ENTRY_POINTS}"
        assert tuple(inspect.signature(function).parameters) == kind.parameters, kind.name
        assert kind.queue in QUEUE_ORDER, kind.name
        assert kind.timeout_s > 0


def test_names_are_unique_and_every_queue_has_work() -> None:
    assert len({kind.name for kind in JOB_KINDS}) == len(JOB_KINDS)
    assert len({kind.function for kind in JOB_KINDS}) == len(JOB_KINDS)
    assert {kind.queue for kind in JOB_KINDS} == set(QUEUE_ORDER)


def test_the_failure_callback_takes_what_rq_gives_it() -> None:
    callback = import_attribute(FAILURE_CALLBACK)
    assert list(inspect.signature(callback).parameters) == ["job", "connection", "exc_type", "exc", "tb"]
