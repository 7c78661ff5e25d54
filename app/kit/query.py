"""A query string validated as one Pydantic model, in one call.

FastAPI's own query-parameter models re-inspect every field's annotation (is it a sequence? which
alias?) on every request; on GET /tasks that cost more than validating the values. Here the
shape is worked out once, the values go to `model_validate` in one pass, and errors come out
exactly as FastAPI's would (422, `loc` starting with "query"). The OpenAPI parameters are
generated from the same model (`openapi_parameters`), so the documentation cannot drift.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Generic, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


def _is_list(annotation: Any) -> bool:
    """`list[X]` or `list[X] | None`: the parameter may repeat (`?status=a&status=b`)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_is_list(arg) for arg in typing.get_args(annotation))
    return typing.get_origin(annotation) is list


class QueryString(Generic[Model]):
    """`Depends(QueryString(SomeModel))`: the request's query string as a `SomeModel`.
    Unknown parameters are passed on and the model decides (e.g. `extra="ignore"`)."""

    def __init__(self, model: type[Model]) -> None:
        self.model = model
        self.repeatable = frozenset(
            name for name, field in model.model_fields.items() if _is_list(field.annotation)
        )

    async def __call__(self, request: Request) -> Model:
        params = request.query_params
        values = {
            name: params.getlist(name) if name in self.repeatable else params[name]
            for name in params
        }
        try:
            return self.model.model_validate(values)
        except ValidationError as exc:
            errors = [
                {**error, "loc": ("query", *error["loc"])}
                for error in exc.errors(include_url=False)
            ]
            raise RequestValidationError(errors) from None

    def openapi_parameters(self) -> list[dict[str, Any]]:
        """The model's fields as OpenAPI query parameters (for a route's `openapi_extra`), with
        referenced schemas inlined so that the operation stands on its own."""
        schema = self.model.model_json_schema()
        definitions = schema.get("$defs", {})
        required = set(schema.get("required", ()))
        parameters = []
        for name, field_schema in schema["properties"].items():
            inlined = _inline_refs(field_schema, definitions)
            description = inlined.pop("description", None)
            parameter = {"name": name, "in": "query", "required": name in required}
            if description:
                parameter["description"] = description
            parameters.append({**parameter, "schema": inlined})
        return parameters


def _inline_refs(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        inlined = {key: _inline_refs(value, definitions) for key, value in node.items()}
        if "$ref" in inlined:  # its siblings (description, default) win over the definition's
            target = definitions[inlined.pop("$ref").rsplit("/", 1)[-1]]
            inlined = {**_inline_refs(target, definitions), **inlined}
        return inlined
    if isinstance(node, list):
        return [_inline_refs(item, definitions) for item in node]
    return node
