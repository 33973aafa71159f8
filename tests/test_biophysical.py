"""C and P from an InVEST-style biophysical table keyed by the user's own land-cover codes (#14).

A tiny synthetic local district (GeoTIFF + CSV written here): the local source keeps the
file's codes on the grid (majority resampling, like the land cover), and the cover and support
stages give exactly the table's usle_c / usle_p on those pixels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rasterio
from pyproj import CRS as _CRS
from rasterio.transform import from_origin

from pipeline.errors import InputDataError
from pipeline.factors.biophysical import validate_biophysical_table
from pipeline.grid import AnalysisGrid
from pipeline.io import open_raster
from pipeline.sources.local import write_local_landcover
from pipeline.sources.local_codes import write_local_landcover_codes
from pipeline.stages.biophysical import biophysical_table_path
from pipeline.stages.factors import make_c, make_p

CRS = "EPSG:32650"
CRS_OBJ = _CRS.from_user_input(CRS)
X0, Y0 = 400_000.0, 2_800_000.0
# The user's legend (InVEST Gura-like codes, not Shuibao classes) and its table.
TABLE = {101: (0.003, 1.0), 205: (0.25, 0.5), 310: (0.08, 0.35)}
RECODE = {101: "forest", 205: "orchard", 310: "sloping_cropland"}


def _codes_30m() -> np.ndarray:
    """20 × 20 source pixels of 30 m: 101 on the left half, 205 top right, 310 bottom right,
    nodata (0) on the last row. Every 2 × 2 block (one 60 m grid cell) holds one code, so the
    majority on the 60 m grid is that code (a hand check of the resampling)."""
    a = np.full((20, 20), 101, dtype="int32")
    a[:10, 10:] = 205
    a[10:, 10:] = 310
    a[18:, :] = 0  # the last 60 m row is nodata
    return a


@pytest.fixture
def district(tmp_path):
    src = tmp_path / "lulc.tif"
    with rasterio.open(
        src, "w", driver="GTiff", width=20, height=20, count=1, dtype="int32", crs=CRS,
        transform=from_origin(X0, Y0, 30.0, 30.0), nodata=0,
    ) as dst:  # fmt: skip
        dst.write(_codes_30m(), 1)
    csv = tmp_path / "biophysical.csv"
    rows = [
        {"lucode": c, "usle_c": v[0], "usle_p": v[1], "description": "x"} for c, v in TABLE.items()
    ]
    pd.DataFrame(rows).to_csv(csv, index=False)
    grid = AnalysisGrid(CRS_OBJ, from_origin(X0, Y0, 60.0, 60.0), 10, 10)
    lc, codes = tmp_path / "landcover_2024.tif", tmp_path / "landcover_codes_2024.tif"
    write_local_landcover(src, grid, lc, recode=RECODE)
    write_local_landcover_codes(src, grid, codes)
    shares = tmp_path / "R_halfmonth_share.csv"
    pd.DataFrame({"period": range(1, 25), "r_share": [1 / 24] * 24}).to_csv(shares, index=False)
    return {"src": src, "csv": csv, "lc": lc, "codes": codes, "shares": shares, "dir": tmp_path}


def _expected(col: int) -> np.ndarray:
    """Per 60 m cell: the table value of its code, NaN on the nodata row."""
    out = np.full((10, 10), np.nan)
    out[:9, :5] = TABLE[101][col]
    out[:5, 5:] = TABLE[205][col]
    out[5:9, 5:] = TABLE[310][col]
    return out


def test_codes_are_kept_on_the_grid(district):
    codes = open_raster(district["codes"]).values
    assert codes[0, 0] == 101 and codes[0, 9] == 205 and codes[8, 9] == 310
    assert np.isnan(codes[9]).all()  # nodata row (read masked)


def test_factor_rasters_equal_the_table_values(district):
    d = district
    out_c, out_p = d["dir"] / "C.tif", d["dir"] / "P.tif"
    make_c(
        ndvi_path=None, landcover_path=d["lc"], shares_path=d["shares"], out_c=out_c,
        cover={"method": "table"}, biophysical_table=d["csv"], landcover_codes_path=d["codes"],
    )  # fmt: skip
    make_p(
        landcover_path=d["lc"], out_p=out_p, support={},
        biophysical_table=d["csv"], landcover_codes_path=d["codes"],
    )  # fmt: skip
    c, p = open_raster(out_c).values, open_raster(out_p).values
    np.testing.assert_allclose(c, _expected(0).astype("float32"), equal_nan=True)
    np.testing.assert_allclose(p, _expected(1).astype("float32"), equal_nan=True)
    # without the table the class tables give other values (the override is what made them)
    make_p(landcover_path=d["lc"], out_p=d["dir"] / "P0.tif", support={})
    assert not np.allclose(open_raster(d["dir"] / "P0.tif").values[:5, 5:], 0.5)


def _table(**changes) -> pd.DataFrame:
    df = pd.DataFrame({"lucode": [101, 205, 310], "usle_c": [0.003, 0.25, 0.08],
                       "usle_p": [1.0, 0.5, 0.35]})  # fmt: skip
    for col, (row, value) in changes.items():
        df[col] = df[col].astype(object)
        df.loc[row, col] = value
    return df


def test_a_code_of_the_raster_without_a_row_is_named(district):
    df = _table().iloc[:2]
    with pytest.raises(InputDataError, match=r"bio\.csv.*'lucode'.*\[310\]"):
        validate_biophysical_table(
            df, source="bio.csv", columns=["usle_c"], codes_present=[101, 205, 310]
        )
    # through the stage: the file and the code are named
    df.to_csv(district["csv"], index=False)
    with pytest.raises(InputDataError, match=r"biophysical\.csv.*\[310\]"):
        make_p(
            landcover_path=district["lc"], out_p=district["dir"] / "P.tif", support={},
            biophysical_table=district["csv"], landcover_codes_path=district["codes"],
        )  # fmt: skip


def test_non_numeric_and_out_of_range_values_are_named():
    with pytest.raises(InputDataError, match=r"bio\.csv, column 'usle_c': lucode \[205\].*'abc'"):
        validate_biophysical_table(_table(usle_c=(1, "abc")), source="bio.csv", columns=["usle_c"])
    with pytest.raises(InputDataError, match=r"column 'usle_p': lucode \[310\].*1\.5.*\[0, 1\]"):
        validate_biophysical_table(_table(usle_p=(2, 1.5)), source="bio.csv", columns=["usle_p"])
    with pytest.raises(InputDataError, match=r"missing column\(s\) \['usle_p'\]"):
        validate_biophysical_table(
            _table().drop(columns="usle_p"), source="bio.csv", columns=["usle_c", "usle_p"]
        )
    with pytest.raises(InputDataError, match=r"'lucode': codes \[101\] repeat"):
        validate_biophysical_table(_table(lucode=(1, 101)), source="bio.csv", columns=["usle_c"])


def test_the_table_is_used_only_with_local_land_cover():
    local = {
        "kind": "local",
        "local": {"landcover": {"path": "x.tif", "biophysical_table": "b.csv"}},
    }
    assert biophysical_table_path({"source": local}) == "b.csv"
    assert biophysical_table_path({"source": {**local, "inputs": {"landcover": "stac"}}}) is None
    assert biophysical_table_path({"source": {"kind": "demo"}}) is None
