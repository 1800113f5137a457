"""One rule, one place: the package runs the library's own validators on its inputs.

Callers in other languages bypass every Python type check, so each component checks its inputs
itself, before it registers anything, and reports a ``pulumi.RunError`` that names the component,
the resource and the input (camelCase, as the caller wrote it).
"""

import re
from collections.abc import Mapping
from typing import Any, TypeVar

import pulumi
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel

MODEL_RULE = re.compile(r"([a-z][A-Za-z0-9.]*): (.*)", re.S)


def input_error(component: str, name: str, key: str, problem: str) -> pulumi.RunError:
    return pulumi.RunError(f"selfhost:index:{component} {name!r}: {key}: {problem}")


def _problem(error: ValidationError) -> tuple[str, str]:
    """The first error's location (camelCase, dotted) and message, without pydantic's prefix."""
    first = error.errors(include_url=False)[0]
    location = ".".join(to_camel(part) if isinstance(part, str) else str(part) for part in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    return location, message


def checked(component: str, name: str, key: str, rule: Any, value: object) -> Any:
    """``value`` validated by ``rule`` (an annotated type of the library, e.g. ``MemorySize``)."""
    try:
        return TypeAdapter(rule).validate_python(value, strict=True)
    except ValidationError as error:
        _, message = _problem(error)
        raise input_error(component, name, key, message) from None


def require(component: str, name: str, args: Mapping[str, object], key: str) -> object:
    """A required input: a caller in another language can leave it out, Python's type checks aside."""
    value = args.get(key)
    if value is None:
        raise input_error(component, name, to_camel(key), "is required")
    return value


M = TypeVar("M", bound=BaseModel)


def model(component: str, name: str, settings: type[M], values: Mapping[str, object]) -> M:
    """``values`` (camelCase keys, as in a stack file) validated by a kind's settings model."""
    try:
        return settings.model_validate(dict(values))
    except ValidationError as error:
        location, message = _problem(error)
        if not location:
            # A model-level rule names its field itself ("path: ... does not exist").
            named = MODEL_RULE.fullmatch(message)
            location, message = (named.group(1), named.group(2)) if named else ("args", message)
        raise input_error(component, name, location, message) from None
