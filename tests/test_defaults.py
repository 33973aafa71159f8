"""Configuration defaults live in configs/schema.yaml; science keyword defaults must agree."""

from __future__ import annotations

import inspect

import pytest

from pipeline.config import schema_default, with_defaults
from pipeline.factors import cover, rainfall, terrain


def _kw_default(func, name):
    return inspect.signature(func).parameters[name].default


@pytest.mark.parametrize(
    ("func", "param", "key"),
    [
        (terrain.terrain_factors, "max_slope_length_m", "terrain.max_slope_length_m"),
        (terrain.terrain_factors, "routing", "terrain.routing"),
        (terrain.terrain_factors, "m_method", "terrain.m_method"),
        (terrain.terrain_factors, "s_method", "terrain.s_method"),
        (terrain.terrain_factors, "channel_threshold_m2", "terrain.channel_threshold_m2"),
        (terrain.flow_accumulation, "routing", "terrain.routing"),
        (rainfall.zhang_wenbo_coefficients, "threshold_mm", "rainfall.threshold_mm"),
        (rainfall.erosivity_halfmonth_zhang_wenbo, "threshold_mm", "rainfall.threshold_mm"),
        (rainfall.erosivity_for_year, "threshold_mm", "rainfall.threshold_mm"),
        (rainfall.erosivity_for_year, "method", "rainfall.method"),
        (cover.cover_from_ndvi_periods, "method", "cover.method"),
    ],
)
def test_science_keyword_default_equals_schema_default(func, param, key):
    assert _kw_default(func, param) == schema_default(key)


def test_endmember_percentiles_default_equals_schema():
    assert list(_kw_default(cover.cover_from_ndvi_periods, "endmember_percentiles")) == (
        schema_default("cover.endmember_percentiles")
    )


def test_with_defaults_fills_only_absent_keys():
    filled = with_defaults("terrain", {"routing": "mfd"})
    assert filled["routing"] == "mfd"
    assert filled["max_slope_length_m"] == schema_default("terrain.max_slope_length_m")
