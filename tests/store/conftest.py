"""A store in a temporary home, with a controllable clock and no key in the environment.

``store`` (and ``location``) run each test on both backends: a SQLite file, and a fresh schema of
a throw-away PostgreSQL cluster started once per test run (``bench._postgres``; skipped with the
reason where PostgreSQL is missing or cannot start, unless ``OUTLOOK_CONNECTOR_REQUIRE_POSTGRES``
is set, as CI does: then that is a failure)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bench._postgres import TemporaryPostgres, unavailable
from connector.store import Store

REQUIRE_POSTGRES = "OUTLOOK_CONNECTOR_REQUIRE_POSTGRES"


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("OUTLOOK_CONNECTOR_KEY", raising=False)
    monkeypatch.delenv("OUTLOOK_CONNECTOR_STORE", raising=False)
    monkeypatch.setenv("OUTLOOK_CONNECTOR_HOME", str(tmp_path / "home"))


def _no_postgres(reason: str) -> None:
    if os.environ.get(REQUIRE_POSTGRES):
        pytest.fail(f"PostgreSQL is required ({REQUIRE_POSTGRES} is set) but {reason}")
    pytest.skip(f"PostgreSQL: {reason}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[TemporaryPostgres]:
    reason = unavailable()
    if reason is not None:
        _no_postgres(reason)
    try:
        server = TemporaryPostgres().start()
    except (RuntimeError, OSError) as exc:
        _no_postgres(f"the cluster could not start: {exc}")
    yield server
    server.stop()


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty schema of the test run's cluster."""
    server: TemporaryPostgres = request.getfixturevalue("postgres_server")
    schema = server.new_schema()
    request.addfinalizer(lambda: server.drop_schema(schema))
    return server.url(search_path=schema)


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a store lives: a SQLite file or a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(tmp_path / "state.db")
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(location: str, clock: FakeClock) -> Iterator[Store]:
    with Store(location, clock=clock) as opened:
        yield opened


@pytest.fixture
def open_store(location: str) -> Iterator[Callable[..., Store]]:
    """Another ``Store`` on the same database (as another process would open it)."""
    opened: list[Store] = []

    def make(**options: Any) -> Store:
        another = Store(location, **options)
        opened.append(another)
        return another

    yield make
    for another in opened:
        another.close()
