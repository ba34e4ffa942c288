"""The field errors of one request, collected so that all of them are reported at once:
those the request model finds, then those only the database can tell (an unknown motif).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from booking_api.date_window import OUT_OF_RANGE, DateOutOfRange
from booking_api.errors import ValidationFailed

Model = TypeVar("Model", bound=BaseModel)


def field_path(location: tuple[int | str, ...], context: Mapping[str, Any] | None) -> str:
    """``citizen.name``, ``rules.2.start``: the error's place in the request; a check that
    judges another field names it (``at``, from the model the check belongs to)."""
    parts = [str(part) for part in location]
    at = (context or {}).get("at")
    if at:
        parts = [*parts[:-1], *str(at).split(".")]
    return ".".join(parts)


class FieldErrors:
    def __init__(self) -> None:
        self.messages: dict[str, str] = {}
        self.codes: dict[str, str] = {}

    def add(self, field: str, code: str, message: str) -> None:
        self.messages[field] = message
        self.codes[field] = code

    def __contains__(self, field: str) -> bool:
        return field in self.messages

    def read(self, model: type[Model], data: Any, **context: Any) -> Model | None:
        """``data`` as ``model``, or ``None`` with its field errors noted here."""
        try:
            return model.model_validate(data, context=context)
        except ValidationError as exc:
            for error in exc.errors(include_url=False, include_input=False):
                context_of_error = error.get("ctx")
                field = field_path(error["loc"], context_of_error)
                if field not in self.messages:  # the first failure of a field says it
                    self.add(field, error["type"], error["msg"])
            return None

    def raise_if_any(self) -> None:
        """A date outside the accepted years answers 400 on its own (``date_window``);
        any other field error 422 with all of them."""
        for field, code in self.codes.items():
            if code == OUT_OF_RANGE:
                raise DateOutOfRange(field, self.messages[field])
        if self.messages:
            raise ValidationFailed(dict(self.messages), codes=dict(self.codes))


def read(model: type[Model], data: Any, **context: Any) -> Model:
    """``data`` as ``model``, or the request's field errors raised."""
    errors = FieldErrors()
    value = errors.read(model, data, **context)
    errors.raise_if_any()
    assert value is not None
    return value
