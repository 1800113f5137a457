"""Turn the stack's raw config into StackSettings, or one clear error naming every bad key.

The CLI hands the program every value as a string (objects as JSON). This module finds
unknown keys in the ``selfhost:`` namespace, parses objects, lets pydantic validate, and
rewrites pydantic's errors into ``selfhost:<path>: <what is wrong> (got <value>)``.
"""

from __future__ import annotations

import difflib
import json
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_core import ErrorDetails

from components.apps.kind import Kind
from components.apps.registry import KINDS
from config.settings import StackSettings, stack_settings_model

NAMESPACE = "selfhost"
NAMESPACE_LOOKALIKE_RATIO = 0.75
"""difflib's similarity from which another namespace counts as a typo of ours: ``selfhots`` (0.88),
``self-host`` (0.94) and ``selfhst`` (0.93) do, ``hcloud``, ``docker``, ``command``, ``random`` do not."""
PROVIDER_SECRETS = {"hcloud:token": "HCLOUD_TOKEN"}
"""Provider config this stack needs that must be set with --secret (or come from the environment variable)."""


@dataclass(frozen=True)
class Schema:
    """What the loader validates against: the stack's model and each app kind's, from a kinds registry."""

    stack: type[StackSettings]
    kinds: Mapping[str, type[BaseModel]]

    @classmethod
    def of(cls, kinds: Mapping[str, Kind]) -> Schema:
        return cls(stack=stack_settings_model(kinds), kinds={name: kind.settings for name, kind in kinds.items()})

    @property
    def kind_names(self) -> tuple[str, ...]:
        return tuple(self.kinds)


SCHEMA = Schema.of(KINDS)
KIND_MODELS = SCHEMA.kinds
APP_KINDS = SCHEMA.kind_names


class ConfigError(pulumi.RunError):
    """Bad stack config; the CLI prints the message alone, without a traceback."""


def config_keys(model: type[BaseModel] = StackSettings) -> dict[str, str]:
    """Config key (camelCase) -> field name, for one model."""
    return {(field.alias or name): name for name, field in model.model_fields.items()}


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]


def _is_object_field(name: str) -> bool:
    annotation = StackSettings.model_fields[name].annotation
    origin = typing.get_origin(annotation)
    return origin is dict or bool(_models_in(annotation))


def _is_secret_field(name: str) -> bool:
    return SecretStr in typing.get_args(StackSettings.model_fields[name].annotation)


def _model_at(path: Sequence[str | int], schema: Schema = SCHEMA) -> type[BaseModel] | None:
    """The model that holds the key at the end of ``path`` (a location without app kind tags)."""
    model: type[BaseModel] = schema.stack
    index = 0
    while index < len(path) - 1:
        key = path[index]
        if model is schema.stack and key == "apps":
            kind = path[index + 2] if index + 2 < len(path) else None
            if kind not in schema.kinds:
                return None
            model, index = schema.kinds[str(kind)], index + 3
            continue
        fields = config_keys(model)
        if key not in fields:
            return None
        nested = _models_in(model.model_fields[fields[str(key)]].annotation)
        if not nested:
            return None
        model, index = nested[0], index + 1
    return model


def _display_path(loc: Sequence[str | int], schema: Schema = SCHEMA) -> str:
    """Drop the discriminator tag pydantic puts after an app's name: apps.blog.wordpress.x -> apps.blog.x."""
    parts = [part for part in loc if part != "[key]"]
    if len(parts) >= 3 and parts[0] == "apps" and parts[2] in schema.kinds:
        del parts[2]
    return ".".join(str(part) for part in parts)


def _show(value: object) -> str:
    if isinstance(value, SecretStr):
        return "[secret]"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


_OBJECT_ERRORS = frozenset({"dict_type", "model_type", "model_attributes_type"})


def _description(loc: Sequence[str | int], schema: Schema = SCHEMA) -> str | None:
    """The description of the key at ``loc``, which says what it holds."""
    model = _model_at(loc, schema)
    field = config_keys(model).get(str(loc[-1])) if model and loc else None
    return model.model_fields[field].description if model and field else None


def _field_help(loc: Sequence[str | int], schema: Schema = SCHEMA) -> str:
    description = _description(loc, schema)
    return f" ({description})" if description else ""


