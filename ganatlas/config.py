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


_BOUND_WORDS = (
    ("minimum", ">="),
    ("exclusiveMinimum", ">"),
    ("maximum", "<="),
    ("exclusiveMaximum", "<"),
    ("multipleOf", "a multiple of"),
    ("minLength", "of length >="),
)


def _bounds(schema: dict) -> str:
    """``integer >= 64, <= 2048, a multiple of 32`` for a schema with bounds."""
    words = [f"{op} {schema[k]}" for k, op in _BOUND_WORDS if k in schema]
    return " ".join([str(schema.get("type")), ", ".join(words)]).strip()


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
                parts.append(_bounds(opt))
        allowed = f"; allowed: {' or '.join(parts)}"
    if error.validator == "additionalProperties":
        props = ", ".join(sorted(schema.get("properties", {})))
        unknown = sorted(set(error.instance) - set(schema.get("properties", {})))
        return f"config key '{key}': unknown key(s) {unknown}; known keys: {props}"
    if error.validator == "pattern" and schema.get("pattern") == "\\S":
        return f"config key '{key}': got {error.instance!r}; it must not be empty or blank"
    if error.validator == "uniqueItems":
        seen: set = set()
        dups = sorted({v for v in error.instance if v in seen or seen.add(v)}, key=str)
        return f"config key '{key}': got {error.instance!r}; duplicates {dups} (each value once)"
    if not allowed and any(k in schema for k, _ in _BOUND_WORDS):
        allowed = f"; allowed: {_bounds(schema)}"
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
    from ganatlas.studies.identity.settings import check_identity
    from ganatlas.studies.monsters.settings import check_monsters
    from ganatlas.studies.paths.settings import check_paths
    from ganatlas.studies.projection.settings import check_projection
    from ganatlas.studies.semantics.settings import check_semantics
    from ganatlas.studies.walk.settings import check_walk

    check_walk(config)
    check_semantics(config["semantics"])
    check_projection(config["projection"])
    check_paths(config["paths"], config)
    check_identity(config["identity"])
    check_monsters(config["monsters"])
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


def checked_section(
    config: dict[str, Any], name: str, error: type[ConfigError] = ConfigError
) -> dict[str, Any]:
    """A copy of ``config[name]`` (absent or None: empty), defaults filled and validated against
    the schema's ``name`` section; a problem is an ``error`` naming ``name.`` keys."""
    user = config.get(name)
    if user is None:
        user = {}
    if not isinstance(user, dict):
        raise error(f"{name}: expected a mapping, got {user!r}")
    try:
        return check_against(copy.deepcopy(user), section_schema(name), f"{name}.")
    except error:
        raise
    except ConfigError as exc:
        raise error(str(exc)) from None


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


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read one YAML/JSON config file; ConfigError naming the file and line of a syntax error,
    or saying that the file is not a mapping of keys."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror or exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        ctx, ctx_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if ctx and ctx_mark is not None:
            problem += f" ({ctx} at line {ctx_mark.line + 1})"
        raise ConfigError(f"{where}: YAML syntax error: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: a config file must be a mapping of keys (key: value lines), got a "
            f"{type(data).__name__}"
        )
    return data


def merge_configs(base: dict, over: dict) -> dict:
    """``over`` merged into a copy of ``base`` the way Snakemake merges config files (mappings
    recursively, everything else replaced)."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_configs(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def check_config_files(paths: list[str | Path]) -> dict[str, Any]:
    """Load, merge (later files win) and validate config files: what ``snakemake --configfile
    A B`` would run with, with errors that name the file and line, or the key."""
    config: dict[str, Any] = {}
    for path in paths:
        config = merge_configs(config, load_config_file(path))
    return check_config(config)
