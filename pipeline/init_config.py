"""``shuibao init``: a commented configuration for a new district (local files).

The text is a template with the district's id, name and years filled in; every other key
keeps the schema's default (configs/schema.yaml documents them). The file is validated
against the schema before it is written, so a template that drifts from the schema fails
here and in the tests, not in a user's hands.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from pipeline.errors import ConfigError

TEMPLATE = """\
# Shuibao configuration for {name} — written by `shuibao init`.
# Every key is documented in configs/schema.yaml (units, defaults, ranges); a key left out
# takes its default. Relative paths are relative to the directory you run Shuibao from.
# Check:  shuibao check --configfile {path}
# Run:    shuibao run --configfile {path} --cores 4
aoi: {aoi}                        # short id: results go to results/{aoi}/
district_name: {name}              # as printed in the bulletin and report (Chinese)
district_name_en: {name_en}        # as printed in the English bulletin
years: [{years}]                   # one bulletin per year; change tables between consecutive years
source:
  kind: local                      # your own files (or stac / earthengine: see docs/sources.md)
  local:
    # District outline: a polygon file (GeoPackage/shapefile, any CRS) or a raster whose
    # valid pixels outline it.
    aoi: data/{aoi}/district.gpkg
    aoi_name: {name}
    aoi_name_en: {name_en}
    resolution_m: 30.0             # analysis-grid pixel size, m (10–30 m is typical)
    grid_crs: null                 # null = AOI-local Albers equal-area; or e.g. EPSG:4547
    dem:
      path: data/{aoi}/dem.tif     # elevation, m
    landcover:
      path: data/{aoi}/landcover_{{year}}.tif   # {{year}} = one map per year
      recode: {{}}                   # your code: Shuibao key (pipeline/landcover.py), e.g. {{10: forest}}
    soil:
      # a soil-class raster joined with a texture table (or `rasters:` with four rasters)
      classes: data/{aoi}/soil.tif
      lookup: data/{aoi}/soil_lookup.csv
      code_col: code
      columns: {{sand_pct: sand, silt_pct: silt, clay_pct: clay, organic_matter_pct: om}}
    ndvi: null                     # e.g. {{path: "data/{aoi}/ndvi_{{year}}.tif", scale: 0.0001}}
    rain:                          # daily rainfall at a gauge, mm (10+ years recommended)
      gauge_csv: data/{aoi}/rain_daily.csv
      date_col: date
      value_col: rain_mm
    townships: null                # null = the district as one township; else {{path, id_col, name_col}}
    watersheds: null               # null = the district as one small watershed
    survey: null                   # field-survey units for the ML classifier (ml.enabled)
model: rusle                       # rusle or csle
cover:
  method: table                    # no NDVI: C from land cover; use `ndvi` with an NDVI source
  # table: C per land-cover key from your district's survey or literature, e.g.
  #   {{forest: …, orchard: …, paddy: …, sloping_cropland: …}} (keys: pipeline/landcover.py)
classification:
  region: south_red_soil           # SL 190-2007 type region: sets the tolerable loss (微度 break)
ml:
  enabled: false                   # true needs source.local.survey
"""


def render(*, aoi: str, name: str | None = None, years: str = "2023,2024", path="") -> str:
    """The commented YAML text for district ``aoi``."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", aoi):
        raise ConfigError(
            f"district id {aoi!r}: use letters, digits, '_' or '-' (it names folders), "
            "e.g. changting"
        )
    try:
        year_list = [int(y) for y in str(years).split(",") if y.strip()]
    except ValueError:
        raise ConfigError(f"--years {years!r}: give years as 2023,2024") from None
    name = name or aoi
    return TEMPLATE.format(
        aoi=aoi,
        name=name,
        name_en=aoi.replace("_", " ").title() if name == aoi else aoi,
        years=", ".join(str(y) for y in year_list),
        path=path,
    )


def write_config(
    path: str | Path, *, aoi: str, name: str | None = None, years="2023,2024", force=False
) -> Path:
    """Write the template for ``aoi`` to ``path`` (validated against the schema first)."""
    from pipeline.config import validate_config

    path = Path(path)
    if path.exists() and not force:
        raise ConfigError(f"{path} exists already; pass --force to overwrite it")
    text = render(aoi=aoi, name=name, years=years, path=path)
    validate_config(yaml.safe_load(text))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
