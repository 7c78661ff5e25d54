"""The OpenAPI document describes what the hot endpoints parse by hand (app/kit/query.py and
the bearer dependency in app/auth/deps.py) as FastAPI would have."""

from __future__ import annotations

from typing import Any

import pytest

from app.tasks.schemas import TaskListQuery


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    from app.config import get_settings
    from app.main import create_app

    schema: dict[str, Any] = create_app(get_settings()).openapi()
    return schema


def test_list_tasks_documents_every_query_field(document: dict[str, Any]) -> None:
    parameters = {p["name"]: p for p in document["paths"]["/tasks"]["get"]["parameters"]}

    assert set(parameters) == set(TaskListQuery.model_fields)
    assert all(p["in"] == "query" and p["required"] is False for p in parameters.values())
    sort = parameters["sort"]
    assert sort["schema"]["default"] == "-created_at"
    assert "-priority" in sort["schema"]["enum"]
    assert sort["description"] == TaskListQuery.model_fields["sort"].description
    status_items = parameters["status"]["schema"]["anyOf"][0]
    assert status_items["type"] == "array"
    assert status_items["items"]["enum"] == ["todo", "in_progress", "done"]
    limit = parameters["limit"]["schema"]
    assert (limit["type"], limit["minimum"], limit["maximum"], limit["default"]) == (
        "integer",
        1,
        100,
        20,
    )
    assert "$ref" not in str(parameters)


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/tasks"), ("post", "/tasks"), ("get", "/tasks/{task_id}"), ("get", "/auth/me")],
)
def test_protected_operations_declare_the_bearer_scheme(
    document: dict[str, Any], method: str, path: str
) -> None:
    assert document["paths"][path][method]["security"] == [{"OAuth2PasswordBearer": []}]
    scheme = document["components"]["securitySchemes"]["OAuth2PasswordBearer"]
    assert scheme["flows"]["password"]["tokenUrl"] == "/auth/login"
