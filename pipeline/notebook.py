"""Helpers for the notebooks in ``notebooks/``: run the workflow, find its files, and recompute
one year's soil loss with changed parameters through the workflow's own stage functions.

Written by hand because it is glue between Snakemake and a notebook, not science: no library
knows this project's file layout. Nothing of the stages is copied here:

- :func:`ensure_results` runs ``python -m snakemake`` (the real workflow) in a work directory;
  Snakemake does nothing when the results are up to date, so a second call takes seconds.
  Several notebooks can share one work directory: a lock lets the first make the results
  while the others wait.
- :func:`soil_loss_variant` reruns, in-process, only the stages whose configuration section
  changed, by calling the same functions with the same arguments as the Snakemake scripts in
  ``pipeline/scripts/`` (``make_r``, ``make_k``, ``make_terrain``, ``make_c``, ``make_p``,
  ``make_e_t_layers``, ``make_soil_loss``), then the same statistics as ``make_statistics``
  (``pipeline.stats.class_area_table`` and ``summarize``). Unchanged factors are read from the
  workflow run. So a variant's erosion area equals what the workflow gives for that
  configuration (tests/test_notebooks.py checks it).

The file layout (:class:`WorkflowRun`) is the file contract, ``pipeline/layout.py``.
:func:`strip_outputs` (``python -m pipeline.notebook strip notebooks/*.ipynb``) keeps outputs
out of git.
"""

from __future__ import annotations

import contextlib
import copy
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import xarray as xr
import yaml

from pipeline.config import load_config, validate_config
from pipeline.errors import ConfigError, ShuibaoError

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
SMALL_CONFIG = REPO / "tests" / "configs" / "small.yaml"

#: Configuration sections a variant may change, and the rule whose ``params`` use each
#: (pipeline/rules/factors.smk, soil_loss.smk). Anything else needs a new workflow run.
VARIANT_SECTIONS = {
    "rainfall": "factor_r",
    "soil": "factor_k",
    "terrain": "terrain",
    "cover": "factor_cover",
    "support": "factor_p",
    "csle": "factor_e_t",
    "classification": "soil_loss",
    "compute": "(all)",
}

__all__ = [
    "SMALL_CONFIG",
    "Variant",
    "WorkflowRun",
    "apply_overrides",
    "dry_run_jobs",
    "ensure_results",
    "notebook_workdir",
    "run_workflow",
    "snakemake_command",
    "soil_loss_variant",
    "strip_outputs",
    "write_config",
]


# --------------------------------------------------------------------------- config
def apply_overrides(config: Mapping, overrides: Mapping[str, object]) -> dict:
    """A validated copy of ``config`` with dotted-key overrides applied.

    ``{"terrain.max_slope_length_m": 100, "support.table.orchard": 0.5}`` changes only those
    leaves (the rest of ``support.table`` keeps its values). The result is validated against
    configs/schema.yaml, so a bad value raises :class:`~pipeline.errors.ConfigError` naming it.

    Examples
    --------
    >>> cfg = apply_overrides({"aoi": "x", "years": [2024]}, {"terrain.m_method": "mccool"})
    >>> cfg["terrain"]["m_method"], cfg["terrain"]["max_slope_length_m"]
    ('mccool', 300.0)
    """
    out = validate_config(config)
    for key, value in overrides.items():
        *parents, leaf = key.split(".")
        node = out
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                raise ConfigError(f"override {key!r}: {part!r} is not a section of the config")
            node = child
        node[leaf] = copy.deepcopy(value)
    return validate_config(out)


