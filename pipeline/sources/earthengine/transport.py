"""Earth Engine transport: authentication, retries with exponential backoff on HTTP 429/5xx,
tiled ``computePixels`` downloads with cache and provenance.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import ee
import numpy as np
import rasterio

from pipeline.errors import (
    AuthenticationError,
    ConfigError,
    QuotaError,
    SourceError,
)
from pipeline.io import atomic_path
from pipeline.sources import _cache
from pipeline.sources.earthengine.builders import (
    DTYPES,
    MAX_GRID_DIM,
    MAX_REQUEST_BYTES,
    compute_pixels_requests,
    grid_affine,
    prepare_for_download,
)

HIGH_VOLUME_URL = ee.data.HIGH_VOLUME_API_BASE_URL
#: Default environment variable holding the service-account JSON key.
KEY_ENV = "EE_SERVICE_ACCOUNT_KEY"


# ===================================================================== fetchers
def initialize(
    *,
    project: str | None = None,
    key_env: str = "EE_SERVICE_ACCOUNT_KEY",
    high_volume: bool = True,
) -> str:
    """Authenticate and initialise Earth Engine; return the project used.

    Credentials, in order: the service-account JSON key in environment variable
    ``key_env`` (the key's content, or a path to the key file); else Google
    application-default credentials (``GOOGLE_APPLICATION_CREDENTIALS`` or
    ``gcloud auth application-default login``). The project defaults to the
    key's ``project_id`` / the ADC project. ``high_volume`` uses the
    high-volume endpoint (for stored collections; Earth Engine "Usage" guide).

    Raises
    ------
    AuthenticationError
        No or unusable credentials, naming what to set.
    """
    scopes = [
        "https://www.googleapis.com/auth/cloud-platform",
        "https://www.googleapis.com/auth/earthengine",
    ]
    raw = os.environ.get(key_env, "").strip()
    if raw:
        text = raw
        if not raw.startswith("{"):
            try:
                text = Path(raw).read_text(encoding="utf-8")
            except OSError as exc:
                raise AuthenticationError(
                    f"environment variable {key_env} is neither a JSON service-account key nor "
                    f"a readable key file path ({raw[:80]!r}): {exc}"
                ) from exc
        try:
            info = json.loads(text)
            email = info["client_email"]
        except (ValueError, KeyError, TypeError) as exc:
            raise AuthenticationError(
                f"environment variable {key_env} does not hold a service-account JSON key "
                "(expected fields client_email, private_key, project_id)"
            ) from exc
        try:
            credentials = ee.ServiceAccountCredentials(email, key_data=text)
        except Exception as exc:
            raise AuthenticationError(
                f"service-account key in {key_env} was refused: {exc}"
            ) from exc
        project = project or info.get("project_id")
    else:
        import google.auth
        import google.auth.exceptions

        try:
            credentials, adc_project = google.auth.default(scopes=scopes)
        except google.auth.exceptions.DefaultCredentialsError as exc:
            raise AuthenticationError(
                f"no Earth Engine credentials: set {key_env} to a service-account JSON key "
                "(its content or a file path), or configure application-default credentials "
                "(GOOGLE_APPLICATION_CREDENTIALS=/path/key.json or "
                "`gcloud auth application-default login`)"
            ) from exc
        project = project or adc_project
    if not project:
        raise AuthenticationError(
            "no Google Cloud project for Earth Engine: set source.earthengine.project in the "
            "config (a project registered for Earth Engine)"
        )
    try:
        ee.Initialize(credentials, project=project, url=HIGH_VOLUME_URL if high_volume else None)
    except ee.EEException as exc:
        raise AuthenticationError(
            f"Earth Engine refused the credentials for project {project!r}: {exc}"
        ) from exc
    return project


def _ensure_initialized(project, key_env) -> None:
    if not ee.data.is_initialized():
        initialize(project=project, key_env=key_env)


_QUOTA_WORDS = ("too many", "quota", "rate limit", "capacity exceeded", "concurrent")
_SERVER_WORDS = ("internal error", "backend error", "service unavailable", "deadline", "timed out")


def _http_status(exc: BaseException) -> int | None:
    """HTTP status behind an EEException (429, 5xx) or None if not retryable."""
    for cause in (exc, exc.__cause__, exc.__context__):
        status = getattr(getattr(cause, "resp", None), "status", None)
        if status is not None:
            status = int(status)
            return status if status == 429 or status >= 500 else None
    msg = str(exc).lower()
    if "429" in msg or any(w in msg for w in _QUOTA_WORDS):
        return 429
    if any(code in msg for code in ("500", "502", "503", "504")) or any(
        w in msg for w in _SERVER_WORDS
    ):
        return 503
    return None


def call_with_retries(
    fn: Callable[[], object],
    *,
    what: str,
    max_retries: int = 5,
    backoff_s: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
):
    """Call ``fn``; on HTTP 429/5xx wait ``backoff_s · 2**attempt`` s and retry.

    After ``max_retries`` retries a 429 raises QuotaError, a 5xx SourceError;
    any other Earth Engine error raises SourceError at once. ``sleep`` is
    injectable so tests do not wait.
    """
    for attempt in range(max_retries + 1):
        try:
            return fn()
        except ee.EEException as exc:
            status = _http_status(exc)
            if status is None:
                raise SourceError(f"Earth Engine request failed ({what}): {exc}") from exc
            if attempt == max_retries:
                if status == 429:
                    raise QuotaError(
                        f"Earth Engine quota or rate limit hit ({what}) after {max_retries} "
                        f"retries: {exc}. Wait, lower the request rate, or check the project's "
                        "EECU quota (https://developers.google.com/earth-engine/guides/usage)"
                    ) from exc
                raise SourceError(
                    f"Earth Engine server error {status} ({what}) after {max_retries} retries: {exc}"
                ) from exc
            sleep(backoff_s * 2**attempt)
    raise AssertionError("unreachable")


def _asset_ids(serialized: str) -> list[str]:
    ids: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            if node.get("functionName") in ("ImageCollection.load", "Image.load"):
                value = node.get("arguments", {}).get("id", {}).get("constantValue")
                if isinstance(value, str):
                    ids.add(value)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(json.loads(serialized))
    return sorted(ids)


def fetch_image(
    image: ee.Image,
    out_path,
    grid: Mapping,
    *,
    band_ids: Sequence[str],
    dtype: str = "float32",
    fill_value=None,
    provenance: Mapping | None = None,
    max_bytes: float = MAX_REQUEST_BYTES,
    max_dim: int = MAX_GRID_DIM,
    max_retries: int = 5,
    backoff_s: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    progress: bool = True,
    project: str | None = None,
    key_env: str = KEY_ENV,
) -> Path:
    """Download ``image`` on the request ``grid`` to a GeoTIFF, tiled, retried and cached.

    Parameters
    ----------
    image : ee.Image
        Expression to download.
    out_path : path
        GeoTIFF written (atomically) on ``grid``, bands ``band_ids`` (band
        descriptions), masked pixels = ``fill_value`` (its nodata). A sidecar
        ``<out_path>.provenance.json`` records request hash, asset IDs,
        ``provenance`` (e.g. dates) and the number of requests; when it matches,
        nothing is downloaded.
    grid : mapping
        PixelGrid with an EPSG ``crsCode`` (see :func:`ee_request_grid`).
    band_ids, dtype, fill_value
        Bands, output type (``DTYPES``) and fill for masked pixels (default per type).
    max_bytes, max_dim
        Per-request limits (see :func:`compute_pixels_requests`).
    max_retries, backoff_s, sleep
        Retry policy for HTTP 429/5xx (see :func:`call_with_retries`).
    progress : bool
        Show a tqdm progress bar over the requests.
    project, key_env
        Used to initialise Earth Engine if it is not yet initialised.

    Returns
    -------
    pathlib.Path
        ``out_path``.
    """
    from tqdm.auto import tqdm

    _, nbytes, default_fill = DTYPES.get(dtype, (None, None, None))
    if nbytes is None:
        raise ConfigError(f"dtype {dtype!r} not supported; use one of {list(DTYPES)}")
    fill = default_fill if fill_value is None else fill_value
    band_ids = list(band_ids)
    _ensure_initialized(project, key_env)
    prepared = prepare_for_download(image, band_ids=band_ids, dtype=dtype, fill_value=fill)
    serialized = prepared.serialize(for_cloud_api=True)
    key = _cache.request_hash(
        {
            "expression": serialized,
            "grid": dict(grid),
            "band_ids": band_ids,
            "dtype": dtype,
            "fill": fill,
        }
    )
    out_path = Path(out_path)
    if _cache.is_cached(out_path, key):
        return out_path
    requests = compute_pixels_requests(
        prepared, grid, band_ids=band_ids, dtype_bytes=nbytes, max_bytes=max_bytes, max_dim=max_dim
    )
    width, height = grid["dimensions"]["width"], grid["dimensions"]["height"]
    full = np.full((len(band_ids), height, width), fill, dtype=dtype)
    transform = grid_affine(grid)
    for body in tqdm(
        requests, desc=f"Earth Engine → {out_path.name}", unit="tile", disable=not progress
    ):
        t = grid_affine(body["grid"])
        col0, row0 = (int(round(v)) for v in ~transform @ (t.c, t.f))
        h, w = body["grid"]["dimensions"]["height"], body["grid"]["dimensions"]["width"]
        pixels = call_with_retries(
            lambda body=body: ee.data.computePixels(body),
            what=f"computePixels {out_path.name} rows {row0}–{row0 + h} cols {col0}–{col0 + w}",
            max_retries=max_retries,
            backoff_s=backoff_s,
            sleep=sleep,
        )
        for band in body["bandIds"]:
            full[band_ids.index(band), row0 : row0 + h, col0 : col0 + w] = pixels[band]
    _write_download(
        full, out_path, crs=grid["crsCode"], transform=transform, nodata=fill, band_names=band_ids
    )
    _cache.write_provenance(
        out_path,
        key,
        asset_ids=_asset_ids(serialized),
        grid=dict(grid),
        band_ids=band_ids,
        dtype=dtype,
        fill_value=fill,
        n_requests=len(requests),
        earthengine_api=ee.__version__,
        **dict(provenance or {}),
    )
    return out_path


def _write_download(data, path, *, crs, transform, nodata, band_names) -> Path:
    """A plain tiled GeoTIFF (atomic): the raw download on the request grid.

    Not a COG: it is an intermediate, and building overviews for hundreds of
    CHIRPS bands would cost more than the download.
    """
    path = Path(path)
    profile = dict(
        driver="GTiff",
        width=data.shape[2],
        height=data.shape[1],
        count=data.shape[0],
        dtype=data.dtype,
        crs=crs,
        transform=transform,
        nodata=nodata,
        tiled=True,
        blockxsize=256,
        blockysize=256,
        compress="deflate",
        interleave="band",
    )
    if data.shape[1] < 256 or data.shape[2] < 256:
        profile.update(tiled=False)
        profile.pop("blockxsize")
        profile.pop("blockysize")
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data)
        dst.descriptions = tuple(band_names)
    return path


def _cache_path(out_path, cache_dir, name: str) -> Path:
    """Where a raw download goes (``<out dir>/.ee_cache/`` unless ``cache_dir``).

    The ``fetch_*`` functions build ``ee`` objects, which needs an initialised
    client, so they call :func:`initialize` first when needed (with
    ``project``/``key_env`` from their keyword arguments).
    """
    folder = Path(cache_dir) if cache_dir else Path(out_path).parent / ".ee_cache"
    return folder / name
