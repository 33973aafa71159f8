"""Figure and numbers of docs/ls-comparison.md: Shuibao's LS against an InVEST-SDR-style LS
on the Gura DEM (the InVEST sample data; `make example-data` fetches it).

    .venv/bin/python docs/figures/ls_comparison_gura.py data/examples/gura

Shuibao's LS is :func:`pipeline.factors.terrain.terrain_factors` with the workflow's
defaults (MFD with cardinal weights, Desmet & Govers 1996 L from the inlet contributing
area in m², Chinese m and S, 300 m slope-length cap). The InVEST-style LS follows the
formula of InVEST SDR >= 3.14 (natcap/invest, src/natcap/invest/sdr/sdr.py,
``_calculate_ls_factor``, and doc/decision-records/ADR-0001-Update-SDR-LS-Factor.md),
written here from its description: Desmet & Govers' expression with
``sqrt(upstream cells × D²)`` (a length, m) in place of the contributing area, m by the
percent-slope table (0.2/0.3/0.4/0.5, then β/(1+β) above 9 %), S of McCool et al. (1987)
(10.8 sinθ + 0.03 below 9 %, 16.8 sinθ − 0.5 above), x = |sin θ| + |cos θ| evaluated as that
code does, L clamped at l_max = 122 (the sample's value). Its flow accumulation here is
Shuibao's uncapped 8-neighbour MFD (Freeman weights), close to InVEST's MFD. A third
variant changes only the input: Shuibao's own formula, fed the InVEST length instead of the
area; the ratio of the two isolates "a length where an area is needed".

Writes docs/figures/ls-comparison-gura.png and prints the statistics quoted in the page.
"""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import matplotlib
import numpy as np
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr
from rasterio.features import geometry_mask

from pipeline.factors import terrain

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

OUT = Path(__file__).with_name("ls-comparison-gura.png")
STREAM_CELLS = 1000  # InVEST's sample threshold flow accumulation (cells)
L_MAX = 122.0  # InVEST SDR l_max used with the sample data


def invest_style_ls(slope_deg, upstream_cells, cell_size):
    """LS as InVEST SDR >= 3.14 computes it (see the module docstring)."""
    d = float(cell_size)
    theta = np.deg2rad(slope_deg)
    pct = np.tan(theta) * 100.0
    length = np.sqrt(upstream_cells * d * d)  # m: what InVEST feeds as "contributing area"
    s = np.where(pct < 9, 10.8 * np.sin(theta) + 0.03, 16.8 * np.sin(theta) - 0.5)
    beta = (np.sin(theta) / 0.0896) / (3 * np.sin(theta) ** 0.8 + 0.56)
    m = np.select(
        [pct <= 1, pct <= 3.5, pct <= 5, pct <= 9], [0.2, 0.3, 0.4, 0.5], beta / (1 + beta)
    )
    x = np.abs(np.sin(theta)) + np.abs(np.cos(theta))
    cell_area = d * d
    big_l = ((length + cell_area) ** (m + 1) - length ** (m + 1)) / (d ** (m + 2) * x**m * 22.13**m)
    return np.minimum(big_l, L_MAX) * s


def main(folder: str) -> int:
    folder = Path(folder)
    dem = xr.open_dataarray(folder / "DEM_gura.tif", engine="rasterio", mask_and_scale=True)
    dem = dem.squeeze("band", drop=True).astype("float32")
    d = abs(float(dem.rio.resolution()[0]))
    ds = terrain.terrain_factors(dem, routing="mfd")  # Shuibao's defaults
    acc = terrain.flow_accumulation(dem, routing="mfd", mfd_weights="freeman")
    upstream = acc.values / (d * d)  # inlet area: cells strictly upslope
    slope = ds.slope_deg.values.astype("float64")
    ls_shuibao = ds.ls_factor.values.astype("float64")
    ls_invest = invest_style_ls(slope, upstream, d)
    # Shuibao's formula and inputs, but the InVEST length in place of the area
    l_len = terrain.l_factor_desmet_govers(
        np.sqrt(ds.contributing_area_m2.values),
        cell_size_m=d,
        m=terrain.m_exponent(ds.slope_deg).values,
    )
    ls_len = np.asarray(l_len) * ds.s_factor.values

    ws = gpd.read_file(folder / "watershed_gura.shp").to_crs(dem.rio.crs)
    inside = ~geometry_mask(ws.geometry, out_shape=dem.shape, transform=dem.rio.transform())
    hill = inside & np.isfinite(ls_shuibao) & np.isfinite(ls_invest) & (upstream < STREAM_CELLS)
    a, b, c = ls_shuibao[hill], ls_invest[hill], ls_len[hill]
    ratio, ratio_len = a / np.maximum(b, 1e-9), a / np.maximum(c, 1e-9)
    print(f"DEM {dem.shape[1]}x{dem.shape[0]} cells of {d:g} m; hillslope cells: {hill.sum():,}")
    for name, v in (("Shuibao", a), ("InVEST-style", b), ("Shuibao fed sqrt(A)", c)):
        q = np.percentile(v, [25, 50, 75])
        print(f"LS {name:20s} mean {v.mean():6.2f}  quartiles {q[0]:.2f} / {q[1]:.2f} / {q[2]:.2f}")
    print(
        f"Shuibao / InVEST-style: median {np.median(ratio):.2f}, mean LS ratio {a.mean() / b.mean():.2f}"
    )
    print(f"Shuibao / same formula fed sqrt(A): median {np.median(ratio_len):.2f}")

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4.2), constrained_layout=True)
    hb = ax1.hexbin(b, a, gridsize=70, bins="log", mincnt=1, extent=(0, 10, 0, 40))
    ax1.plot([0, 10], [0, 10], "k--", lw=0.8, label="1:1")
    ax1.plot([0, 10], [0, 30], "k:", lw=0.8, label="3:1")
    ax1.set(
        xlabel="InVEST-style LS",
        ylabel="Shuibao LS",
        xlim=(0, 10),
        ylim=(0, 40),
        title=f"Gura hillslope cells ({d:g} m), n = {hill.sum():,}",
    )
    ax1.legend(loc="upper left")
    fig.colorbar(hb, ax=ax1, label="cells")
    bins = np.logspace(-1, 1.5, 60)
    ax2.hist(ratio, bins=bins, histtype="step", label="Shuibao / InVEST-style")
    ax2.hist(ratio_len, bins=bins, histtype="step", label="Shuibao / Shuibao fed √A")
    ax2.set_xscale("log")
    ax2.axvline(np.median(ratio), color="C0", ls="--", lw=0.8)
    ax2.axvline(np.median(ratio_len), color="C1", ls="--", lw=0.8)
    ax2.set(xlabel="ratio per cell", ylabel="cells", title="LS ratio (medians dashed)")
    ax2.legend(loc="upper right", fontsize=8)
    fig.savefig(OUT, dpi=110)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "data/examples/gura"))
