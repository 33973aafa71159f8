"""Report pieces for the sediment check: a chart, the table section and the warning.

Reads the stage outputs (gauge_comparison.csv/json); computes nothing scientific.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

COLUMNS = {
    "gauge_id": "站点 gauge",
    "year": "年份 year",
    "gross_t_ha": "模型侵蚀量 modelled gross erosion (t/ha/a)",
    "export_t_ha": "模型输沙 modelled export (t/ha/a)",
    "export_low_t_ha": "模型下限 export low",
    "export_high_t_ha": "模型上限 export high",
    "kind": "实测类型 observed kind",
    "load_t_ha": "实测输沙 observed yield (t/ha/a)",
    "load_low_t_ha": "实测下限 observed low",
    "load_high_t_ha": "实测上限 observed high",
    "agreement": "对比 agreement",
    "observed_exceeds_gross": "合理性警告 plausibility flag",
}


def plot_gauge_comparison(table: pd.DataFrame, observed: Sequence[Mapping], out_png) -> Path:
    """Bars of modelled export (with its range) and observed yields per year, t/(ha·a)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=120)
    if len(table):
        area = float(table["area_ha"].iloc[0])
        for r in table.itertuples():
            ax.bar(
                r.year - 0.2,
                r.gross_t / r.area_ha,
                0.35,
                color="#f4c7a1",
                label="modelled gross erosion" if r.Index == 0 else None,
            )
            ax.errorbar(
                r.year + 0.2,
                r.export_t / r.area_ha,
                yerr=[
                    [(r.export_t - r.export_low_t) / r.area_ha],
                    [(r.export_high_t - r.export_t) / r.area_ha],
                ],
                fmt="o",
                color="#b2182b",
                label="modelled export" if r.Index == 0 else None,
            )
        obs = pd.DataFrame(list(observed))
        if len(obs):
            for i, r in enumerate(obs.itertuples()):
                low = r.load_low_t / area
                marker = "^" if r.kind == "lower_bound" else "s"
                ax.plot(
                    r.year,
                    r.load_t / area,
                    marker,
                    color="#2166ac",
                    label=("observed (▲ = lower bound)" if i == 0 else None),
                )
                if r.kind != "lower_bound" and pd.notna(r.load_high_t):
                    ax.vlines(r.year, low, r.load_high_t / area, color="#2166ac")
        ax.legend(fontsize=7, loc="upper left")
    ax.set_ylabel("t·ha⁻¹·a⁻¹")
    ax.set_title("Sediment: model vs gauge", fontsize=9)
    fig.tight_layout()
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png)
    plt.close(fig)
    return Path(out_png)


def sediment_sections(inputs: Mapping[str, str]) -> list[dict]:
    """Extra report sections: the prominent warning (if any) first, then the table."""
    if "sediment_csv" not in inputs:
        return []
    table = pd.read_csv(inputs["sediment_csv"], encoding="utf-8-sig")
    meta = json.loads(Path(inputs["sediment_json"]).read_text(encoding="utf-8"))
    sections = []
    if meta.get("warnings"):
        sections.append(
            {
                "title": "⚠ 合理性警告 Plausibility warning: observed sediment > modelled erosion",
                "text": "\n".join(meta["warnings"]),
                "warning": True,
            }
        )
    if "year" in table.columns:  # a label, not a number with a thousands separator
        table["year"] = table["year"].astype(str)
    shown = table[[c for c in COLUMNS if c in table.columns]].rename(columns=COLUMNS)
    sections.append(
        {
            "title": "泥沙输移与水文站实测对比 Sediment export vs gauge",
            "text": "Export = A × pixel area × SDR (Borselli 2008 IC, Vigiak 2012 SDR); the "
            "modelled range varies IC0 and k. Observed: rating curve with Duan smearing and "
            "bootstrap 95 % interval; 'lower_bound' = sum over sampled days only.",
            "table": shown,
        }
    )
    return sections
