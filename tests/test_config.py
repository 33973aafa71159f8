"""Configuration schema: defaults, descriptions, and clear errors naming the key."""

from __future__ import annotations

import pytest

from pipeline.config import load_config, load_schema, validate_config
from pipeline.errors import ConfigError
from tests.conftest import REPO


def _walk(schema, path=""):
    yield path, schema
    for name, sub in schema.get("properties", {}).items():
        yield from _walk(sub, f"{path}.{name}" if path else name)


def test_every_key_has_description_and_default():
    schema = load_schema()
    required_top = set(schema.get("required", []))
    for path, sub in _walk(schema):
        if not path:
            continue
        assert sub.get("description"), f"{path} has no description"
        if path not in required_top:
            assert "default" in sub, f"{path} has no default"
        if sub.get("type") in ("number", "integer") and "enum" not in sub:
            has_range = any(
                k in sub for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
            )
            assert has_range, f"{path} has no range"


@pytest.mark.parametrize("name", ["configs/demo.yaml", "tests/configs/small.yaml"])
def test_shipped_configs_validate(name):
    cfg = load_config(REPO / name)
    assert cfg["terrain"]["max_slope_length_m"] == 300.0
    assert cfg["classification"]["region"] == "south_red_soil"
    assert cfg["compute"]["scheduler"] == "threads"


def test_defaults_filled_without_touching_input():
    raw = {"aoi": "x", "years": [2020]}
    cfg = validate_config(raw)
    assert raw == {"aoi": "x", "years": [2020]}
    assert cfg["model"] == "rusle"
    assert cfg["rainfall"]["threshold_mm"] == 12.0
    assert cfg["support"]["table"]["paddy"] == 0.1


@pytest.mark.parametrize(
    ("patch", "key", "fragment"),
    [
        ({"terrain": {"max_slope_length_m": -1}}, "terrain.max_slope_length_m", "minimum"),
        ({"model": "usle"}, "model", "'usle' is not one of"),
        ({"rainfall": {"threshold_mm": "12"}}, "rainfall.threshold_mm", "not of type"),
        ({"terain": {}}, "(top level)", "'terain' was unexpected"),
        ({"years": []}, "years", "should be non-empty"),
        ({"compute": {"scheduler": "gpu"}}, "compute.scheduler", "does not match"),
        ({"support": {"table": {"forest": 1.5}}}, "support.table.forest", "maximum"),
        ({"support": {"table": {"forst": 1.0}}}, "support.table", "unknown land-cover key"),
        (
            {"classification": {"breaks_t_ha_yr": [5, 50, 25, 80, 150]}},
            "classification.breaks_t_ha_yr",
            "ascending",
        ),
    ],
)
def test_bad_value_names_the_key(patch, key, fragment):
    raw = {"aoi": "x", "years": [2020], **patch}
    with pytest.raises(ConfigError) as err:
        validate_config(raw)
    assert f"'{key}'" in str(err.value)
    assert fragment in str(err.value)


def test_missing_or_broken_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("aoi: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
