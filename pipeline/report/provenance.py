"""Provenance of a report: data sources, non-default parameters, software, config hash.

Read-only: the data sources are read from the input files' own metadata (GeoTIFF
tags written by the sources, ``*.provenance.json`` sidecars of downloads with
asset IDs and dates); parameters are the configuration compared with the schema
defaults (``configs/schema.yaml``); versions come from the installed packages.

A banner "示范数据 / synthetic demo data" is shown when the inputs are the
embedded synthetic district (``source.kind: demo`` or any input tagged
``SYNTHETIC``) or the run uses a default table that the schema describes as
study-specific / illustrative (``ILLUSTRATIVE_DEFAULTS``).
"""

from __future__ import annotations

import json
import platform
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

import pandas as pd

#: Config keys whose schema default is illustrative (study-specific, "set your own"):
#: a run that keeps the default gets the banner.
ILLUSTRATIVE_DEFAULTS = ("support.table",)
BANNER_DEMO = (
    "示范数据 / synthetic demo data — 本报告数据为合成示范数据，地名与数值均不代表真实情况。"
)
BANNER_ILLUSTRATIVE = (
    "示范参数 / illustrative tables — 本次运行使用了示例系数表（{keys}），"
    "成果仅供演示，正式监测请按实测或规范取值。"
)
PACKAGES = (
    "numpy",
    "xarray",
    "dask",
    "rasterio",
    "rioxarray",
    "pyproj",
    "geopandas",
    "pyogrio",
    "shapely",
    "flox",
    "exactextract",
    "pyflwdir",
    "scikit-learn",
    "snakemake",
    "openpyxl",
    "matplotlib",
)


def _flatten(obj, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    if isinstance(obj, Mapping) and obj:
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}{k}."))
    else:
        out[prefix[:-1]] = obj
    return out


def _get(cfg: Mapping, dotted: str):
    cur = cfg
    for part in dotted.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return None
        cur = cur[part]
    return cur


def schema_defaults(config: Mapping) -> dict:
    """The configuration a user gets with only ``aoi`` and ``years`` set (every default)."""
    from pipeline.config import validate_config

    return validate_config({"aoi": config.get("aoi", "x"), "years": config.get("years", [2024])})


def non_default_parameters(config: Mapping) -> pd.DataFrame:
    """Every configuration key whose value differs from its schema default.

    Columns ``key, value, default`` (JSON text; ``—`` when the key has no default, or
    for a default table entry that the user's table leaves out). ``aoi`` and ``years``
    (required, no default) are shown elsewhere in the report.
    """
    defaults = _flatten(schema_defaults(config))
    given = _flatten(dict(config))
    rows = []
    for key in sorted(set(given) | set(defaults)):
        if key in ("aoi", "years"):
            continue
        value = given.get(key, "—")  # "—": a default table entry the user's table drops
        default = defaults.get(key, "—")
        if default != value:
            rows.append(
                {
                    "key": key,
                    "value": value
                    if value == "—"
                    else json.dumps(value, ensure_ascii=False, default=str),
                    "default": default
                    if default == "—"
                    else json.dumps(default, ensure_ascii=False, default=str),
                }
            )
    return pd.DataFrame(rows, columns=["key", "value", "default"])


def software_versions() -> pd.DataFrame:
    """Versions of Shuibao, Python, GDAL, PROJ and the main libraries."""
    import pyproj
    import rasterio

    import pipeline

    rows = [
        ("shuibao", pipeline.__version__),
        ("python", platform.python_version()),
        ("GDAL", rasterio.__gdal_version__),
        ("PROJ", pyproj.proj_version_str),
    ]
    for name in PACKAGES:
        try:
            rows.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            continue
    return pd.DataFrame(rows, columns=["software", "version"])


_TAG_KEYS = ("source", "year", "date", "dates", "start", "end", "collection", "item_ids", "ids")


