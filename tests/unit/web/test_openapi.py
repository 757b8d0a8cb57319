"""The OpenAPI document describes every machine route, and real answers validate against it."""

from __future__ import annotations

import re

import jsonschema
import pytest
from openapi_spec_validator import validate

from tests.support.web import admin_key

MACHINE = re.compile(r"^/(api/v2/|health$|metrics$)")


@pytest.fixture
def api(pg_app):
    return pg_app


def openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def test_the_document_is_valid_openapi(api):
    document = api.test_client().get("/api/v2/openapi.json").json
    validate(document)


def test_every_machine_route_is_described(api):
    document = api.test_client().get("/api/v2/openapi.json").json
    missing = []
    for rule in api.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            v2 = "/api/v2/" + rule.rule[len("/api/v1/"):]
            assert any(r.rule == v2 for r in api.url_map.iter_rules()), f"{rule.rule} has no /api/v2 twin"
            continue
        if not MACHINE.match(rule.rule):
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if method.lower() not in document["paths"].get(openapi_path(rule.rule), {}):
                missing.append(f"{method} {rule.rule}")
    from web import ingest

    missing += [f"POST {path}" for path in ingest.PATHS
                if not path.startswith("/api/v1/") and "post" not in document["paths"].get(path, {})]
    assert not missing, f"routes missing from openapi.json: {missing}"


def check(document: dict, response, method: str, template: str) -> None:
    """Validate ``response`` against the document's schema for (method, path, status)."""
    operation = document["paths"][template][method]
    described = operation["responses"].get(str(response.status_code))
    assert described, f"{method} {template} answered {response.status_code}, which the document does not list"
    schema = described["content"]["application/json"]["schema"]
    jsonschema.Draft202012Validator({**schema, "components": document["components"]}).validate(response.json)
    if template.startswith("/api/"):
        assert response.headers["X-API-Version"]


def test_answers_validate_against_the_document(api):
    client = api.test_client()
    document = client.get("/api/v2/openapi.json").json
    key = {"X-API-KEY": admin_key()}
    calls = [
        ("get", "/api/v2/metrics", "/api/v2/metrics", None),
        ("get", "/api/v2/slo", "/api/v2/slo", None),
        ("post", "/api/v2/users", "/api/v2/users", {"username": "ivan", "password": "twelve chars!", "role": "viewer"}),
        ("post", "/api/v2/users", "/api/v2/users", {"username": "ivan", "password": "twelve chars!"}),  # 409
        ("get", "/api/v2/users", "/api/v2/users", None),
        ("post", "/api/v2/api-keys", "/api/v2/api-keys", {"name": "k", "scopes": ["read"]}),
        ("get", "/api/v2/api-keys", "/api/v2/api-keys", None),
        ("get", "/api/v2/config-audit?limit=2", "/api/v2/config-audit", None),
        ("get", "/api/v2/audit-logs?page=x", "/api/v2/audit-logs", None),  # 400
        ("get", "/api/v2/audit-logs", "/api/v2/audit-logs", None),
        ("get", "/api/v2/config/log_level", "/api/v2/config/{key}", None),
    ]
    for method, url, template, body in calls:
        response = getattr(client, method)(url, json=body, headers=key)
        check(document, response, method, template)
    check(document, client.get("/api/v2/metrics"), "get", "/api/v2/metrics")  # 401
    check(document, client.post("/api/v2/ingest", json={"message": "x"}), "post", "/api/v2/ingest")  # 401, v2.5 shape
