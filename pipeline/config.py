"""Configuration: load, validate against configs/schema.yaml, fill defaults.

Validation uses jsonschema (Draft 2020-12) with a validator extended to insert
each property's ``default`` (the pattern from the jsonschema FAQ), so a
notebook and the Snakefile see the same, complete configuration. Errors name
the key path and the offending value.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator, validators

from pipeline.errors import ConfigError
from pipeline.packaged import schema_path

# configs/schema.yaml of the repository, or its copy in an installed wheel
SCHEMA_PATH = schema_path()


def _extend_with_defaults(validator_class):
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


_DefaultFillingValidator = _extend_with_defaults(Draft202012Validator)


def load_schema(path: str | Path = SCHEMA_PATH) -> dict:
    """The configuration schema. Parsed with libyaml's C loader when PyYAML has it (the
    same result as ``yaml.safe_load``, ~7× faster: every workflow job validates its config,
    so the 0.2 s of the pure-Python parser was paid once per job)."""
    with open(path, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _key_path(error) -> str:
    parts = [str(p) for p in error.absolute_path]
    return ".".join(parts) if parts else "(top level)"


def _describe(error, schema: dict) -> str:
    key = _key_path(error)
    sub = error.schema if isinstance(error.schema, dict) else {}
    desc = sub.get("description", "")
    hint = f" — {desc.strip()}" if desc else ""
    if error.validator == "additionalProperties":
        return (
            f"config key '{key}': {error.message} (check the spelling against configs/schema.yaml)"
        )
    if error.validator == "required":
        return f"config key '{key}': {error.message}"
    return f"config key '{key}': value {error.instance!r} is invalid: {error.message}{hint}"


def validate_config(config: Mapping, *, schema: dict | None = None) -> dict:
    """Validate a configuration mapping and return a copy with defaults filled.

    Raises ConfigError naming the first offending key (all errors are listed).
    """
    schema = schema or load_schema()
    # Defaults are inserted by a first pass; a second, plain pass reports errors
    # on the completed document.
    filled = copy.deepcopy(dict(config))
    if "years" in filled:
        filled["years"] = _coerce_years(filled["years"])
    for _ in _DefaultFillingValidator(schema).iter_errors(filled):
        pass
    errors = sorted(Draft202012Validator(schema).iter_errors(filled), key=lambda e: list(e.path))
    if errors:
        messages = [_describe(e, schema) for e in errors]
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(messages))
    _semantic_checks(filled)
    return _canonical(filled)


def _coerce_years(years):
    """Years as integers, however they arrived: YAML integers, or strings from the command
    line (``--config 'years=[2015,2016]'`` or ``years=2015,2016``); anything else is left
    for the schema to report.

    >>> _coerce_years("[2015, 2016]"), _coerce_years(["2023", 2024]), _coerce_years(2020)
    ([2015, 2016], [2023, 2024], [2020])
    """
    if isinstance(years, str):
        text = years.strip()
        try:
            parsed = yaml.safe_load(text if text.startswith("[") else f"[{text}]")
        except yaml.YAMLError:
            return years
        years = parsed
    if isinstance(years, int) and not isinstance(years, bool):
        return [years]
    if isinstance(years, list | tuple):
        out = []
        for y in years:
            if isinstance(y, str) and y.strip().isdigit():
                y = int(y.strip())
            elif isinstance(y, float) and y.is_integer():
                y = int(y)
            out.append(y)
        return out
    return years


def schema_default(dotted_key: str, *, schema: dict | None = None):
    """The default of a configuration key in configs/schema.yaml, e.g.
    ``schema_default("terrain.max_slope_length_m")`` → 300.0.

    The schema is the single source of configuration defaults; a science function
    that keeps a keyword default is tested against this value.
    """
    node = schema or load_schema()
    for part in dotted_key.split("."):
        try:
            node = node["properties"][part]
        except KeyError as exc:
            raise ConfigError(f"config key {dotted_key!r} is not in the schema") from exc
    if "default" not in node:
        raise ConfigError(f"config key {dotted_key!r} has no default in the schema")
    return copy.deepcopy(node["default"])


@functools.cache
def _section_schema(section: str) -> dict:
    schema = load_schema()
    try:
        return schema["properties"][section]
    except KeyError as exc:
        raise ConfigError(f"config section {section!r} is not in the schema") from exc


def with_defaults(section: str, values: Mapping | None) -> dict:
    """A config section with the schema's defaults filled in for absent keys.

    Stages receive validated sections from the workflow (then this changes nothing);
    a direct call with a partial section gets the same defaults as a config file.
    """
    filled = copy.deepcopy(dict(values or {}))
    for _ in _DefaultFillingValidator(_section_schema(section)).iter_errors(filled):
        pass
    return filled


def _canonical(obj):
    """Mappings with sorted keys, recursively: the order of keys in a YAML file must
    not look like a parameter change to Snakemake (it compares params by repr)."""
    if isinstance(obj, dict):
        return {k: _canonical(obj[k]) for k in sorted(obj, key=str)}
    if isinstance(obj, list):
        return [_canonical(v) for v in obj]
    return obj


def _semantic_checks(cfg: dict) -> None:
    from pipeline import landcover

    known = set(landcover.CODE_BY_KEY)
    for section, key in (
        ("cover", "table"),
        ("support", "table"),
        ("csle", "engineering_table"),
        ("csle", "tillage_table"),
    ):
        table = cfg.get(section, {}).get(key, {})
        unknown = sorted(set(table) - known)
        if unknown:
            raise ConfigError(
                f"config key '{section}.{key}': unknown land-cover key(s) {unknown}; "
                f"expected keys from {sorted(known)}"
            )
    breaks = cfg.get("classification", {}).get("breaks_t_ha_yr")
    if breaks is not None and any(b >= c for b, c in zip(breaks, breaks[1:], strict=False)):
        raise ConfigError(
            f"config key 'classification.breaks_t_ha_yr': {breaks} must be strictly ascending"
        )
    lo, hi = cfg.get("cover", {}).get("endmember_percentiles", [5.0, 95.0])
    if not lo < hi:
        raise ConfigError(
            f"config key 'cover.endmember_percentiles': {[lo, hi]} must be [low, high] with low < high"
        )


def load_config(path: str | Path) -> dict:
    """Read a YAML configuration file, validate it and fill defaults."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"configuration file not found: {path}")
    if path.is_dir():
        raise ConfigError(f"configuration file {path} is a directory; give a YAML file in it")
    try:
        with open(path, encoding="utf-8") as fh:
            raw = yaml.safe_load(fh) or {}
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise ConfigError(
            f"configuration file {path}{where}: not valid YAML ({problem}); "
            "check the indentation and quoting there"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"configuration file {path} is not valid YAML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(
            f"configuration file {path} is not UTF-8 text (a binary file?); give the YAML file"
        ) from None
    except OSError as exc:
        raise ConfigError(f"configuration file {path} cannot be read: {exc.strerror}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"configuration file {path} must hold a mapping of keys")
    try:
        return validate_config(raw)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def config_hash(section) -> str:
    """Stable short hash of a configuration section (for provenance tags)."""
    blob = json.dumps(section, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]
