"""The report's sediment sections: the plausibility warning comes first, above the bulletin."""

from __future__ import annotations

import json

import pandas as pd

from pipeline.report.html import build_html_report
from pipeline.report.sediment import sediment_sections
from tests.test_report_html import report_kwargs

WARNING = (
    "hetianzhan 2015: observed yield ≥ 6.52 t/(ha·a) exceeds the modelled gross erosion "
    "1.30 t/(ha·a) (old example C/P); other sources: gullies (incl. 崩岗 collapse gullies), "
    "stream banks, construction sites, landslides"
)


def _stage_outputs(tmp_path, warnings: list[str]) -> dict[str, str]:
    table = pd.DataFrame(
        {
            "gauge_id": ["hetianzhan"],
            "year": [2015],
            "gross_t_ha": [1.3],
            "export_t_ha": [0.05],
            "kind": ["lower_bound"],
            "load_t_ha": [6.52],
            "agreement": ["model_below_lower_bound"],
            "observed_exceeds_gross": [bool(warnings)],
        }
    )
    csv, js = tmp_path / "gauge_comparison.csv", tmp_path / "gauge_comparison.json"
    table.to_csv(csv, index=False, encoding="utf-8-sig")
    js.write_text(json.dumps({"warnings": warnings}, ensure_ascii=False), encoding="utf-8")
    return {"sediment_csv": str(csv), "sediment_json": str(js)}


def _html(tmp_path, warnings):
    sections = sediment_sections(_stage_outputs(tmp_path, warnings))
    out = build_html_report(tmp_path / "report.html", **report_kwargs({}, extra_sections=sections))
    return out.read_text(encoding="utf-8")


def test_plausibility_warning_is_shown_first_and_highlighted(tmp_path):
    html = _html(tmp_path, [WARNING])
    warning_at = html.index('<section class="extra warning" id="warning-1" role="alert">')
    assert warning_at < html.index('<section id="bulletin"')  # above everything but the title
    assert html.index("</header>") < warning_at
    assert "崩岗" in html[warning_at:] and "6.52 t/(ha·a)" in html
    # the comparison table stays in its own section further down
    assert html.index("Sediment export vs gauge") > html.index('<section id="bulletin"')
    assert "section.warning" in html  # the highlight style is embedded
    assert "2,015" not in html and ">2015<" in html  # the year is a label


def test_no_warning_section_when_the_check_does_not_fire(tmp_path):
    html = _html(tmp_path, [])
    assert 'class="extra warning"' not in html and 'role="alert"' not in html
    assert "Sediment export vs gauge" in html
