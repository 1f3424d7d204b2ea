"""Docs contract of Update Subscription: it reads the subscription (documented GET) to learn the
longest expiry its resource allows, then renews it (documented PATCH), in one cassette."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.runtime import Runtime
from tests.conformance.cases.subscriptions import FUTURE_EXPIRY, same_subscription
from tests.support import graph_docs
from tests.support.connections import StaticConnection
from tests.support.docs_contract import doc_call, documented_cassette
from tests.support.graph_conformance import GraphRequest

pytestmark = graph_docs.requires_docs()


@pytest.fixture(scope="module")
def runtime() -> Iterator[Runtime]:
    with Runtime(strict_output=True) as rt:
        yield rt


def test_documented_update_after_the_documented_get(
    runtime: Runtime, tmp_path: Path, graph_requests: list[GraphRequest]
) -> None:
    get = doc_call(graph_docs.example("get_subscription"))
    patch = doc_call(graph_docs.example("update_subscription"), (FUTURE_EXPIRY,))
    assert get.path == patch.path, "both examples name the same subscription"
    params = {
        "subscription_id": patch.after("subscriptions"),
        "expiration_date_time": patch.body["expirationDateTime"],
    }
    with documented_cassette([get, patch], tmp_path):
        output = runtime.run_action("update_subscription", params, StaticConnection())
    assert [r.method for r in graph_requests] == ["GET", "PATCH"]
    same_subscription(patch, output)
    assert output["expirationCapped"] is False
