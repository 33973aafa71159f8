"""The treatment paragraph (#15) in the year's bulletin and report, when it exists.

Reads the ``treatment_report`` rule's outputs (``bulletin_treatment_{lang}.md``,
``progress.png``, ``parcels_top.png``; keys of ``report_inputs`` in
``pipeline/rules/common.smk``) and places them; computes nothing. Without treatment inputs
the report is as before: every function returns its input unchanged or nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

__all__ = ["append_treatment_paragraph", "treatment_figures", "treatment_sections"]

TITLE = {
    "zh": "十四五水土流失治理与项目成效",
    "en": "Soil and water conservation works since the 14th Five-Year Plan baseline",
}


def treatment_paragraph(inputs: Mapping[str, str], lang: str) -> str | None:
    """The paragraph of ``bulletin_treatment_{lang}.md`` (stripped), or None without one."""
    path = inputs.get(f"treatment_bulletin_{lang}")
    if not path:
        return None
    text = Path(path).read_text(encoding="utf-8").strip()
    return text or None


def append_treatment_paragraph(text: str, inputs: Mapping[str, str], *, lang: str) -> str:
    """``text`` (a bulletin) with the treatment paragraph appended, as the disturbance one is.

    >>> append_treatment_paragraph("公报。\\n", {}, lang="zh")
    '公报。\\n'
    """
    para = treatment_paragraph(inputs, lang)
    if para is None:
        return text
    return text + "\n" + para + "\n"


def treatment_figures(inputs: Mapping[str, str]) -> dict:
    """The progress chart and the map of the parcels to treat, with captions (HTML figures)."""
    figures = {}
    if "treatment_chart" in inputs:
        figures["treatment_progress"] = (
            inputs["treatment_chart"],
            "十四五治理与生态修复面积累计完成情况 cumulative treated area against the targets",
        )
    if "treatment_map" in inputs:
        figures["treatment_parcels"] = (
            inputs["treatment_map"],
            "建议优先治理地块 parcels to treat first (by total soil loss)",
        )
    return figures


def treatment_sections(inputs: Mapping[str, str], *, lang: str) -> list[dict]:
    """One report section with the treatment paragraph in the report's language."""
    para = treatment_paragraph(inputs, lang)
    if para is None:
        return []
    return [{"title": TITLE.get(lang, TITLE["zh"]), "text": para}]
