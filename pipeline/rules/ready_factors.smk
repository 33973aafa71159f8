# Ready-made R and K (rainfall.method raster|constant, soil.method raster|constant|table)
# and R from several rain gauges (rainfall.stations): the inputs and the script of the
# factor_r / factor_k rules in factors.smk (included before it).
from pipeline.errors import ConfigError


_RAIN = config["rainfall"]
_SOIL = config["soil"]
R_STATIONS = _RAIN.get("stations")
R_READY = _RAIN["method"] in ("raster", "constant")
K_READY = _SOIL["method"] in ("raster", "constant", "table")
if R_STATIONS and R_READY:
    raise ConfigError(
        f"rainfall.stations gives R from the gauges; it cannot be combined with "
        f"rainfall.method {_RAIN['method']!r} (use zhang_wenbo or renard_freimund)"
    )
for _section, _method, _key in (
    ("rainfall", "raster", "r_raster"),
    ("rainfall", "constant", "r_constant"),
    ("soil", "raster", "k_raster"),
    ("soil", "constant", "k_constant"),
    ("soil", "table", "k_table"),
):
    if config[_section]["method"] == _method and config[_section].get(_key) is None:
        raise ConfigError(f"{_section}.method {_method} needs {_section}.{_key}")

FACTOR_R_SCRIPT = (
    "../scripts/factor_r_stations.py"
    if R_STATIONS
    else "../scripts/factor_r_ready.py"
    if R_READY
    else "../scripts/factor_r.py"
)
FACTOR_K_SCRIPT = "../scripts/factor_k_ready.py" if K_READY else "../scripts/factor_k.py"


def factor_r_inputs(wildcards):
    inputs = {"dem": P("dem", aoi=wildcards.aoi)}
    if R_STATIONS:
        inputs["stations"] = R_STATIONS["path"]
        inputs["station_rain"] = R_STATIONS["rain_csv"]
    else:  # a ready R still takes its half-month shares from the rain record
        inputs["rain"] = P("rain", aoi=wildcards.aoi)
    if _RAIN["method"] == "raster":
        inputs["r_raster"] = _RAIN["r_raster"]["path"]
    return inputs


def factor_k_inputs(wildcards):
    if not K_READY:
        return {"soil": P("soil", aoi=wildcards.aoi)}
    inputs = {"dem": P("dem", aoi=wildcards.aoi)}
    if _SOIL["method"] == "raster":
        inputs["k_raster"] = _SOIL["k_raster"]["path"]
    elif _SOIL["method"] == "table":
        inputs["k_classes"] = _SOIL["k_table"]["classes"]
        inputs["k_csv"] = _SOIL["k_table"]["csv"]
    return inputs
