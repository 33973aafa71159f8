"""Helpers shared by the stages: dask scheduler, logging, provenance, masks."""

from __future__ import annotations

import contextlib
import logging
import os
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
        # The name's get function (dask's own table) and "tasks" rechunking: what dask picks
        # for the name without a dask.distributed client, but to find that out it imports
        # distributed at every compute and rechunk (~0.08 s of CPU per job)
        from dask.base import named_schedulers

        kwargs = {"scheduler": named_schedulers[scheduler], "array.rechunk.method": "tasks"}
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
    if _JOB_CODE:  # set by run_from_snakemake: the code hash of the running stage
        tags["shuibao_code_hash"] = _JOB_CODE["code_hash"]
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


class _LogStream:
    """A file-like object for tqdm that writes each refresh of a bar as one log line."""

    def __init__(self, logger: logging.Logger):
        self.logger = logger

    def write(self, text: str) -> int:
        line = text.strip("\r\n ")
        if line:
            self.logger.info("%s", line)
        return len(text)

    def flush(self) -> None:
        pass


def progress_bar(*, total: int | None = None, desc: str, unit: str = "step", to_log=True):
    """A tqdm bar; with ``to_log`` each refresh (every 10 s at most) is a line of the
    rule's log, so a long step shows how far it is and how long it still needs."""
    from tqdm.auto import tqdm

    if to_log:
        return tqdm(
            total=total, desc=desc, unit=unit, file=_LogStream(log), mininterval=10.0,
            ascii=True, dynamic_ncols=False, ncols=100,
        )  # fmt: skip
    return tqdm(total=total, desc=desc, unit=unit)


@contextlib.contextmanager
def dask_progress(desc: str):
    """Progress of every dask computation (terrain, C over the periods, soil loss …) as a
    tqdm bar of finished tasks in the rule's log."""
    from dask.callbacks import Callback

    class _Bar(Callback):
        def _start_state(self, dsk, state):
            n = sum(len(state[k]) for k in ("ready", "waiting", "running", "finished"))
            self.bar = progress_bar(total=n, desc=desc, unit="task")

        def _posttask(self, key, result, dsk, state, worker_id):
            self.bar.update(1)

        def _finish(self, dsk, state, errored):
            self.bar.close()

    with _Bar():
        yield


#: Code hash of the stage running in this process (see :mod:`pipeline.codehash`).
_JOB_CODE: dict[str, str] = {}


def run_from_snakemake(smk, func: Callable, **kwargs) -> None:
    """Run a stage function for a Snakemake ``script:`` job.

    Logs to the rule's log file what is computed, how long it took and with which
    code (the hash of the ``pipeline`` modules the stage imports) and software; records
    them for the job's outputs (:func:`pipeline.codehash.write_record`). A
    ShuibaoError (a user error: bad config or input) is reported as one clear line
    without a traceback, exit code 1. Whatever stops the job, no partial output stays.
    """
    import time

    from pipeline import codehash

    setup_logging(smk.log[0] if len(smk.log) else None)
    env = environment_record()
    module = func.__module__
    _JOB_CODE.update(module=module, code_hash=codehash.job_code_hash(module))
    wildcards = ", ".join(f"{k}={v}" for k, v in dict(smk.wildcards.items()).items())
    log.info(
        "rule %s (%s): %s.%s; config hash %s",
        smk.rule,
        wildcards or "no wildcards",
        module,
        func.__name__,
        config_hash(dict(smk.config)),
    )
    log.info("code: %s hash %s", module, _JOB_CODE["code_hash"])
    log.info("software: %s; platform: %s", env["software"], env["platform"])
    started, cpu = time.perf_counter(), time.process_time()
    try:
        with (
            dask_scheduler(smk.config.get("compute"), threads=smk.threads),
            _clean_on_failure(list(smk.output)),
            dask_progress(smk.rule),
        ):
            func(**kwargs)
    except ShuibaoError as exc:
        log.error("%s: %s", type(exc).__name__, exc)
        print(f"Shuibao error in rule {smk.rule}: {exc}", file=sys.stderr)
        sys.exit(1)
    except Exception as exc:
        damaged = _damaged_input(exc, list(getattr(smk, "input", []) or []))
        if damaged:
            msg = (
                f"cannot read {damaged} ({type(exc).__name__}: {exc}); the file looks damaged "
                "or truncated (a run killed while writing it, or a full disk): delete it and "
                "run the workflow again, it is remade (your own input files: replace it)"
            )
            log.error(msg)
            print(f"Shuibao error in rule {smk.rule}: {msg}", file=sys.stderr)
            sys.exit(1)
        if not isinstance(exc, OSError):
            raise
        if exc.errno in (28, 122):  # ENOSPC, EDQUOT
            msg = (
                f"no space left on the disk while writing {exc.filename or 'an output of '}"
                f"{'' if exc.filename else smk.rule}; free some space (or set results_dir / "
                "resources_dir to a larger disk) and rerun: Snakemake resumes where it stopped"
            )
            log.error(msg)
            print(f"Shuibao error in rule {smk.rule}: {msg}", file=sys.stderr)
            sys.exit(1)
        raise
    log.info(
        "rule %s done in %.1f s (CPU %.1f s): %s",
        smk.rule,
        time.perf_counter() - started,
        time.process_time() - cpu,
        ", ".join(str(o) for o in smk.output),
    )
    try:
        codehash.write_record(
            rule=smk.rule,
            module=module,
            outputs=list(smk.output),
            version=pipeline.__version__,
            software=env["software"],
            module_hash=_JOB_CODE["code_hash"],
        )
    except OSError as exc:  # the outputs are fine; only the record is missing
        log.warning("could not record the code hash of %s: %s", smk.rule, exc)
    _exit_if_job_script()


def _exit_if_job_script() -> None:
    """End a Snakemake ``script:`` job at once: every output is written and closed, so the
    interpreter's teardown (modules, numba, dask pools: ~0.2 s of CPU per job) buys
    nothing. Only in the job's own process (``__main__`` is Snakemake's copy of the script
    under ``.snakemake/scripts/``), never when a stage is run from Python."""
    main = getattr(sys.modules.get("__main__"), "__file__", None) or ""
    if Path(main).parent.parts[-2:] != (".snakemake", "scripts"):
        return
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _damaged_input(exc: BaseException, inputs: list[str]) -> str | None:
    """The job input that a GDAL/netCDF read error names (by file name), if any."""
    name = type(exc).__name__
    if not any(k in name for k in ("Rasterio", "CPLE")) and "NetCDF" not in str(exc):
        return None
    text = str(exc) + " " + str(exc.__context__ or "")
    for path in inputs:
        if Path(path).name and Path(path).name in text:
            return str(path)
    return None


@contextlib.contextmanager
def _clean_on_failure(outputs: list[str]):
    """Remove the job's outputs and any temporary file beside them when the job fails or is
    stopped (SIGTERM from Snakemake or the user, Ctrl-C): nothing partial is left."""
    import glob
    import os
    import signal

    def _cleanup():
        for out in outputs:
            p = Path(out)
            stem = p.stem.split(".")[0]
            for tmp in glob.glob(
                os.path.join(glob.escape(str(p.parent)), f".{glob.escape(stem)}.*")
            ):
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            if p.is_file():
                with contextlib.suppress(OSError):
                    p.unlink()

    def _on_term(signum, frame):
        _cleanup()
        raise SystemExit(128 + signum)

    previous = None
    with contextlib.suppress(ValueError):  # not in the main thread
        previous = signal.signal(signal.SIGTERM, _on_term)
    try:
        yield
    except BaseException:
        _cleanup()
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
