"""A static-file HTTP server with byte-range support, for offline STAC tests.

GDAL's ``/vsicurl/`` reads Cloud-Optimized GeoTIFFs with ranged GETs and refuses
a server without them ("Range downloading not supported by this server!");
Python's ``http.server`` has none, so this adds single-range ``Range:`` answers
(206 + ``Content-Range``). Bound to 127.0.0.1 on an ephemeral port, served from
a daemon thread, so the network guard in tests/conftest.py lets it through.

Usage (also reusable by workflow tests)::

    with serve_directory(catalog_dir) as base_url:
        url = f"{base_url}/catalog.json"
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import threading
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


class RangeRequestHandler(SimpleHTTPRequestHandler):
    """SimpleHTTPRequestHandler that honours a single ``Range: bytes=a-b``."""

    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        self.server.requests.append((self.command, self.path, self.headers.get("Range")))

    def end_headers(self):
        self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    def do_GET(self):
        match = _RANGE.match(self.headers.get("Range", "").strip())
        path = Path(self.translate_path(self.path))
        if not match or not path.is_file():
            return super().do_GET()
        size = path.stat().st_size
        first, last = match.groups()
        if first == "":  # suffix range: last N bytes
            start, end = max(0, size - int(last)), size - 1
        else:
            start, end = int(first), min(int(last) if last else size - 1, size - 1)
        if start >= size or start > end:
            self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        with open(path, "rb") as fh:
            fh.seek(start)
            body = fh.read(end - start + 1)
        self.send_response(HTTPStatus.PARTIAL_CONTENT)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return None


class BaseURL(str):
    """The server's base URL (a str) that also carries the request log."""

    requests: list[tuple[str, str, str | None]]


