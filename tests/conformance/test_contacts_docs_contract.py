"""Docs contract of the contact actions: as test_docs_contract.py, for ``CONTACT_CASES``.

They run apart only because the Graph OpenAPI documents held in ../shared/graph-openapi have no
PersonalContacts module: the conformance plugin would refuse every ``/contacts`` request as "no
operation matches". The documented examples themselves are the contract here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.runtime import Runtime
from tests.conformance.cases.folders_contacts_settings import CONTACT_CASES
from tests.support import graph_docs
from tests.support.connections import StaticConnection
from tests.support.docs_contract import doc_call, documented_cassette
from tests.support.graph_conformance import GraphRequest

pytestmark = [
    graph_docs.requires_docs(),
    pytest.mark.graph_nonconformant(
        "the held OpenAPI documents lack the contacts module (PersonalContacts.yml)",
        match=r"^\w+ /(me|users/[^/]+)/contacts(/[^/]+)?$",
    ),
]


@pytest.fixture(scope="module")
def runtime() -> Iterator[Runtime]:
    with Runtime(strict_output=True) as rt:
        yield rt


@pytest.mark.parametrize("name", sorted(CONTACT_CASES))
def test_documented_contact_example(
    name: str, runtime: Runtime, tmp_path: Path, graph_requests: list[GraphRequest]
) -> None:
    case = CONTACT_CASES[name]
    call = doc_call(graph_docs.example(name), case.faults)
    with documented_cassette(call, tmp_path):
        output = runtime.run_action(case.action, case.derive(call), StaticConnection())
    assert len(graph_requests) == 1, [str(r) for r in graph_requests]
    if case.expect is not None:
        case.expect(call, output)
