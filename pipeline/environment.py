"""The software environment an output was made with: package versions and platform.

Recorded in every raster's tags (``pipeline.stages.common.provenance``), in each rule's log
and in the HTML report, so a figure published one year can be traced to the numpy, xarray,
rasterio/GDAL and Snakemake that produced it. Versions come from the installed
distributions' metadata (``importlib.metadata``); GDAL's from rasterio, imported only when
asked for. No timestamps: the same install gives the same record.
"""

from __future__ import annotations

import functools
import platform
from importlib import metadata

#: Distributions whose versions are recorded (the ones that shape the numbers and files).
PACKAGES = (
    "shuibao",
    "numpy",
    "scipy",
    "pandas",
    "xarray",
    "dask",
    "rasterio",
    "rioxarray",
    "pyproj",
    "shapely",
    "geopandas",
    "pyflwdir",
    "numba",
    "scikit-learn",
    "matplotlib",
    "snakemake",
)


@functools.cache
def software_versions() -> dict[str, str]:
    """``{distribution: version}`` for :data:`PACKAGES` plus ``GDAL`` (as linked by rasterio).

    A distribution that is not installed is recorded as ``"absent"``.

    >>> software_versions()["numpy"] == __import__("numpy").__version__
    True
    """
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    try:
        import rasterio

        versions["GDAL"] = rasterio.__gdal_version__
    except ImportError:  # pragma: no cover - rasterio is a dependency
        versions["GDAL"] = "absent"
    return versions


def platform_summary() -> str:
    """Operating system, machine and Python, e.g. ``Linux-x86_64 CPython 3.11.2``."""
    return (
        f"{platform.system()}-{platform.machine()} "
        f"{platform.python_implementation()} {platform.python_version()}"
    )


def software_summary() -> str:
    """One line: ``shuibao 0.1.0; numpy 2.4.0; …; GDAL 3.10.3``."""
    return "; ".join(f"{k} {v}" for k, v in software_versions().items())


def environment_record() -> dict[str, str]:
    """``{"software": …, "platform": …}`` (strings; fit a GeoTIFF tag or a JSON file)."""
    return {"software": software_summary(), "platform": platform_summary()}
