"""Source configuration: the example configs validate, per-input sources resolve, and an
impossible choice fails at parse time naming the key (pipeline/stages/inputs.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from pipeline.config import load_config, validate_config
from pipeline.errors import ConfigError
from pipeline.stages.inputs import available_inputs, check_source_config, resolve_inputs
from tests.conftest import REPO

EXAMPLES = ["example-local", "example-stac", "example-ee"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_configs_validate(name):
    cfg = load_config(REPO / "configs" / f"{name}.yaml")
    have = check_source_config(cfg)
    assert cfg["source"]["kind"] in ("local", "stac", "earthengine")
    assert cfg["source"]["local"]["aoi"]
    if name == "example-local":
        assert have == {"ndvi": False, "survey": False}
        assert cfg["cover"]["method"] == "table" and cfg["ml"]["enabled"] is False
    else:
        assert have == {"ndvi": True, "survey": True}


def test_example_local_paths_are_the_downloaded_example_files():
    """Relative paths into data/examples/youwuzhen/, each a file `make example-data` fetches."""
    from pipeline.example_data import EXAMPLES

    cfg = load_config(REPO / "configs" / "example-local.yaml")
    local = cfg["source"]["local"]
    for path in (local["aoi"], local["dem"]["path"], local["rain"]["gauge_csv"]):
        assert path.startswith("data/examples/youwuzhen/")
        assert path.removeprefix("data/examples/youwuzhen/") in EXAMPLES["youwuzhen"].files


def test_per_input_sources_of_the_examples():
    stac = resolve_inputs(load_config(REPO / "configs" / "example-stac.yaml")["source"])
    assert stac == {
        "dem": "stac",
        "landcover": "stac",
        "ndvi": "stac",
        "rain": "local",
        "soil": "local",
        "zones": "local",
        "survey": "local",
    }
    ee = resolve_inputs(load_config(REPO / "configs" / "example-ee.yaml")["source"])
    assert {ee[k] for k in ("dem", "landcover", "ndvi", "rain", "soil")} == {"earthengine"}
    assert ee["zones"] == ee["survey"] == "local"


def _local_cfg(**patch):
    cfg = {
        "aoi": "x",
        "years": [2017],
        "source": {
            "kind": "local",
            "local": {
                "aoi": "aoi.gpkg",
                "dem": {"path": "dem.tif"},
                "landcover": {"path": "lc.tif", "recode": {1: "forest"}},
                "soil": {"classes": "s.tif", "lookup": "s.csv", "code_col": "c", "columns": {}},
                "rain": {"gauge_csv": "r.csv", "date_col": "d", "value_col": "v"},
            },
        },
        "cover": {"method": "table"},
        "ml": {"enabled": False},
    }
    for key, value in patch.items():
        section, _, sub = key.partition("__")
        if sub:
            cfg.setdefault(section, {})[sub] = value
        else:
            cfg[section] = value
    return validate_config(cfg)


def test_local_without_survey_needs_ml_disabled():
    assert check_source_config(_local_cfg()) == {"ndvi": False, "survey": False}
    with pytest.raises(ConfigError, match=r"'ml.enabled'.*survey.*ml.enabled: false"):
        check_source_config(_local_cfg(ml__enabled=True))


def test_no_ndvi_needs_the_cover_table_method():
    with pytest.raises(ConfigError, match=r"'cover.method': 'cai2000' needs NDVI"):
        check_source_config(_local_cfg(cover__method="cai2000"))


def test_stac_without_rain_source_is_named():
    cfg = _local_cfg()
    cfg["source"]["kind"] = "stac"
    with pytest.raises(ConfigError, match=r"'source.inputs.rain': the stac source has no rain"):
        resolve_inputs(cfg["source"])
    cfg["source"]["inputs"] = {"rain": "local", "soil": "local"}
    assert resolve_inputs(cfg["source"])["dem"] == "stac"
    assert available_inputs(cfg["source"]) == {"ndvi": True, "survey": False}


def test_source_that_cannot_provide_an_input_is_named():
    with pytest.raises(ConfigError, match=r"'source.inputs.survey'.*'earthengine' is not one of"):
        _local_cfg(source={"kind": "local", "inputs": {"survey": "earthengine"}})
    cfg = _local_cfg()
    cfg["source"]["inputs"]["zones"] = "stac"  # bypassing the schema, from Python
    with pytest.raises(ConfigError, match=r"the stac source cannot provide zones"):
        resolve_inputs(cfg["source"])


def test_missing_local_file_keys_are_named():
    cfg = _local_cfg()
    cfg["source"]["local"]["dem"] = None
    with pytest.raises(ConfigError, match=r"'source.local.dem' is not set"):
        check_source_config(cfg)
    cfg = _local_cfg()
    cfg["source"]["local"]["aoi"] = None
    with pytest.raises(ConfigError, match=r"'source.local.aoi' is not set"):
        check_source_config(cfg)
    with pytest.raises(ConfigError, match=r"source.local.dem.path"):
        _local_cfg(source={"kind": "local", "local": {"dem": {"band": 1}}})
    with pytest.raises(ConfigError, match=r"'source.local.dem'.*'pth' was unexpected"):
        _local_cfg(source={"kind": "local", "local": {"dem": {"pth": "x.tif"}}})


def _dry_run(tmp_path, config):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("EE_SERVICE_ACCOUNT_KEY", "GOOGLE_APPLICATION_CREDENTIALS")
    }
    env["CLOUDSDK_CONFIG"] = str(tmp_path / "no-gcloud")  # no application-default credentials
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-n",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(tmp_path),
        "--configfile",
        str(config),
        "--cores",
        "1",
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["example-local", "example-ee"])
def test_dry_run_builds_the_dag_without_credentials(name, tmp_path):
    # The local files are the jobs' inputs: a dry run needs them to exist (empty stand-ins).
    from pipeline.config import load_config
    from pipeline.stages.inputs import PARTS, local_files

    cfg = load_config(REPO / "configs" / f"{name}.yaml")
    for part in PARTS:
        for year in cfg["years"] if part == "year" else [None]:
            for rel in local_files(cfg["source"], part, year=year):
                (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
                (tmp_path / rel).touch()
    proc = _dry_run(tmp_path, REPO / "configs" / f"{name}.yaml")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert "inputs" in out and "report" in out
    ml_jobs = [line for line in out.splitlines() if line.strip().startswith("ml ")]
    assert bool(ml_jobs) == (name == "example-ee")


@pytest.mark.slow
def test_dry_run_stops_at_parse_time_without_survey(tmp_path):
    cfg = yaml.safe_load((REPO / "configs" / "example-local.yaml").read_text(encoding="utf-8"))
    cfg["ml"] = {"enabled": True}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    proc = _dry_run(tmp_path, bad)
    assert proc.returncode != 0
    assert "ml.enabled" in proc.stdout + proc.stderr
