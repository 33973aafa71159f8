"""Provenance of the software environment: package versions, GDAL, platform, config hash."""

from __future__ import annotations

import platform

import numpy as np
import rasterio
import snakemake
import xarray as xr

from pipeline.environment import environment_record, platform_summary, software_versions
from pipeline.stages.common import provenance


def test_versions_are_those_of_the_imported_packages():
    v = software_versions()
    assert v["numpy"] == np.__version__
    assert v["xarray"] == xr.__version__
    assert v["rasterio"] == rasterio.__version__
    assert v["GDAL"] == rasterio.__gdal_version__
    assert v["snakemake"] == snakemake.__version__


def test_platform_names_os_machine_and_python():
    s = platform_summary()
    assert s.startswith(f"{platform.system()}-{platform.machine()} ")
    assert s.endswith(platform.python_version())


def test_raster_provenance_tags_carry_environment_and_config_hash():
    tags = provenance("factor_k", soil={"method": "epic"})
    record = environment_record()
    assert tags["shuibao_software"] == record["software"]
    assert f"numpy {np.__version__}" in tags["shuibao_software"]
    assert f"GDAL {rasterio.__gdal_version__}" in tags["shuibao_software"]
    assert tags["shuibao_platform"] == platform_summary()
    assert len(tags["shuibao_soil_hash"]) == 16
    # deterministic: no timestamps
    assert provenance("factor_k", soil={"method": "epic"}) == tags
