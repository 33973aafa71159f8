"""Which settings of a run are illustrative (not from a cited source), for the 示意 stamp.

A schema default that cites no source carries ``x-illustrative: true`` in
``configs/schema.yaml``; a run whose value there equals that default uses an illustrative
table. A user table can also declare itself illustrative (``illustrative: true``, e.g.
``csle.measures``). The bulletin and report print "示意 / illustrative" and name the keys.
"""

from __future__ import annotations

from collections.abc import Mapping

from pipeline.config import load_schema

__all__ = ["illustrative_settings"]


def _walk(schema: Mapping, prefix: str = ""):
    for key, sub in (schema.get("properties") or {}).items():
        path = f"{prefix}.{key}" if prefix else key
        if sub.get("x-illustrative"):
            yield path, sub.get("default")
        yield from _walk(sub, path)


def _get(config: Mapping, path: str):
    node = config
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def illustrative_settings(config: Mapping, *, schema: Mapping | None = None) -> list[str]:
    """Config keys whose values in this run are illustrative (sorted).

    Examples
    --------
    >>> schema = {"properties": {"support": {"properties": {"table": {
    ...     "default": {"orchard": 0.7}, "x-illustrative": True}}}}}
    >>> illustrative_settings({"support": {"table": {"orchard": 0.7}}}, schema=schema)
    ['support.table']
    >>> illustrative_settings({"support": {"table": {"orchard": 0.5}}}, schema=schema)
    []
    >>> illustrative_settings({"report": {"illustrative_inputs": ["rain: flat"]}}, schema=schema)
    ['report.illustrative_inputs (rain: flat)']
    """
    schema = load_schema() if schema is None else schema
    model = config.get("model", "rusle")
    out = []
    for path, default in _walk(schema):
        if path.startswith("support.") and model != "rusle":
            continue
        if path.startswith("csle.") and model != "csle":
            continue
        if _get(config, path) == default:
            out.append(path)
    if model == "csle":
        for key in ("measures", "tillage"):
            layer = _get(config, f"csle.{key}")
            if isinstance(layer, Mapping) and layer.get("illustrative"):
                out.append(f"csle.{key}.table")
    report = config.get("report") or {}
    out.extend(
        f"report.illustrative_inputs ({item})" for item in report.get("illustrative_inputs", ())
    )
    return sorted(out)
