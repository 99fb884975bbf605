"""Config validation with messages that name the key and the allowed values."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A config value is missing, of the wrong type, or not one of the allowed values."""


def load_schema(path: str | Path = SCHEMA_PATH) -> dict:
    return yaml.safe_load(Path(path).read_text())


def _describe(error: jsonschema.ValidationError) -> str:
    key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    schema = error.schema if isinstance(error.schema, dict) else {}
    allowed = ""
    options = schema.get("anyOf") or schema.get("oneOf")
    if "enum" in schema:
        allowed = f"; allowed values: {', '.join(map(str, schema['enum']))}"
    elif options:
        parts = []
        for opt in options:
            if "enum" in opt:
                parts.append(" | ".join(map(str, opt["enum"])))
            elif "pattern" in opt:
                parts.append(f"string matching {opt['pattern']}")
            else:
                parts.append(str(opt.get("type")))
        allowed = f"; allowed: {' or '.join(parts)}"
    if error.validator == "additionalProperties":
        props = ", ".join(sorted(schema.get("properties", {})))
        return f"config key '{key}': {error.message}; known keys: {props}"
    return f"config key '{key}': got {error.instance!r} ({error.message}){allowed}"


def _parse_cli_string(value: str, sub: dict) -> Any:
    """``--config steps=200`` or ``seeds=[1,2]`` arrive as strings (YAML BaseLoader): read them
    as YAML when the string itself does not fit the key's schema but the parsed value does."""
    if jsonschema.Draft202012Validator(sub).is_valid(value):
        return value
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    return parsed if jsonschema.Draft202012Validator(sub).is_valid(parsed) else value


def _fill_defaults(config: dict, schema: dict) -> None:
    for key, sub in schema.get("properties", {}).items():
        if isinstance(config.get(key), str):
            config[key] = _parse_cli_string(config[key], sub)
        if key not in config and "default" in sub:
            config[key] = copy.deepcopy(sub["default"])
        if isinstance(config.get(key), dict) and sub.get("type") == "object":
            _fill_defaults(config[key], sub)


def check_config(config: dict[str, Any], schema: dict | None = None) -> dict[str, Any]:
    """Validate ``config`` (filling defaults in place) and return it; raise ConfigError listing every problem."""
    schema = schema or load_schema()
    _fill_defaults(config, schema)
    errors = sorted(
        jsonschema.Draft202012Validator(schema).iter_errors(config),
        key=lambda e: list(e.absolute_path),
    )
    if errors:
        raise ConfigError("invalid config:\n  " + "\n  ".join(_describe(e) for e in errors))
    return config


def resolve_step_size(value: Any, info: dict) -> float:
    """``step_size: auto`` -> the network's catalogue walk default."""
    return float(info["walk"]["step_size"]) if value == "auto" else float(value)


def resolve_det_size(value: Any, info: dict) -> int:
    """``detector.det_size: auto`` -> the det_size that suits the network's faces."""
    return int(info["det_size"]) if value == "auto" else int(value)


def resolve_radius_spec(value: Any, info: dict) -> Any:
    """``clamp.radius: auto`` -> the network's catalogue clamp radius (number or 'pNN')."""
    return info["walk"].get("clamp_radius") if value == "auto" else value
