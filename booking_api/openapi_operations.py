"""Building blocks of the OpenAPI description: an operation names its request and answer
models (``api_requests``, ``api_responses``) and the schemas are generated from them, so
what is documented is what is validated.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from booking_api.validation import MISSING

REF = "#/components/schemas/{model}"
Schema = type[BaseModel] | dict[str, Any]


class DocumentSchema(GenerateJsonSchema):
    """Pydantic's JSON Schema, with our conventions: a field that defaults to ``MISSING``
    is required (its check says so in its own words), a ``None`` default is no default
    (the field may be left out), and properties carry no generated title."""

    def field_is_required(
        self,
        field: core_schema.ModelField | core_schema.DataclassField | core_schema.TypedDictField,
        total: bool,
    ) -> bool:
        inner = field["schema"]
        if inner["type"] == "default":
            return inner.get("default") is MISSING
        return super().field_is_required(field, total)

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        if schema.get("default") is MISSING or schema.get("default", ...) is None:
            return self.generate_inner(schema["schema"])
        return super().default_schema(schema)

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _schema(schema: Schema) -> dict[str, Any]:
    return ref(schema) if isinstance(schema, type) else schema


def json_answer(schema: Schema, description: str = "OK") -> dict[str, Any]:
    content = {"application/json": {"schema": _schema(schema)}}
    return {"description": description, "content": content}


def path_parameters(*names: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in names
    ]


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """One optional query parameter per field of ``model``."""
    schema = model.model_json_schema(ref_template=REF, schema_generator=DocumentSchema)
    parameters = []
    for name, field_schema in schema["properties"].items():
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": False}
        description = field_schema.pop("description", None)
        if description:
            parameter["description"] = description
        parameter["schema"] = field_schema
        parameters.append(parameter)
    return parameters


class Operations:
    """The operations of the document and every model they name."""

    def __init__(self, error: type[BaseModel]) -> None:
        self.error = error
        self.models: set[type[BaseModel]] = {error}

    def ref(self, model: type[BaseModel]) -> dict[str, str]:
        self.models.add(model)
        return ref(model)

    def list_of(self, model: type[BaseModel]) -> dict[str, Any]:
        self.models.add(model)
        return {"type": "array", "items": ref(model)}

    def errors(self, *statuses: int, **described: str) -> dict[str, Any]:
        """Error answers: ``errors(401, 403, s409="slot-taken")``."""
        answers = {str(s): json_answer(self.error, "Error") for s in statuses}
        for key, description in described.items():
            answers[key.lstrip("s")] = json_answer(self.error, description)
        return answers

    def op(
        self,
        summary: str,
        ok: Schema | dict[str, Any] | None,
        *,
        status: int = 200,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        path: tuple[str, ...] = (),
        errors: dict[str, Any] | None = None,
        staff: bool = False,
        answer: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """An operation. ``ok`` is the answer's model or schema (``answer`` a whole
        non-JSON answer instead). A body or a date in the query may be refused with 400
        (not JSON, a date outside the accepted years) and field errors with 422."""
        for schema in (ok, body):
            if isinstance(schema, type):
                self.models.add(schema)
        success = answer if answer is not None else json_answer(ok or {"type": "object"})
        responses = {str(status): success, **(errors or {})}
        operation: dict[str, Any] = {"summary": summary, "responses": responses}
        parameters = path_parameters(*path)
        if query is not None:
            parameters += query_parameters(query)
        if body is not None or query is not None:
            responses.setdefault("400", json_answer(self.error, "Error"))
            responses.setdefault("422", json_answer(self.error, "Error"))
        if body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": ref(body)}},
            }
        if parameters:
            operation["parameters"] = parameters
        if staff:
            operation["security"] = [{"session": [], "csrf": []}]
        return operation

    def schemas(self, *modules: ModuleType) -> dict[str, Any]:
        """``components.schemas``: every model named, those the ``modules`` declare, and
        the models they hold."""
        declared = {
            value
            for module in modules
            for value in vars(module).values()
            if isinstance(value, type)
            and issubclass(value, BaseModel)
            and value.__module__ == module.__name__
            and value.model_fields
        }
        models = sorted(self.models | declared, key=lambda m: m.__name__)
        _, document = models_json_schema(
            [(m, "validation") for m in models],
            ref_template=REF,
            schema_generator=DocumentSchema,
        )
        return dict(document.get("$defs", {}))
