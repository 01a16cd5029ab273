"""The migration from an empty database, and a fuzz run of the API from its own OpenAPI schema."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings
from sqlalchemy import inspect

from app.store.db import make_engine
from app.store.models import Base
from tests.conftest import Stack


def test_acme_db_upgrade_builds_the_schema_from_an_empty_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/fresh.db"
    env = {"DATABASE_URL": url, "PATH": ""}
    for _ in range(2):  # and running it again changes nothing
        result = subprocess.run([sys.executable, "-m", "app", "db", "upgrade"], env=env, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stderr
    engine = make_engine(url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert tables == set(Base.metadata.tables) | {"alembic_version"}


def test_postgresql_was_migrated_from_empty(postgresql_url: str) -> None:
    engine = make_engine(postgresql_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert set(Base.metadata.tables) <= tables


def test_no_input_makes_the_api_answer_5xx(stack_factory, sqlite_db: str) -> None:
    """schemathesis generates requests for every operation in /openapi.json (valid and not); none may 5xx.

    Driven through schemathesis' Python API: its pytest plugin does not run under pytest 9.
    """
    stack: Stack = stack_factory(database_url=sqlite_db, acme_api_rate="100000/s")
    api = schemathesis.openapi.from_url(f"{stack.app.url}/openapi.json")
    failures: list[str] = []
    operations = 0
    for found in api.get_all_operations():
        operation = found.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def answers_without_5xx(case: schemathesis.Case) -> None:
            response = case.call(timeout=10)
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}")

        try:
            answers_without_5xx()
        except AssertionError as exc:
            failures.append(str(exc))
    assert operations >= 25
    assert not failures, failures