def _object_help(loc: Sequence[str | int], schema: Schema = SCHEMA) -> str:
    """What an object at ``loc`` may hold: its keys, or for an app its kind and host name."""
    if len(loc) == 2 and loc[0] == "apps":
        return f" with kind ({', '.join(schema.kind_names)}), hostname and that kind's options"
    model = _model_at([*loc, ""], schema)
    if model is not None:
        return f" with keys {', '.join(sorted(config_keys(model)))}"
    description = _description(loc, schema)
    return f"; {description}" if description else ""


def _describe(error: ErrorDetails, schema: Schema = SCHEMA) -> str:
    loc = error["loc"]
    kind = error["type"]
    path = _display_path(loc, schema)
    value = error.get("input")
    if kind == "extra_forbidden":
        parent = _model_at(loc, schema)
        allowed = ", ".join(sorted(config_keys(parent))) if parent else "see the README"
        return f"{NAMESPACE}:{path}: unknown key {str(loc[-1])!r}; allowed here: {allowed}"
    if kind == "missing":
        return f"{NAMESPACE}:{path}: is required{_field_help(loc, schema)}"
    if kind in _OBJECT_ERRORS:
        return f"{NAMESPACE}:{path}: must be an object (a YAML map){_object_help(loc, schema)} (got {_show(value)})"
    if kind == "union_tag_invalid":
        return (
            f"{NAMESPACE}:{path}.kind: unknown app kind {_show(error.get('ctx', {}).get('tag'))}; "
            f"allowed kinds: {', '.join(schema.kind_names)}"
        )
    if kind == "union_tag_not_found":
        return f"{NAMESPACE}:{path}.kind: is required, one of: {', '.join(schema.kind_names)}"
    message = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if not loc:
        # Cross-field checks name their keys at the start of the message.
        return f"{NAMESPACE}:{message}"
    if kind == "value_error":
        # A check across an object's fields names its key first ("adminEmail: ..."): put it in the path.
        head, colon, rest = message.partition(": ")
        model = _model_at([*loc, ""], schema)
        if colon and model is not None and head in config_keys(model):
            return f"{NAMESPACE}:{path}.{head}: {rest}"
        return f"{NAMESPACE}:{path}: {message}"
    return f"{NAMESPACE}:{path}: {message[:1].lower()}{message[1:]} (got {_show(value)})"


def parse_settings(raw: Mapping[str, object], schema: Schema = SCHEMA) -> StackSettings:
    """Validate already-parsed config values (keys without the namespace)."""
    try:
        # Config keys are camelCase only: a snake_case twin would be a second, silently competing spelling.
        return schema.stack.model_validate(dict(raw), by_alias=True, by_name=False)
    except ValidationError as error:
        lines = sorted({_describe(detail, schema) for detail in error.errors()})
        raise ConfigError("invalid stack configuration:\n  " + "\n  ".join(lines)) from None


def is_namespace_lookalike(namespace: str) -> bool:
    """A namespace that is not ours but reads like a typo of it (``selfhots``, ``SelfHost``, ``selfhost-dev``)."""
    folded = namespace.casefold()
    if namespace == NAMESPACE:
        return False
    return NAMESPACE in folded or difflib.SequenceMatcher(None, folded, NAMESPACE).ratio() >= NAMESPACE_LOOKALIKE_RATIO


def name_prefix_problems(project: str, stack: str) -> list[str]:
    """Why ``<project>-<stack>`` cannot prefix this stack's Docker names without colliding with another's.

    Names are ``<project>-<stack>-<app>-<role>``; app names have no '-', roles may (``db-data``).
    With a '-' in the project or stack name, two stacks on one engine can own the same name:
    stack ``dev-blog``'s app ``db`` and stack ``dev``'s app ``blog`` both get
    ``selfhost-dev-blog-db-data``. Without one, a name splits back into exactly one
    (project, stack, app, role). The scheme itself stays: changing it would rename volumes.
    """
    problems = []
    for what, name, example in (("project", project, "in Pulumi.yaml"), ("stack", stack, "`pulumi stack init`")):
        if "-" in name:
            problems.append(
                f"{what} name {name!r} contains '-': Docker objects are named <project>-<stack>-<app>-<role>, so "
                f"with a '-' in the {what} name two stacks on one engine can own the same container or volume "
                f"(stack 'dev-blog' app 'db' and stack 'dev' app 'blog' both give 'selfhost-dev-blog-db-data'); "
                f"choose a {what} name of letters, digits, '_' or '.' ({example}, e.g. {name.replace('-', '_')!r}; "
                "a deployed stack's volumes are named after it, so back up its data before moving it)"
            )
    return problems


