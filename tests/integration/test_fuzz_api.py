"""Property-based fuzzing of the API against its own OpenAPI document (schemathesis): no 5xx,
and every response matches the schema. Bounded: a few dozen examples per operation.

The operations are driven with Hypothesis directly (schemathesis's pytest plugin does not load
under this pytest version), one test per operation.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from tests.support.service import Service

POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
# Operations without inputs have no invalid inputs to generate.
CASES = [
    ("POST", "/api/v1/compare", POSITIVE),
    ("POST", "/api/v1/compare", NEGATIVE),
    ("POST", "/compare", POSITIVE),
    ("POST", "/compare", NEGATIVE),
    ("GET", "/api/v1/methods", POSITIVE),
    ("GET", "/health", POSITIVE),
]


@pytest.mark.parametrize(("verb", "path", "mode"), CASES)
def test_api_never_fails_and_keeps_its_contract(
    service: Service, verb: str, path: str, mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_url(service.base_url + "/openapi.json")
    operation = schema[path][verb]
    checked = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
    )
    def exercise(case: schemathesis.Case) -> None:
        response = case.call_and_validate(
            base_url=service.base_url,
            timeout=120,
            # A schema cannot say "must be a decodable image": random bytes are rightly refused.
            excluded_checks=[schemathesis.checks.positive_data_acceptance],
        )
        checked.append(response.status_code)

    exercise()
    assert checked and all(status < 500 for status in checked)
    assert service.health()["worker"] == "ready"
