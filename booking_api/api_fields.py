"""Field types of the request models: each joins a check of ``validation`` (what the
service accepts, with its error code and message) to the JSON Schema that describes it
in ``/api/openapi.json``, so the two cannot drift apart.

A field declared ``= required()`` reaches its check as ``MISSING`` when the request
leaves it out, so the check says in its own words that it is required; a field declared
``= absent()`` is checked only when present (a partial update reads
``model_fields_set``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from functools import partial
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainValidator, WithJsonSchema

from booking_api import date_window, validation
from booking_api.validation import MISSING, invalid


def required(description: str | None = None) -> Any:
    return Field(MISSING, validate_default=True, description=description)


def absent(description: str | None = None) -> Any:
    return Field(None, description=description)


def checked_even_if_absent(description: str | None = None) -> Any:
    """An optional field whose check also judges the request without it."""
    return Field(None, validate_default=True, description=description)


def object_expected(message: str, code: str = "required") -> BeforeValidator:
    """A nested object, or the given error at its place (instead of a generic one)."""

    def check(value: Any) -> Any:
        if not isinstance(value, dict):
            raise invalid(code, message)
        return value

    return BeforeValidator(check)


def one_of(choices: tuple[str, ...] | list[str], message: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in choices:
            raise invalid("not-allowed", message)
        return value

    return check


_STRIPPED = (
    "counted after Unicode NFC normalisation and removal of surrounding spaces; "
    "no control, line-separator or bidirectional-override character"
)

# a query's day that may be left out: None is its default, never a value a client sends
OptionalDay = Annotated[
    date | None,
    PlainValidator(date_window.day),
    WithJsonSchema({"type": "string", "format": "date", "examples": ["2027-05-07"]}),
]
Instant = Annotated[
    datetime,
    PlainValidator(date_window.instant),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "description": "ISO 8601; without an offset, Paris time",
        }
    ),
]
PersonName = Annotated[
    str,
    PlainValidator(validation.person_name),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": validation.MAX_NAME,
            "description": f"One line, {_STRIPPED}; at least one letter; no address, link "
            "or markup.",
        }
    ),
]
ContactEmail = Annotated[
    str | None,
    PlainValidator(validation.contact_email),
    WithJsonSchema(
        {
            "type": ["string", "null"],
            "maxLength": validation.MAX_EMAIL,
            "description": "Stored in lower case.",
        }
    ),
]
ContactPhone = Annotated[
    str | None,
    PlainValidator(validation.contact_phone),
    WithJsonSchema(
        {
            "type": ["string", "null"],
            "maxLength": validation.MAX_PHONE,
            "description": "Digits, spaces, dots, hyphens, brackets, an optional leading +; "
            "read as French without +, stored in E.164 (+33612345678).",
        }
    ),
]
Label = Annotated[
    str,
    PlainValidator(validation.required_text),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": validation.MAX_TEXT,
            "description": f"One line, {_STRIPPED}.",
        }
    ),
]
Address = Annotated[
    str,
    PlainValidator(partial(validation.required_text, max_len=500)),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": 500,
            "description": f"One line, {_STRIPPED}.",
        }
    ),
]
OptionalText = Annotated[
    str | None,
    PlainValidator(validation.text),
    WithJsonSchema(
        {
            "type": ["string", "null"],
            "maxLength": validation.MAX_TEXT,
            "description": f"One line, {_STRIPPED}.",
        }
    ),
]
Email = Annotated[
    str,
    PlainValidator(validation.email),
    WithJsonSchema({"type": "string", "format": "email", "maxLength": validation.MAX_EMAIL}),
]
Password = Annotated[
    str,
    PlainValidator(validation.password),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": validation.MIN_PASSWORD,
            "maxLength": validation.MAX_PASSWORD,
        }
    ),
]
Flag = Annotated[bool, PlainValidator(validation.boolean), WithJsonSchema({"type": "boolean"})]


def whole_number(low: int, high: int, step: int = 1) -> PlainValidator:
    """The check of an integer field within ``[low, high]`` by steps of ``step``."""
    return PlainValidator(partial(validation.whole_number, low=low, high=high, step=step))


def whole_number_schema(
    low: int, high: int, step: int = 1, description: str | None = None
) -> WithJsonSchema:
    schema: dict[str, Any] = {"type": "integer", "minimum": low, "maximum": high}
    if step != 1:
        schema["multipleOf"] = step
    if description:
        schema["description"] = description
    return WithJsonSchema(schema)