def settings_from_config(
    config: Mapping[str, str], secret_keys: frozenset[str] = frozenset(), schema: Schema = SCHEMA
) -> StackSettings:
    """Settings from config as the CLI passes it: ``{"selfhost:httpPort": "8080", ...}``.

    ``schema``: the stack's (``SCHEMA``, from components/apps/registry.py) unless a test hands another."""
    keys = config_keys()
    problems: list[str] = []
    raw: dict[str, object] = {}
    secret_objects: set[str] = set()
    for full_key, text in sorted(config.items()):
        namespace, _, key = full_key.partition(":")
        if full_key in PROVIDER_SECRETS and full_key not in secret_keys and text:
            problems.append(
                f"{full_key}: is in plain text in the stack file (a committed file shows it); set it with "
                f"`pulumi config set --secret {full_key}`, or export {PROVIDER_SECRETS[full_key]} instead"
            )
            continue
        if namespace != NAMESPACE:
            if is_namespace_lookalike(namespace):
                problems.append(
                    f"{full_key}: namespace {namespace!r} is not this project's; the program reads only "
                    f"{NAMESPACE}:<key>, so this value would be ignored. Move it: `pulumi config rm {full_key}` "
                    f"then `pulumi config set {NAMESPACE}:{key} ...`"
                )
            continue
        if key not in keys:
            problems.append(
                f"{full_key}: unknown key; allowed keys: {', '.join(sorted(keys))} "
                f"(remove it with `pulumi config rm {key}`)"
            )
            continue
        field = keys[key]
        if (_is_secret_field(field) or _is_object_field(field)) and text == "":
            continue  # Pulumi.yaml's default for an unset secret or object
        if _is_secret_field(field) and full_key not in secret_keys:
            problems.append(f"{full_key}: must be a secret; set it with `pulumi config set --secret {key} ...`")
            continue
        if full_key in secret_keys and _is_object_field(field):
            # Secure values inside it (`config set --secret --path`) make the whole object a secret
            # key; which of its values were secure is decided after validation (_secret_value_problems).
            secret_objects.add(key)
        elif full_key in secret_keys and not _is_secret_field(field):
            # Carrying secretness through would make every derived name, URL and preview [secret];
            # handling it as plain text would break the promise --secret makes. Refuse instead.
            secrets = ", ".join(sorted(k for k in keys if _is_secret_field(keys[k])))
            problems.append(
                f"{full_key}: is set as a secret, but the program uses it in plain text (resource inputs, "
                f"previews, outputs), so it would not stay secret; only {secrets} may be secrets. Set it "
                f"without --secret: `pulumi config set {key} ...` (for a value inside it, without --secret --path)"
            )
            continue
        if _is_object_field(field):
            try:
                raw[key] = json.loads(text)
            except json.JSONDecodeError:
                problems.append(
                    f"{full_key}: must be an object (a YAML map in the stack file){_object_help([key], schema)} "
                    f"(got {_show(text)})"
                )
        else:
            raw[key] = text
    if problems:
        raise ConfigError("invalid stack configuration:\n  " + "\n  ".join(problems))
    settings = parse_settings(raw, schema)
    problems = _secret_value_problems(settings, secret_objects, keys)
    if problems:
        raise ConfigError("invalid stack configuration:\n  " + "\n  ".join(problems))
    return settings


def secret_value_paths(value: object, path: str) -> list[str]:
    """Config paths (camelCase, ``apps.tool.secrets.API_TOKEN``) of the secret values inside ``value``."""
    if isinstance(value, SecretStr):
        return [path]
    if isinstance(value, BaseModel):
        fields = type(value).model_fields
        return [
            p
            for name, info in fields.items()
            for p in secret_value_paths(getattr(value, name), f"{path}.{info.alias or name}")
        ]
    if isinstance(value, dict):
        return [p for key, item in sorted(value.items()) for p in secret_value_paths(item, f"{path}.{key}")]
    if isinstance(value, list | tuple):
        return [p for index, item in enumerate(value) for p in secret_value_paths(item, f"{path}.{index}")]
    return []


