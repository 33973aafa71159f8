# Many districts in one run (#17): settings and helpers, included by districts.smk
# (functions only, no rules).
DISTRICTS = config["districts"]
DISTRICTS_ON = bool(DISTRICTS["enabled"])
DISTRICT_FIGURES = ["intensity", "soil_loss", "class_shares", "townships", "watersheds"]


wildcard_constraints:
    district=r"[A-Za-z0-9_.\-]+",


def district_ids():
    """The district codes, read from the checkpoint's districts.gpkg."""
    import pyogrio

    path = checkpoints.district_layer.get(aoi=AOI).output.layer
    table = pyogrio.read_dataframe(path, columns=["district_id"], read_geometry=False)
    return [str(i) for i in table["district_id"]]


def district_targets(wildcards):
    """Every district's report and bulletins and the yearly rankings (none when off)."""
    if not DISTRICTS_ON:
        return []
    ids = district_ids()
    keys = ("district_report_html", "district_bulletin_zh", "district_bulletin_en")
    targets = [P(k, aoi=AOI, year=y, district=d) for d in ids for y in YEARS for k in keys]
    ranking = ("district_ranking", "district_ranking_xlsx")
    targets += [P(k, aoi=AOI, year=y) for y in YEARS for k in ranking]
    return targets