def write_config(config: Mapping, path: str | os.PathLike) -> Path:
    """Write a configuration as YAML (UTF-8, keys in the given order); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(dict(config), allow_unicode=True, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- workflow
def notebook_workdir(name: str) -> Path:
    """Work directory of one notebook: ``$SHUIBAO_NOTEBOOK_DIR/<name>`` or
    ``<repo>/results/notebooks/<name>`` (git-ignored). Each notebook has its own, so two
    notebooks can run at the same time (Snakemake locks a directory while it runs)."""
    base = os.environ.get("SHUIBAO_NOTEBOOK_DIR")
    root = Path(base) if base else REPO / "results" / "notebooks"
    path = (root / name).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def snakemake_command(
    config_path: str | os.PathLike,
    workdir: str | os.PathLike,
    *,
    cores: int = 2,
    targets: Sequence[str] = (),
    extra: Sequence[str] = (),
) -> list[str]:
    """The command line that runs the workflow on ``config_path`` in ``workdir``."""
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(SNAKEFILE),
        "--directory",
        str(Path(workdir).resolve()),
        "--configfile",
        str(Path(config_path).resolve()),
        "--cores",
        str(cores),
        *extra,
        *targets,
    ]


def run_workflow(
    config_path: str | os.PathLike,
    workdir: str | os.PathLike,
    *,
    cores: int = 2,
    targets: Sequence[str] = (),
    extra: Sequence[str] = (),
    timeout: float = 1800,
) -> subprocess.CompletedProcess:
    """Run Snakemake; on failure raise :class:`ShuibaoError` with the end of its output and of
    the failed rules' logs."""
    cmd = snakemake_command(config_path, workdir, cores=cores, targets=targets, extra=extra)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        logs = []
        for log in sorted(Path(workdir).glob("logs/**/*.log")):
            text = log.read_text(encoding="utf-8", errors="replace")
            if "ERROR" in text or "Error" in text:
                logs.append(f"--- {log}\n{text[-2000:]}")
        raise ShuibaoError(
            f"workflow failed (exit {proc.returncode}): {' '.join(cmd)}\n"
            f"{proc.stderr[-4000:]}\n" + "\n".join(logs)
        )
    return proc


@dataclass(frozen=True)
class WorkflowRun:
    """Where one workflow run keeps its files (layout of pipeline/rules/common.smk)."""

    workdir: Path
    config: dict = field(repr=False)

    @classmethod
    def from_config(cls, config_path: str | os.PathLike, workdir) -> WorkflowRun:
        return cls(Path(workdir).resolve(), load_config(config_path))

    @property
    def aoi(self) -> str:
        return self.config["aoi"]

    @property
    def years(self) -> list[int]:
        return sorted(int(y) for y in self.config["years"])

    @property
    def resources(self) -> Path:
        """Inputs on the analysis grid (the inputs contract)."""
        return self.workdir / self.config["resources_dir"] / self.aoi

    @property
    def results(self) -> Path:
        return self.workdir / self.config["results_dir"] / self.aoi

    def year_dir(self, year: int) -> Path:
        return self.results / str(int(year))

    def relative(self, path: Path) -> str:
        """A path as a Snakemake target (relative to the work directory)."""
        return str(Path(path).relative_to(self.workdir))

    @property
    def layout(self):
        from pipeline.layout import Layout

        return Layout.from_config(self.config, workdir=self.workdir)

    def path(self, key: str, **wildcards) -> Path:
        """A contract file of this run (pipeline/layout.py), e.g. ``path("dem")``."""
        return Path(self.layout.path(key, aoi=self.aoi, **wildcards))

    def factor_paths(self, year: int) -> dict[str, Path]:
        """Factor rasters of the soil-loss equation for ``year`` (as ``soil_loss_factors``)."""
        factors = self.layout.factors(self.config["model"], aoi=self.aoi, year=int(year))
        return {k: Path(v) for k, v in factors.items()}

    def ml_inputs(self, year: int) -> dict[str, str]:
        """Inputs of the ``ml`` rule for ``year`` (as ``ml_inputs`` in common.smk)."""
        paths = {k: str(v) for k, v in self.factor_paths(year).items()}
        paths["slope"] = self.layout.factor("slope_deg", aoi=self.aoi)
        for key in ("ndvi", "landcover", "survey", "aoi", "soil_loss", "intensity"):
            paths[key] = str(self.path(key, year=int(year)))
        return paths

    @property
    def chunks(self) -> dict:
        """Dask chunks of the run's rasters (``compute.chunk_size``), as the stages use."""
        from pipeline.stages.common import chunks_2d

        return chunks_2d(self.config["compute"])

    def feature_layers(self, year: int) -> dict:
        """The ML feature layers of ``year``, opened as the ``ml`` rule opens them."""
        from pipeline.stages.ml import feature_layers

        return feature_layers(self.ml_inputs(year), self.chunks)

    def aoi_mask(self, template: xr.DataArray) -> xr.DataArray:
        """True inside the AOI (pixel centres) on ``template``'s grid, as the stages mask."""
        from pipeline.layout import read_aoi
        from pipeline.stages.common import aoi_mask

        return aoi_mask(read_aoi(self.path("aoi"), template.rio.crs).geometry, template)

    def summary(self, year: int) -> dict:
        """The workflow's headline numbers for ``year`` (tables/summary.json)."""
        from pipeline.layout import read_json

        return read_json(self.path("summary", year=int(year)))

    def class_table(self, year: int) -> pd.DataFrame:
        """The workflow's district class-area table for ``year`` (tables/class_areas.csv)."""
        from pipeline.layout import read_table

        return read_table(self.path("class_areas", year=int(year)))

    def all_targets(self) -> list[Path]:
        """The files of ``rule all`` (reports, bulletins, change summaries)."""
        out = self.report_targets(self.years)
        out += [
            self.path("change_summary", y0=y0, y1=y1)
            for y0, y1 in zip(self.years[:-1], self.years[1:], strict=False)
        ]
        return out

    def report_targets(self, years: Sequence[int] | None = None) -> list[Path]:
        """Report, bulletins (and so ML and change) of ``years`` (default: the last year)."""
        return [
            self.path(key, year=y)
            for y in (years or self.years[-1:])
            for key in ("report_html", "bulletin_zh", "bulletin_en")
        ]

    def statistics_targets(self, years: Sequence[int] | None = None) -> list[Path]:
        """Soil loss, classes and class tables only (no ML, no report): a quicker run."""
        return [self.path("summary", year=y) for y in (years or self.years)]