def data_sources(resources_dir: str | Path) -> pd.DataFrame:
    """One row per input file of the analysis grid: source, dates and IDs from its metadata.

    GeoTIFF tags (``source``, ``year``, dates, IDs, ``SYNTHETIC``) and the
    ``<file>.provenance.json`` sidecar of a download (asset IDs, dates covered,
    fetch time) are read; nothing is inferred.
    """
    import rasterio

    rows = []
    for path in sorted(Path(resources_dir).glob("*")):
        if path.suffix not in (".tif", ".nc", ".gpkg") or path.name.startswith("."):
            continue
        info: dict[str, str] = {"file": path.name}
        if path.suffix == ".tif":
            try:
                with rasterio.open(path) as src:
                    tags = src.tags()
            except Exception:  # noqa: BLE001 - provenance is best effort, never fatal
                tags = {}
            for k in _TAG_KEYS:
                if k in tags:
                    info[k] = tags[k]
            if "SYNTHETIC" in tags:
                info["synthetic"] = "yes"
        side = path.with_name(path.name + ".provenance.json")
        if side.exists():
            try:
                rec = json.loads(side.read_text(encoding="utf-8"))
            except ValueError:
                rec = {}
            for k in (
                "source",
                "asset_ids",
                "ids",
                "dates",
                "start",
                "end",
                "fetched",
                "fetched_at",
            ):
                if k in rec:
                    v = rec[k]
                    info[k] = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
        rows.append(info)
    df = pd.DataFrame(rows)
    return df.fillna("") if len(df) else pd.DataFrame(columns=["file"])


def banner(config: Mapping, sources: pd.DataFrame | None = None) -> str | None:
    """The demo / illustrative-tables banner text, or None for a run on real data."""
    synthetic = _get(config, "source.kind") == "demo"
    if sources is not None and "synthetic" in sources.columns:
        synthetic = synthetic or bool((sources["synthetic"] == "yes").any())
    if synthetic:
        return BANNER_DEMO
    defaults = schema_defaults(config)
    used = [k for k in ILLUSTRATIVE_DEFAULTS if _get(config, k) == _get(defaults, k)]
    if used:
        return BANNER_ILLUSTRATIVE.format(keys=", ".join(used))
    return None


def appendix(config: Mapping, resources_dir: str | Path | None) -> dict:
    """Everything the report appendix and the workbook's 数据来源与参数 sheet show.

    Returns ``{"sources", "parameters", "software"}`` DataFrames, ``"config_hash"``
    and ``"banner"`` (str or None).
    """
    from pipeline.config import config_hash

    sources = data_sources(resources_dir) if resources_dir else pd.DataFrame(columns=["file"])
    return {
        "sources": sources,
        "parameters": non_default_parameters(config),
        "software": software_versions(),
        "config_hash": config_hash(dict(config)),
        "banner": banner(config, sources),
    }


def appendix_rows(app: Mapping) -> list[tuple[str, object]]:
    """Flat (label, value) rows for the workbook sheet 数据来源与参数."""
    rows: list[tuple[str, object]] = [("配置哈希 config hash", app["config_hash"])]
    if app.get("banner"):
        rows.append(("说明 note", app["banner"]))
    for rec in app["sources"].to_dict("records"):
        file = rec.pop("file")
        rows.append((f"数据 {file}", "; ".join(f"{k}={v}" for k, v in rec.items() if v)))
    for rec in app["parameters"].to_dict("records"):
        rows.append((f"参数 {rec['key']}", f"{rec['value']} (默认 default {rec['default']})"))
    for rec in app["software"].to_dict("records"):
        rows.append((f"软件 {rec['software']}", rec["version"]))
    return rows


def appendix_sections(app: Mapping) -> list[tuple[str, object]]:
    """Extra sections of the HTML report (title, DataFrame), forming the appendix."""
    return [
        ("附录一 数据来源 Appendix A: data sources", app["sources"]),
        (
            "附录二 非默认参数 Appendix B: parameters that differ from the defaults",
            app["parameters"],
        ),
        (
            f"附录三 软件版本与配置哈希 Appendix C: software versions; config hash "
            f"{app['config_hash']}",
            app["software"],
        ),
    ]
