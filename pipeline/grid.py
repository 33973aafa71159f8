"""The analysis grid: one CRS, transform and shape per area of interest.

Default CRS is an Albers equal-area projection fitted to the AOI (standard
parallels at 1/6 and 5/6 of its latitude span, central meridian at its centre,
GRS80 ellipsoid = CGCS2000), so that pixel area is exact and slopes are not
distorted (≤ 0.002 % area error over 1°×1°).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr
from affine import Affine
from pyproj import CRS

from pipeline.errors import GridError


def local_albers_crs(lon_min: float, lat_min: float, lon_max: float, lat_max: float) -> CRS:
    """Albers equal-area CRS fitted to a lon/lat box (CGCS2000 datum, metres), named
    ``CGCS2000 / Albers Equal Area (Shuibao AOI …)``.

    Standard parallels sit at 1/6 and 5/6 of the latitude span (Snyder 1987,
    USGS PP 1395, p. 99), the central meridian and latitude of origin at the
    box centre.
    """
    if not (-180 <= lon_min < lon_max <= 180 and -90 <= lat_min < lat_max <= 90):
        raise GridError(f"invalid lon/lat box {lon_min, lat_min, lon_max, lat_max}")
    span = lat_max - lat_min
    lat_1 = lat_min + span / 6.0
    lat_2 = lat_max - span / 6.0
    lon_0 = 0.5 * (lon_min + lon_max)
    lat_0 = 0.5 * (lat_min + lat_max)
    aea = CRS.from_proj4(
        f"+proj=aea +lat_1={lat_1:.6f} +lat_2={lat_2:.6f} +lat_0={lat_0:.6f} "
        f"+lon_0={lon_0:.6f} +x_0=0 +y_0=0 +ellps=GRS80 +units=m +no_defs"
    )
    # A named CRS on the CGCS2000 datum (EPSG:4490; its ellipsoid equals GRS80 to
    # 1e-11 in flattening), so GIS software does not show PROJCRS["unknown"].
    doc = aea.to_json_dict()
    doc["name"] = (
        f"CGCS2000 / Albers Equal Area (Shuibao AOI {lon_min:.2f}E-{lon_max:.2f}E "
        f"{lat_min:.2f}N-{lat_max:.2f}N)"
    )
    doc["base_crs"] = CRS.from_epsg(4490).to_json_dict()
    return CRS.from_json_dict(doc)


@dataclass(frozen=True)
class AnalysisGrid:
    """A north-up raster grid: CRS, affine transform (pixel corners) and shape."""

    crs: CRS
    transform: Affine
    height: int
    width: int

    # ------------------------------------------------------------------ build
    @classmethod
    def from_bounds(
        cls, crs: CRS | str, left: float, bottom: float, right: float, top: float, res: float
    ) -> AnalysisGrid:
        """Grid of square ``res`` pixels covering the bounds, origin snapped to ``res``."""
        crs = CRS.from_user_input(crs)
        left = np.floor(left / res) * res
        top = np.ceil(top / res) * res
        width = int(np.ceil((right - left) / res - 1e-9))
        height = int(np.ceil((top - bottom) / res - 1e-9))
        return cls(crs, Affine(res, 0.0, left, 0.0, -res, top), height, width)

    @classmethod
    def from_dataarray(cls, da: xr.DataArray) -> AnalysisGrid:
        crs = da.rio.crs
        if crs is None:
            raise GridError(f"array {da.name!r} has no CRS")
        return cls(CRS.from_user_input(crs), da.rio.transform(), da.rio.height, da.rio.width)

    @classmethod
    def from_json(cls, path) -> AnalysisGrid:
        """Read a grid written by :meth:`to_json` (``grid.json`` of the inputs contract)."""
        import json
        from pathlib import Path

        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(
                CRS.from_wkt(doc["crs_wkt"]),
                Affine(*doc["transform"][:6]),
                int(doc["height"]),
                int(doc["width"]),
            )
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise GridError(f"cannot read analysis grid from {path}: {exc}") from exc

    def to_json(self, path) -> None:
        """Write ``grid.json`` (crs_wkt, transform a–f, height, width), atomically."""
        import json

        from pipeline.io import write_text

        doc = {
            "crs_wkt": self.crs.to_wkt(),
            "transform": list(self.transform)[:6],
            "height": self.height,
            "width": self.width,
        }
        write_text(json.dumps(doc, indent=2) + "\n", path)

    # ------------------------------------------------------------ properties
    @property
    def shape(self) -> tuple[int, int]:
        return (self.height, self.width)

    @property
    def res(self) -> tuple[float, float]:
        """Pixel size (x, y) in CRS units, both positive."""
        return (abs(self.transform.a), abs(self.transform.e))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        left, top = self.transform.c, self.transform.f
        right = left + self.width * self.transform.a
        bottom = top + self.height * self.transform.e
        return (left, bottom, right, top)

    @property
    def is_equal_area(self) -> bool:
        """True for projections whose pixels all have the same true area."""
        name = (self.crs.to_dict().get("proj") or "").lower()
        return name in {"aea", "laea", "cea", "moll", "eck4", "sinu"}

    def coords(self) -> dict[str, np.ndarray]:
        """Pixel-centre coordinates ``{"y": ..., "x": ...}``."""
        x = self.transform.c + (np.arange(self.width) + 0.5) * self.transform.a
        y = self.transform.f + (np.arange(self.height) + 0.5) * self.transform.e
        return {"y": y, "x": x}

    def dataarray(
        self,
        data,
        *,
        name: str,
        units: str,
        nodata: float | None = None,
        attrs: dict | None = None,
    ) -> xr.DataArray:
        """Wrap a 2-D (numpy or dask) array as a georeferenced DataArray on this grid."""
        if tuple(data.shape[-2:]) != self.shape:
            raise GridError(f"{name}: array shape {data.shape} does not match grid {self.shape}")
        dims = ("y", "x") if data.ndim == 2 else ("band", "y", "x")
        da = xr.DataArray(data, dims=dims, coords=self.coords(), name=name)
        da.attrs.update(attrs or {})
        da.attrs["units"] = units
        da.rio.write_crs(self.crs, inplace=True).rio.write_transform(self.transform, inplace=True)
        if nodata is not None:
            da.rio.write_nodata(nodata, encoded=False, inplace=True)
        return da

    def matches(self, da: xr.DataArray, *, tol: float = 1e-6) -> bool:
        try:
            other = AnalysisGrid.from_dataarray(da)
        except GridError:
            return False
        return (
            other.shape == self.shape
            and other.crs == self.crs
            and np.allclose(tuple(other.transform)[:6], tuple(self.transform)[:6], atol=tol)
        )


def check_same_grid(**arrays: xr.DataArray) -> None:
    """Raise GridError naming the first array whose shape or coordinates differ.

    Arrays without a CRS are compared on shape and coordinates only.
    """
    items = list(arrays.items())
    if len(items) < 2:
        return
    ref_name, ref = items[0]
    for name, da in items[1:]:
        if da.shape[-2:] != ref.shape[-2:]:
            raise GridError(
                f"{name!r} has shape {da.shape[-2:]} but {ref_name!r} has {ref.shape[-2:]}: "
                "inputs must be on the same grid (align them first)"
            )
        for dim in ("y", "x"):
            if dim in ref.coords and dim in da.coords:
                if not np.allclose(
                    ref[dim].values,
                    da[dim].values,
                    rtol=0,
                    atol=1e-6
                    * abs(
                        float(ref[dim].values[1] - ref[dim].values[0]) if ref[dim].size > 1 else 1.0
                    ),
                ):
                    raise GridError(
                        f"{name!r} and {ref_name!r} have different {dim} coordinates: "
                        "inputs must be on the same grid (align them first)"
                    )
        crs_a = ref.rio.crs if hasattr(ref, "rio") else None
        crs_b = da.rio.crs if hasattr(da, "rio") else None
        if (
            crs_a is not None
            and crs_b is not None
            and CRS.from_user_input(crs_a) != CRS.from_user_input(crs_b)
        ):
            raise GridError(f"{name!r} is in {crs_b} but {ref_name!r} is in {crs_a}")
