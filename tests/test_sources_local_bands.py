"""Local per-season band GeoTIFFs → seasonal composites (pipeline/sources/local_bands.py)."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from pipeline.errors import InputDataError
from pipeline.grid import AnalysisGrid
from pipeline.sources.local_bands import load_local_composite

CRS = "EPSG:32650"


def _write(path, values_by_band):
    data = np.stack([np.full((20, 20), v, np.uint16) for v in values_by_band])
    with rasterio.open(
        path, "w", driver="GTiff", width=20, height=20, count=4, dtype="uint16",
        crs=CRS, transform=from_origin(500000, 2800200, 10, 10), nodata=0,
    ) as dst:  # fmt: skip
        dst.write(data)


def test_local_seasons_reflectance_order_and_gaps(tmp_path):
    # files in band order B8, B4, B2, B11 with DN 3500, 300, 250, 1500; no autumn file
    for season in ("winter", "spring", "summer"):
        _write(tmp_path / f"s2_2024_{season}.tif", [3500, 300, 250, 1500])
    grid = AnalysisGrid.from_bounds(CRS, 500040, 2800040, 500160, 2800160, 20.0)
    comp = load_local_composite(
        grid, 2024, path=str(tmp_path / "s2_{year}_{season}.tif"), bands=["B8", "B4", "B2", "B11"]
    )
    assert comp.dims == ("band", "season", "y", "x") and comp.shape == (4, 4, 6, 6)
    np.testing.assert_allclose(comp.sel(season="spring", band="B2").values, 0.025, rtol=1e-6)
    np.testing.assert_allclose(comp.sel(season="spring", band="B8").values, 0.35, rtol=1e-6)
    np.testing.assert_allclose(comp.sel(season="winter", band="B11").values, 0.15, rtol=1e-6)
    assert np.isnan(comp.sel(season="autumn").values).all()
    with pytest.raises(InputDataError, match="disturbance.local.path"):
        load_local_composite(grid, 2023, path=str(tmp_path / "s2_{year}_{season}.tif"))
