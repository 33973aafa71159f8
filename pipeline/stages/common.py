"""Helpers shared by the stages: dask scheduler, logging, provenance, masks."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import dask
import xarray as xr

import pipeline
from pipeline.config import config_hash
from pipeline.environment import environment_record
from pipeline.errors import ConfigError, ShuibaoError
from pipeline.landcover import table_by_code  # noqa: F401  (re-exported)

log = logging.getLogger("shuibao")


@contextlib.contextmanager
def dask_scheduler(compute: Mapping | None, *, threads: int | None = None):
    """Apply ``compute.scheduler``: threads (default), synchronous, processes, or a
    dask.distributed scheduler address (``tcp://host:port``)."""
    compute = dict(compute or {})
    scheduler = compute.get("scheduler", "threads")
    workers = compute.get("num_workers") or threads
    if scheduler in ("threads", "synchronous", "processes"):
        kwargs = {"scheduler": scheduler}
        if workers and scheduler != "synchronous":
            kwargs["num_workers"] = int(workers)
        with dask.config.set(**kwargs):
            yield None
        return
    try:
        from dask.distributed import Client
    except ImportError as exc:  # pragma: no cover - distributed is a dependency
        raise ConfigError(
            "compute.scheduler names a cluster but dask.distributed is missing"
        ) from exc
    try:
        client = Client(scheduler, timeout="20s")
    except OSError as exc:
        raise ConfigError(
            f"config key 'compute.scheduler': cannot reach dask scheduler {scheduler!r}: {exc}"
        ) from exc
    try:
        yield client
    finally:
        client.close()


def chunks_2d(compute: Mapping | None) -> dict:
    size = int((compute or {}).get("chunk_size", 1024))
    return {"y": size, "x": size}


def provenance(stage: str, **sections) -> dict[str, str]:
    """Deterministic provenance tags for an output file (no timestamps)."""
    tags = {"shuibao_version": pipeline.__version__, "shuibao_stage": stage}
    # Package versions (numpy, xarray, rasterio, GDAL, snakemake, …) and the platform.
    tags |= {f"shuibao_{k}": v for k, v in environment_record().items()}
    for name, value in sections.items():
        if isinstance(value, str | int | float):
            tags[f"shuibao_{name}"] = str(value)
        else:
            tags[f"shuibao_{name}_hash"] = config_hash(value)
    return tags


def aoi_mask(aoi_geometries, template: xr.DataArray) -> xr.DataArray:
    """Boolean DataArray (True inside the AOI, pixel centres), built block by block.

    Rasterises each dask block on its own window, so memory stays bounded for a
    province-sized grid.
    """
    from rasterio.features import geometry_mask

    transform = template.rio.transform()
    geoms = list(aoi_geometries)
    data = template.data
    if not hasattr(data, "dask"):
        inside = ~geometry_mask(geoms, out_shape=template.shape[-2:], transform=transform)
        return xr.DataArray(
            inside, dims=template.dims[-2:], coords={d: template[d] for d in template.dims[-2:]}
        )
    import dask.array as dsa

    def _block(block, block_info=None):
        (r0, r1), (c0, c1) = block_info[0]["array-location"][-2:]
        win_transform = transform * transform.translation(c0, r0)
        return ~geometry_mask(geoms, out_shape=(r1 - r0, c1 - c0), transform=win_transform)

    template2d = data if data.ndim == 2 else data[0]
    mask = dsa.map_blocks(_block, template2d, dtype=bool)
    return xr.DataArray(
        mask, dims=template.dims[-2:], coords={d: template[d] for d in template.dims[-2:]}
    )


def setup_logging(log_path: str | Path | None) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w", encoding="utf-8"))
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )


def run_from_snakemake(smk, func: Callable, **kwargs) -> None:
    """Run a stage function for a Snakemake ``script:`` job.

    Logs to the rule's log file; a ShuibaoError (a user error: bad config or
    input) is reported as one clear line without a traceback, exit code 1.
    """
    setup_logging(smk.log[0] if len(smk.log) else None)
    env = environment_record()
    log.info("rule %s; config hash %s", smk.rule, config_hash(dict(smk.config)))
    log.info("software: %s; platform: %s", env["software"], env["platform"])
    try:
        with dask_scheduler(smk.config.get("compute"), threads=smk.threads):
            func(**kwargs)
    except ShuibaoError as exc:
        log.error("%s: %s", type(exc).__name__, exc)
        print(f"Shuibao error in rule {smk.rule}: {exc}", file=sys.stderr)
        sys.exit(1)