def ensure_results(
    config_path: str | os.PathLike = SMALL_CONFIG,
    workdir: str | os.PathLike | None = None,
    *,
    until: str = "all",
    years: Sequence[int] | None = None,
    cores: int = 2,
) -> WorkflowRun:
    """Run the workflow in ``workdir``; quick when its results exist and are up to date.

    Parameters
    ----------
    config_path : path
        Workflow configuration (default: the 4 km demo, tests/configs/small.yaml).
    workdir : path, optional
        Work directory (default ``notebook_workdir("default")``); ``resources/``,
        ``results/``, ``logs/`` and ``.snakemake/`` go there.
    until : {"all", "report", "statistics"}
        ``"all"``: every output of ``rule all`` (reports, ML, change, every year).
        ``"report"``: the report and bulletins of ``years`` (default: the last year), with
        what they need (ML, change from the year before). ``"statistics"``: only factors,
        soil loss, classes and class tables of ``years`` (default: every year).
    years : sequence of int, optional
        Years for ``until="report"`` or ``"statistics"``.
    cores : int
        Cores for Snakemake.

    Returns
    -------
    WorkflowRun
        The run's configuration (validated, with defaults) and file layout.

    Examples
    --------
    >>> run = ensure_results(SMALL_CONFIG, notebook_workdir("quickstart"))  # doctest: +SKIP
    >>> run.summary(2024)["erosion_area_ha"]  # doctest: +SKIP
    """
    workdir = Path(workdir) if workdir is not None else notebook_workdir("default")
    run = WorkflowRun.from_config(config_path, workdir)
    if until == "all":
        wanted = run.all_targets()
    elif until == "report":
        wanted = run.report_targets(years)
    elif until == "statistics":
        wanted = run.statistics_targets(years)
    else:
        raise ConfigError(f"until must be 'all', 'report' or 'statistics', got {until!r}")
    with _directory_lock(run.workdir):
        # Several notebooks may share one run: the first one makes it, the others wait. Snakemake
        # is always asked: it does nothing when the results are up to date and reruns what a
        # changed parameter or input makes stale (its "code" trigger covers the rules' scripts,
        # not the pipeline/ modules they import: delete the work directory after such changes).
        run_workflow(
            config_path, run.workdir, cores=cores, targets=[run.relative(p) for p in wanted]
        )
    return run