def _secret_value_problems(settings: StackSettings, secret_objects: set[str], keys: Mapping[str, str]) -> list[str]:
    """An object key is a secret key exactly when it holds secret values (a kind's ``secrets``).

    Pulumi stores a value set with ``config set --secret --path apps.x.secrets.Y`` encrypted inside
    the object and hands the program the whole object decrypted, with ``selfhost:apps`` among the
    secret keys (pulumi/pulumi sdk/go/common/resource/config/value.go; the Python SDK reads that
    list as it is, 3.272 runtime/config.py): secrecy is known per top-level key only. So: an object
    holding secret values must be a secret key (else they are in plain text in the stack file), and
    one holding none must not be (else every name and URL derived from it would have to be secret).
    Which values inside a secret object were encrypted the engine does not say: load_settings reads the
    stack file for that (stack_file_secret_problems; docs/apps.md, the container kind).
    """
    problems: list[str] = []
    for key, field in sorted(keys.items()):
        if not _is_object_field(field):
            continue
        paths = secret_value_paths(getattr(settings, field), key)
        if key in secret_objects and not paths:
            secrets = ", ".join(sorted(k for k in keys if _is_secret_field(keys[k])))
            problems.append(
                f"{NAMESPACE}:{key}: is set as a secret, but the program uses it in plain text (resource inputs, "
                f"previews, outputs) and it holds no secret value, so it would not stay secret; only {secrets} may "
                "be secrets, and inside apps the values of a kind's `secrets` map (set with --secret --path). Set "
                f"it without --secret: `pulumi config set {key} ...` (for a value inside it, without --secret --path)"
            )
        if key not in secret_objects:
            problems.extend(
                f"{NAMESPACE}:{path}: is in plain text in the stack file (a committed file shows it); set it with "
                f"`pulumi config set --secret --path '{path}' <value>`"
                for path in paths
            )
    return problems


def load_settings() -> StackSettings:
    """Settings of the running stack (inside `pulumi up`/`preview`, or under mocks)."""
    from pulumi.runtime import config as runtime_config

    problems = name_prefix_problems(pulumi.get_project(), pulumi.get_stack())
    if problems:
        raise ConfigError("invalid stack configuration:\n  " + "\n  ".join(problems))
    # Every key the stack sets, in every namespace: lookalikes of ours are refused by name.
    config = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    secret_keys = frozenset(runtime_config.get_config_secret_keys_env()) | frozenset(runtime_config._SECRET_KEYS.get())
    settings = settings_from_config({k: str(v) for k, v in config.items()}, secret_keys)
    stack_file = Path.cwd() / f"Pulumi.{pulumi.get_stack()}.yaml"
    if stack_file.is_file():
        problems = stack_file_secret_problems(yaml.safe_load(stack_file.read_text()), settings, stack_file.name)
        if problems:
            raise ConfigError("invalid stack configuration:\n  " + "\n  ".join(problems))
    return settings


def _secure_leaves(value: object, path: str) -> Iterator[str]:
    """Paths of the ``{secure: ...}`` values inside a stack file's config value."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            yield path
            return
        for key, item in value.items():
            yield from _secure_leaves(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _secure_leaves(item, f"{path}.{index}")


def _at(value: object, parts: list[str]) -> object:
    """The value at ``parts`` inside ``value``, or KeyError."""
    for part in parts:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise KeyError(part)
    return value


def stack_file_secret_problems(document: object, settings: StackSettings, file_name: str) -> list[str]:
    """What the engine's per-key secrecy cannot show: inside an object set partly with --secret --path,
    which values are encrypted in the stack file.

    A secret value (a kind's ``secrets``) written there in plain text is refused; so is an encrypted
    value where the program uses it in plain text. Values the stack file does not hold (config given
    another way) are not judged.
    """
    config = document.get("config") if isinstance(document, dict) else None
    if not isinstance(config, dict):
        return []
    problems: list[str] = []
    keys = config_keys()
    for key, field in sorted(keys.items()):
        if not _is_object_field(field) or f"{NAMESPACE}:{key}" not in config:
            continue
        written = config[f"{NAMESPACE}:{key}"]
        secret_paths = set(secret_value_paths(getattr(settings, field), key))
        for path in sorted(secret_paths):
            try:
                leaf = _at(written, path.split(".")[1:])
            except KeyError:
                continue
            if not (isinstance(leaf, dict) and set(leaf) == {"secure"}):
                problems.append(
                    f"{NAMESPACE}:{path}: is in plain text in {file_name} (a committed file shows it); set it with "
                    f"`pulumi config set --secret --path '{path}' <value>`"
                )
        for path in _secure_leaves(written, key):
            if path not in secret_paths:
                problems.append(
                    f"{NAMESPACE}:{path}: is encrypted in {file_name}, but the program uses it in plain text "
                    "(resource inputs, previews, outputs), so it would not stay secret; only a kind's `secrets` "
                    f"may be secret inside {key}. Set it without --secret: `pulumi config set --path '{path}' ...`"
                )
    return problems
