"""schemathesis against the OpenAPI spec, in-process (ASGI): no generated request may end in a
5xx. Bounded in examples per operation (and derandomised, so a run is repeatable) so that it
stays within ~20 s."""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, settings

from huiqi.web.app import app

#: HUIQI_FUZZ_EXAMPLES=200 for a longer hunt by hand
EXAMPLES = int(os.environ.get("HUIQI_FUZZ_EXAMPLES", "10"))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
def test_no_server_error_for_any_generated_request(case) -> None:
    response = case.call()
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} {case.query} {case.body!r:.300} -> "
        f"{response.status_code} {response.text[:300]}"
    )