def dry_run_jobs(
    config_path: str | os.PathLike,
    workdir: str | os.PathLike,
    *,
    targets: Sequence[str] = (),
    cores: int = 2,
) -> dict[str, int]:
    """Rules Snakemake would run (``-n``), with their job counts; ``{}`` when up to date."""
    proc = run_workflow(config_path, workdir, cores=cores, targets=targets, extra=["-n"])
    counts: dict[str, int] = {}
    in_table = False
    for line in (proc.stdout + "\n" + proc.stderr).splitlines():
        words = line.split()
        if words[:2] == ["job", "count"]:
            in_table = True
        elif in_table and len(words) == 2 and words[1].isdigit():
            if words[0] == "total":
                break
            counts[words[0]] = int(words[1])
    return counts


@contextlib.contextmanager
def _directory_lock(workdir: Path):
    """An exclusive advisory lock on ``workdir`` (POSIX ``flock``; none elsewhere)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    workdir.mkdir(parents=True, exist_ok=True)
    with open(workdir / ".notebook.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- variants
@dataclass
class Variant:
    """One recomputed year: configuration, files, soil loss, classes and class areas."""

    name: str
    overrides: dict
    config: dict = field(repr=False)
    factors: dict[str, Path] = field(repr=False)
    soil_loss_path: Path = field(repr=False)
    intensity_path: Path = field(repr=False)
    table: pd.DataFrame = field(repr=False)
    summary: dict = field(repr=False)
    rerun: list[str] = field(default_factory=list)

    @property
    def erosion_area_ha(self) -> float:
        return float(self.summary["erosion_area_ha"])

    def soil_loss(self) -> xr.DataArray:
        from pipeline.io import open_raster

        return open_raster(self.soil_loss_path).load()

    def intensity(self) -> xr.DataArray:
        from pipeline.io import open_raster

        return open_raster(self.intensity_path).load()


def _slug(overrides: Mapping) -> str:
    if not overrides:
        return "baseline"
    text = "_".join(f"{k}={v}" for k, v in sorted(overrides.items()))
    return "".join(c if c.isalnum() or c in "._=-" else "-" for c in text)[:120]


def soil_loss_variant(
    run: WorkflowRun,
    overrides: Mapping[str, object],
    *,
    year: int,
    out_dir: str | os.PathLike,
    name: str | None = None,
) -> Variant:
    """Soil loss, classes and class areas of ``year`` with changed parameters.

    Reruns only the stages whose configuration section is changed by ``overrides`` (see
    :data:`VARIANT_SECTIONS`), with the stage functions the workflow calls, and reads every
    other factor from ``run``. The statistics are those of the workflow's ``statistics`` rule.

    Parameters
    ----------
    run : WorkflowRun
        A finished workflow run (at least the factors of ``year``), e.g. from
        :func:`ensure_results`.
    overrides : mapping of dotted config key → value
        E.g. ``{"cover.method": "van_der_knijff"}``; ``{}`` recomputes the baseline.
    year : int
        Assessment year (one of the run's years).
    out_dir : path
        Folder for this variant's files (a subfolder per variant is made).
    name : str, optional
        Label (default: the overrides as text).

    Returns
    -------
    Variant
        With ``table`` (``pipeline.stats.class_area_table``), ``summary``
        (``pipeline.stats.summarize``: ``erosion_area_ha`` etc.) and the written rasters.

    Raises
    ------
    ConfigError
        If an override is outside the sections a variant can change (e.g. ``model``), or
        invalid for the schema.
    """
    from pipeline.layout import FILES, read_json, read_table
    from pipeline.stages import factors as stage
    from pipeline.stages.common import dask_scheduler
    from pipeline.stages.soil_loss import make_soil_loss
    from pipeline.stages.statistics import make_statistics

    overrides = dict(overrides)
    sections = {key.split(".")[0] for key in overrides}
    unknown = sorted(sections - set(VARIANT_SECTIONS))
    if unknown:
        raise ConfigError(
            f"overrides {unknown} change more than the factors and classes; run the workflow "
            f"with a new config instead (variants can change {sorted(VARIANT_SECTIONS)})"
        )
    if int(year) not in run.years:
        raise ConfigError(f"year {year} is not one of the run's years {run.years}")
    cfg = apply_overrides(run.config, overrides)
    compute = cfg["compute"]
    model = cfg["model"]
    name = name or _slug(overrides)
    out = Path(out_dir) / _slug(overrides) / str(int(year))
    out.mkdir(parents=True, exist_ok=True)
    y = int(year)

    def here(key: str) -> Path:  # a contract file's name, in this variant's folder
        return out / Path(FILES[key].pattern).name

    factors = dict(run.factor_paths(year))
    shares = run.path("r_shares", year=y)
    landcover_path = run.path("landcover", year=y)
    rerun: list[str] = []

    # Each call below is the one of the rule's script in pipeline/scripts/ (same arguments).
    with dask_scheduler(compute):
        if "rainfall" in sections:
            factors["R"] = here("factor_R")
            shares = here("r_shares")
            r_args = dict(
                dem_path=run.path("dem"),
                year=y,
                out_r=factors["R"],
                out_shares=shares,
                out_halfmonth=here("r_halfmonth"),
                rainfall=cfg["rainfall"],
                compute=compute,
            )
            from pipeline.stages import ready_factors  # the scripts of rules/ready_factors.smk

            if cfg["rainfall"].get("stations"):
                ready_factors.make_r_stations(**r_args)
            elif cfg["rainfall"].get("method") in ("raster", "constant"):
                ready_factors.make_r_ready(rain_path=run.path("rain"), **r_args)
            else:
                stage.make_r(rain_path=run.path("rain"), **r_args)
            rerun.append("factor_r")
        if "soil" in sections:
            factors["K"] = here("factor_K")
            if cfg["soil"].get("method", "epic") != "epic":
                from pipeline.stages import ready_factors

                ready_factors.make_k_ready(
                    dem_path=run.path("dem"), out_k=factors["K"], soil=cfg["soil"], compute=compute
                )
            else:
                stage.make_k(
                    soil_path=run.path("soil"),
                    out_k=factors["K"],
                    soil=cfg["soil"],
                    compute=compute,
                )
            rerun.append("factor_k")
        if "terrain" in sections:
            paths = {n: here(f"factor_{n}") for n in ("slope_deg", "L", "S", "LS")}
            stage.make_terrain(
                dem_path=run.path("dem"),
                out_slope=paths["slope_deg"],
                out_l=paths["L"],
                out_s=paths["S"],
                out_ls=paths["LS"],
                terrain=cfg["terrain"],
                compute=compute,
            )
            factors.update({n: p for n, p in paths.items() if n in factors})
            rerun.append("terrain")
        if "cover" in sections or "rainfall" in sections:
            what = "C" if model == "rusle" else "B"
            factors[what] = here(f"factor_{what}")
            endmembers = None
            if cfg["cover"]["method"] == "cai2000":  # pooled end-members (rule fvc_endmembers)
                endmembers = run.path("fvc_endmembers")
                if "cover" in sections:
                    from pipeline.stages.endmembers import make_fvc_endmembers

                    endmembers = here("fvc_endmembers")
                    make_fvc_endmembers(
                        ndvi_paths=[run.path("ndvi", year=v) for v in run.years],
                        landcover_paths=[run.path("landcover", year=v) for v in run.years],
                        aoi_path=run.path("aoi"),
                        out_json=endmembers,
                        cover=cfg["cover"],
                        compute=compute,
                    )
                    rerun.append("fvc_endmembers")
            stage.make_c(
                ndvi_path=None if cfg["cover"]["method"] == "table" else run.path("ndvi", year=y),
                landcover_path=landcover_path,
                shares_path=shares,
                out_c=factors[what],
                cover=cfg["cover"],
                what=what,
                compute=compute,
                endmembers_path=endmembers,
            )
            rerun.append("factor_cover")
        if "support" in sections and model == "rusle":
            factors["P"] = here("factor_P")
            tr = cfg["treatment"]  # the #15 hook of rule factor_p (treatment_common.smk)
            hook = (tr["demo"] or tr["measures"] is not None) and tr["measure_factors"]["p_table"]
            stage.make_p(
                landcover_path=landcover_path,
                out_p=factors["P"],
                support=cfg["support"],
                measures_path=run.path("treatment_measures_raster", year=y) if hook else None,
                measure_factors=tr["measure_factors"] if hook else None,
                compute=compute,
            )
            rerun.append("factor_p")
        if "csle" in sections and model == "csle":
            from pipeline.stages.csle import make_e_t_layers

            factors["E"], factors["T"] = here("factor_E"), here("factor_T")
            make_e_t_layers(
                landcover_path=landcover_path,
                out_e=factors["E"],
                out_t=factors["T"],
                csle=cfg["csle"],
                compute=compute,
            )
            rerun.append("factor_e_t")
        soil_loss_path, intensity_path = here("soil_loss"), here("intensity")
        make_soil_loss(
            factors={k: str(v) for k, v in factors.items()},
            landcover_path=landcover_path,
            aoi_path=run.path("aoi"),
            out_soil_loss=soil_loss_path,
            out_intensity=intensity_path,
            model=model,
            classification=cfg["classification"],
            class_colours=cfg["report"]["class_colours"],
            compute=compute,
        )
        rerun.append("soil_loss")
        # the statistics rule's own stage (true AOI area, unassessed-area check, district
        # class), not a copy of it: the variant's summary is what the workflow would write
        out_classes, out_summary = here("class_areas"), here("summary")
        make_statistics(
            intensity_path=intensity_path,
            soil_loss_path=soil_loss_path,
            aoi_path=run.path("aoi"),
            factor_paths={k: str(v) for k, v in factors.items()},
            statistics=cfg["statistics"],
            classification=cfg["classification"],
            zone_paths={},
            year=int(year),
            out_classes=out_classes,
            out_summary=out_summary,
            out_zones={},
            compute=compute,
        )
        table, summary = read_table(out_classes), read_json(out_summary)
    return Variant(
        name=name,
        overrides=overrides,
        config=cfg,
        factors=factors,
        soil_loss_path=soil_loss_path,
        intensity_path=intensity_path,
        table=table,
        summary=summary,
        rerun=rerun,
    )


# --------------------------------------------------------------------------- outputs out of git
def strip_outputs(path: str | os.PathLike) -> bool:
    """Remove outputs, execution counts and execution timing from a notebook, in place.

    Returns True if the file changed. Notebooks are committed without outputs so that diffs
    show only code (tests/test_notebooks.py fails on a notebook with outputs).

    Examples
    --------
    >>> strip_outputs("notebooks/01_quickstart.ipynb")  # doctest: +SKIP
    False
    """
    import nbformat

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    before = nbformat.writes(nb)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    after = nbformat.writes(nb)
    if after != before:
        path.write_text(after, encoding="utf-8")
    return after != before


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pipeline.notebook strip notebooks/*.ipynb``: strip outputs before a commit."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2 or args[0] != "strip":
        print("usage: python -m pipeline.notebook strip NOTEBOOK.ipynb ...", file=sys.stderr)
        return 2
    for name in args[1:]:
        if strip_outputs(name):
            print(f"stripped {name}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