@contextlib.contextmanager
def serve_directory(path: str | os.PathLike):
    """Serve ``path`` over HTTP on 127.0.0.1 (ephemeral port); yield the base URL.

    The yielded value is a ``str`` (``http://127.0.0.1:PORT``, no trailing
    slash) whose ``requests`` attribute lists (method, path, Range header) of
    every request served, for assertions.
    """
    handler = functools.partial(RangeRequestHandler, directory=str(path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, name="stac-test-server", daemon=True)
    thread.start()
    url = BaseURL(f"http://127.0.0.1:{server.server_address[1]}")
    url.requests = server.requests
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --------------------------------------------------------------------------------------
# A tiny static STAC catalogue of COGs (Sentinel-2 L2A, Copernicus DEM, ESA WorldCover).
# Values are constants chosen so NDVI has closed forms (see S2_SCENES).

#: Sentinel-2 scenes: (id, datetime, red DN, nir DN, cloud block?, processing baseline,
#: naming). "es" = Earth Search c1 (common names, raster:bands scale 1e-4 offset -0.1);
#: "pc" = Planetary Computer (B04/B08/SCL, no scale in raster:bands, offset by baseline).
S2_SCENES = (
    ("S2A_es_20230105", "2023-01-05T03:00:00Z", 1500, 4000, True, "05.09", "es"),
    ("S2B_es_20230110", "2023-01-10T03:00:00Z", 1200, 4200, False, "05.09", "es"),
    ("S2A_pc_20230305", "2023-03-05T03:00:00Z", 1500, 4000, False, "04.00", "pc"),
    ("S2B_pc_20230320", "2023-03-20T03:00:00Z", 500, 3000, False, "03.01", "pc"),
)
#: The cloud block (SCL 9) of the first scene: rows/cols [0, 32) of the 20 m SCL raster.
CLOUD_BLOCK_PX_20M = 32
#: WorldCover codes written in four vertical strips, west to east.
WORLDCOVER_STRIPS = (10, 40, 50, 80)


def _write_cog(path, data, *, crs, transform, nodata, blocksize=128):
    import rasterio

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(
        path,
        "w",
        driver="COG",
        width=data.shape[1],
        height=data.shape[0],
        count=1,
        dtype=data.dtype,
        crs=crs,
        transform=transform,
        nodata=nodata,
        blocksize=blocksize,
        compress="deflate",
        overviews="NONE",
    ) as dst:
        dst.write(data, 1)


def _footprint(crs, bounds):
    import shapely
    from pyproj import Transformer

    tr = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    ring = shapely.segmentize(shapely.box(*bounds), (bounds[2] - bounds[0]) / 8)
    xs, ys = tr.transform(*np.asarray(ring.exterior.coords).T)
    poly = shapely.Polygon(zip(xs, ys, strict=True))
    return shapely.geometry.mapping(poly), list(poly.bounds)


def write_static_catalog(
    root: str | os.PathLike,
    *,
    center_lon: float = 116.40,
    center_lat: float = 25.68,
    size_px: int = 256,
    years: tuple[int, ...] = (2023,),
) -> Path:
    """Write a self-contained STAC catalogue under ``root``; return ``catalog.json``.

    Collections ``sentinel-2-c1-l2a`` (scenes of S2_SCENES; 10 m red/NIR, 20 m
    SCL, UTM 50N), ``cop-dem-glo-30`` (EPSG:4326, 1″, a plane rising 1 m per
    arc-second eastwards from 300 m) and ``esa-worldcover`` (EPSG:4326, strips
    of WORLDCOVER_STRIPS). Footprints are the true (reprojected) outlines.
    ``years``: the S2 scenes are repeated in each year (IDs and dates with that
    year), e.g. ``(2023, 2024)`` for a two-year workflow run; ``size_px`` × 10 m
    is the side of the S2 tile (the DEM/WorldCover tiles extend 0.01° beyond it).
    """
    import datetime as dt

    import pystac
    from affine import Affine
    from pyproj import Transformer
    from pystac.extensions.projection import ProjectionExtension
    from pystac.extensions.raster import RasterBand, RasterExtension

    root = Path(root).resolve()
    utm = "EPSG:32650"
    cx, cy = Transformer.from_crs("EPSG:4326", utm, always_xy=True).transform(
        center_lon, center_lat
    )
    half = size_px * 10 / 2
    x0, y0 = np.floor((cx - half) / 20) * 20, np.ceil((cy + half) / 20) * 20
    t10 = Affine(10, 0, x0, 0, -10, y0)
    t20 = Affine(20, 0, x0, 0, -20, y0)
    utm_bounds = (x0, y0 - size_px * 10, x0 + size_px * 10, y0)

    cat = pystac.Catalog("shuibao-test", "Offline test catalogue")
    s2 = pystac.Collection(
        "sentinel-2-c1-l2a",
        "Synthetic Sentinel-2 L2A",
        pystac.Extent(
            pystac.SpatialExtent([[-180, -90, 180, 90]]),
            pystac.TemporalExtent([[dt.datetime(min(years), 1, 1, tzinfo=dt.UTC), None]]),
        ),
    )
    geom, bbox = _footprint(utm, utm_bounds)
    scenes = [
        (sid.replace("2023", str(y)), when.replace("2023", str(y)), *rest)
        for y in years
        for sid, when, *rest in S2_SCENES
    ]
    for sid, when, red, nir, cloud, baseline, naming in scenes:
        keys = ("red", "nir", "scl") if naming == "es" else ("B04", "B08", "SCL")
        item = pystac.Item(
            sid,
            geom,
            bbox,
            dt.datetime.fromisoformat(when.replace("Z", "+00:00")),
            {"s2:processing_baseline": baseline, "eo:cloud_cover": 10.0},
        )
        scl = np.full((size_px // 2, size_px // 2), 4, dtype="uint8")
        if cloud:
            scl[:CLOUD_BLOCK_PX_20M, :CLOUD_BLOCK_PX_20M] = 9
        arrays = {
            keys[0]: (np.full((size_px, size_px), red, dtype="uint16"), t10),
            keys[1]: (np.full((size_px, size_px), nir, dtype="uint16"), t10),
            keys[2]: (scl, t20),
        }
        for key, (data, transform) in arrays.items():
            href = root / "s2" / sid / f"{key}.tif"
            _write_cog(href, data, crs=utm, transform=transform, nodata=0)
            asset = pystac.Asset(str(href), media_type=pystac.MediaType.COG, roles=["data"])
            item.add_asset(key, asset)
            proj = ProjectionExtension.ext(asset, add_if_missing=True)
            proj.code = utm
            proj.shape = list(data.shape)
            proj.transform = list(transform)[:6]
            band = RasterBand.create(nodata=0, data_type=str(data.dtype))
            if naming == "es" and key != "scl":
                band = RasterBand.create(nodata=0, data_type="uint16", scale=0.0001, offset=-0.1)
            RasterExtension.ext(asset, add_if_missing=True).bands = [band]
        s2.add_item(item)
    cat.add_child(s2)

    # Copernicus DEM and WorldCover in lon/lat, a little larger than the S2 tile.
    w, s, e, n = (
        round(v, 2) for v in (bbox[0] - 0.01, bbox[1] - 0.01, bbox[2] + 0.01, bbox[3] + 0.01)
    )
    for cid, res, maker, dtype, nodata, key in (
        ("cop-dem-glo-30", 1 / 3600, "dem", "float32", None, "data"),
        ("esa-worldcover", 1 / 12000, "wc", "uint8", 0, "map"),
    ):
        coll = pystac.Collection(
            cid,
            cid,
            pystac.Extent(
                pystac.SpatialExtent([[w, s, e, n]]),
                pystac.TemporalExtent([[dt.datetime(2021, 1, 1, tzinfo=dt.UTC), None]]),
            ),
        )
        width, height = round((e - w) / res), round((n - s) / res)
        transform = Affine(res, 0, w, 0, -res, n)
        if maker == "dem":
            data = (300.0 + np.arange(width, dtype="float32"))[None, :].repeat(height, 0)
        else:
            strips = np.array(WORLDCOVER_STRIPS, dtype="uint8")
            data = strips[(np.arange(width) * len(strips)) // width][None, :].repeat(height, 0)
        href = root / cid / f"{cid}.tif"
        _write_cog(href, data.astype(dtype), crs="EPSG:4326", transform=transform, nodata=nodata)
        import shapely

        item = pystac.Item(
            f"{cid}-tile",
            shapely.geometry.mapping(shapely.box(w, s, e, n)),
            [w, s, e, n],
            dt.datetime(2021, 1, 1, tzinfo=dt.UTC),
            {},
        )
        asset = pystac.Asset(str(href), media_type=pystac.MediaType.COG, roles=["data"])
        item.add_asset(key, asset)
        proj = ProjectionExtension.ext(asset, add_if_missing=True)
        proj.code = "EPSG:4326"
        proj.shape = [height, width]
        proj.transform = list(transform)[:6]
        RasterExtension.ext(asset, add_if_missing=True).bands = [
            RasterBand.create(nodata=nodata, data_type=dtype)
        ]
        coll.add_item(item)
        cat.add_child(coll)

    cat.normalize_hrefs(str(root))
    cat.make_all_asset_hrefs_relative()
    cat.save(pystac.CatalogType.SELF_CONTAINED)
    return root / "catalog.json"
