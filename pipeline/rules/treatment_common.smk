# Treatment (#15) settings and helpers, included by treatment.smk (functions only, no rules).
from pipeline.errors import ConfigError

TR = config["treatment"]
TR_DEMO = bool(TR["demo"])
if TR_DEMO and config["source"]["kind"] != "demo":
    raise ConfigError("config key 'treatment.demo': true needs source.kind demo")
TR_ON = TR_DEMO or TR["measures"] is not None
TR_RES = os.path.join(RES, "treatment")
TR_OUT = os.path.join(OUT, "{year}", "treatment")
TR_BEFORE = TR["baseline_year"] if TR["baseline_year"] in YEARS else YEARS[0]


def _tr_path(kind, key):
    if TR_DEMO:
        return os.path.join(TR_RES, {"measures": "measures.gpkg", "projects": "projects.gpkg",
                                     "targets": "targets.csv", "parcels": "parcels.gpkg"}[kind])
    section = TR[kind]
    return section[key] if section else None


TR_MEASURES = _tr_path("measures", "path") if TR_ON else None
TR_TARGETS = _tr_path("targets", "path") if TR_ON else None
TR_PROJECTS = _tr_path("projects", "path") if TR_ON else None
TR_PARCELS = _tr_path("parcels", "path") if TR_ON else None
_MF = TR["measure_factors"]
TR_HOOK = TR_ON and bool(_MF["p_table"] if MODEL == "rusle" else (_MF["e_table"] or _MF["t_table"]))
# the factor rules get these params only when the hook is on (so nothing reruns otherwise)
TR_FACTOR_PARAMS = {"measure_factors": _MF} if TR_HOOK else {}


def treatment_measures_input(wildcards):
    """Input of the P / E,T rules: the year's measures raster when the hook is on, else none."""
    if not TR_HOOK:
        return {}
    return {"measures": os.path.join(TR_OUT, "measures.tif").format(**wildcards)}


def treatment_targets():
    if not TR_ON:
        return []
    return expand(
        os.path.join(TR_OUT, "{name}"),
        aoi=AOI,
        year=YEARS,
        name=["bulletin_treatment_zh.md", "bulletin_treatment_en.md", "parcels.xlsx"],
    )


# rule all asks for these too (without editing the Snakefile's rule all)
_all_targets_without_treatment = all_targets


def all_targets():
    return _all_targets_without_treatment() + treatment_targets()
