"""Known faults of Microsoft's OpenAPI documents (graph-openapi), kept apart from sandbox faults.

The docs-replay check validates the sandbox's answers against the documents' response schemas. Where
the documents contradict Graph's own reference pages (and what Graph answers), the problem is listed
here with the reason; every other problem is the sandbox's and fails the test.
"""

from __future__ import annotations

import re

OPENAPI_RESPONSE_FAULTS: tuple[tuple[str, str, str], ...] = ()
"""(operation key regex, problem regex, why it is the documents' fault)."""


def known_openapi_fault(operation: str, problem: str) -> str | None:
    """Why ``problem`` (of an answer to ``operation``) is a fault of the documents, or None."""
    for operation_pattern, problem_pattern, reason in OPENAPI_RESPONSE_FAULTS:
        if re.search(operation_pattern, operation) and re.search(problem_pattern, problem):
            return reason
    return None
