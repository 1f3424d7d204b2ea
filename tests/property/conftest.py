"""The property test's figures (inputs tried, refused, sent), printed in pytest's summary."""

from __future__ import annotations

from collections import Counter
from typing import Any

FIGURES: Counter[str] = Counter()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES["tried"]:
        return
    terminalreporter.write_line(
        f"property inputs: {FIGURES['tried']} tried ({FIGURES['tried_delegated']} on the delegated"
        f" connection, {FIGURES['tried_app']} on the app-only one; {FIGURES['schema_valid']} schema-valid,"
        f" {FIGURES['schema_invalid']} schema-invalid), {FIGURES['refused']} refused as input errors,"
        f" {FIGURES['other_errors']} ended in other connector errors, {FIGURES['succeeded']} succeeded;"
        f" {FIGURES['sent']} sent requests ({FIGURES['requests']} requests in all,"
        f" {FIGURES['invalid_sent']} of them for schema-invalid input)"
    )
