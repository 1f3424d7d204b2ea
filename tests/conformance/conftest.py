"""Conformance tests: prints the docs coverage at the end of the session."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.docs_contract import COVERAGE_REPORTS


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    for compute in COVERAGE_REPORTS:
        report = compute()
        if report is None:
            continue
        for line in report.lines():
            terminalreporter.write_line(line)
