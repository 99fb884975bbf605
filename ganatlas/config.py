"""The one config schema: validation once, defaults filled once, messages that name the key.

The schema ships inside the package (``ganatlas/schema/config.schema.yaml``, read with
``importlib.resources``), so a regular ``pip install`` validates configs from anywhere. It covers
every key of every study, each with its default. Study settings (``ganatlas.studies.<name>.settings``)
build on the validated config and only add checks that span several keys.
"""

from __future__ import annotations

import copy
import functools
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml


class ConfigError(ValueError):
    """A config value is missing, of the wrong type, or not one of the allowed values."""


@functools.lru_cache(maxsize=1)
def _packaged_schema_text() -> str:
    return resources.files("ganatlas").joinpath("schema", "config.schema.yaml").read_text()


@functools.lru_cache(maxsize=1)
def _packaged_schema() -> dict:
    return yaml.safe_load(_packaged_schema_text())


def load_schema(path: str | Path | None = None) -> dict:
    """The config schema (a fresh copy): the packaged one, or the YAML file at ``path``.

    The packaged schema is parsed once per process (parsing takes ~70 ms and every stage that
    validates a section calls this); callers get a deep copy they may change.
    """
    if path is not None:
        return yaml.safe_load(Path(path).read_text())
    return copy.deepcopy(_packaged_schema())


def section_schema(*keys: str) -> dict:
    """The schema of a nested section, e.g. ``section_schema("semantics")`` or ``("detector",)``."""
    schema = load_schema()
    for key in keys:
        schema = schema["properties"][key]
    return schema


def _describe(error: jsonschema.ValidationError, prefix: str = "") -> str:
    key = prefix + ".".join(str(p) for p in error.absolute_path) or "(top level)"
    key = key.rstrip(".")
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
                bounds = [
                    f"{op} {opt[k]}"
                    for k, op in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="))
                    if k in opt
                ]
                parts.append(" ".join([str(opt.get("type")), *bounds]))
        allowed = f"; allowed: {' or '.join(parts)}"
    if error.validator == "additionalProperties":
        props = ", ".join(sorted(schema.get("properties", {})))
        unknown = sorted(set(error.instance) - set(schema.get("properties", {})))
        return f"config key '{key}': unknown key(s) {unknown}; known keys: {props}"
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
    """Validate ``config`` (filling defaults in place) and return it; raise ConfigError listing every problem.

    Cross-key checks of the study sections run too (e.g. a conditional direction naming an
    attribute without a boundary), so a config that passes here is valid for every study.
    """
    schema = schema or load_schema()
    check_against(config, schema)
    from ganatlas.studies.semantics.settings import check_semantics

    check_semantics(config["semantics"])
    return config


def check_against(value: dict[str, Any], schema: dict, prefix: str = "") -> dict[str, Any]:
    """Fill ``schema``'s defaults into ``value`` in place and validate it (ConfigError).

    ``prefix`` names the section in messages (``"semantics."`` for ``section_schema("semantics")``).
    """
    _fill_defaults(value, schema)
    errors = sorted(
        jsonschema.Draft202012Validator(schema).iter_errors(value),
        key=lambda e: list(e.absolute_path),
    )
    if errors:
        raise ConfigError("invalid config:\n  " + "\n  ".join(_describe(e, prefix) for e in errors))
    return value


def canonical(value: Any) -> Any:
    """``value`` with every mapping's keys sorted (recursively), for rule params.

    Snakemake compares params by their text: the same settings written in another key order must
    not rerun a job.
    """
    if isinstance(value, dict):
        return {k: canonical(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    return value
