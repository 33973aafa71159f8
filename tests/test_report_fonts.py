"""The maps' Chinese text is drawn with a real CJK font that comes with the Python install.

Run without system fonts (as root) to see that nothing depends on them:
``unshare -m bash -c 'mount -t tmpfs none /usr/share/fonts && MPLCONFIGDIR=$(mktemp -d)
.venv/bin/python -m pytest tests/test_report_fonts.py -q -n 0'``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib import font_manager

from pipeline.report import fonts, maps


def _bitmap(text: str, *, family=None) -> np.ndarray:
    """Grey levels of ``text`` drawn at 40 px by the report's Agg setup."""
    with fonts.figure_style():
        fig = fonts.agg_figure(figsize=(1, 1), dpi=60)
        kwargs = {"family": family} if family else {}
        fig.text(0.5, 0.5, text, fontsize=40, ha="center", va="center", **kwargs)
        fig.canvas.draw()
        return np.asarray(fig.canvas.buffer_rgba())[..., 0].copy()


def test_the_chosen_font_is_the_packaged_one_and_its_cmap_has_the_glyphs():
    packaged = fonts.packaged_font_path()
    assert packaged is not None, f"{fonts.CJK_FONT_PACKAGE} is a runtime dependency"
    family = fonts.cjk_font_family()
    assert family == fonts.PACKAGED_CJK_FAMILY
    resolved = fonts.font_file(family)
    assert Path(resolved).resolve() == Path(str(packaged)).resolve()
    # fontTools cmap of that very file: the bulletin's words, the class names, a township
    assert fonts.font_has_glyphs(resolved, "水土流失微度轻度中度强烈极强烈剧烈城关镇游屋圳")
    # and figure_style() puts it in the font list the maps are drawn with
    with fonts.figure_style():
        import matplotlib as mpl

        assert family in mpl.rcParams["font.family"]


def test_last_resort_type_font_is_refused_although_it_maps_every_code_point():
    last_resort = [f.fname for f in font_manager.fontManager.ttflist if "Last Resort" in f.name]
    if not last_resort:
        pytest.skip("this matplotlib ships no Last Resort font (added in 3.10)")
    from fontTools.ttLib import TTFont

    with TTFont(last_resort[0], lazy=True) as font:
        assert ord("水") in font.getBestCmap()  # it claims the glyph ...
    assert not fonts.font_has_glyphs(last_resort[0])  # ... and the check is not fooled


def test_map_text_is_drawn_as_distinct_glyphs_not_placeholder_boxes():
    """A placeholder font draws every ideograph as the same box; real glyphs differ."""
    shui, tu, liu = (_bitmap(ch) for ch in "水土流")
    blank = _bitmap(" ")
    for glyph in (shui, tu, liu):
        assert (glyph < 128).sum() > 20, "no ink: the character was not drawn"
    assert not np.array_equal(shui, tu) and not np.array_equal(tu, liu)
    assert not np.array_equal(shui, blank)
    # Control: the same comparison catches tofu when a placeholder font is forced.
    boxes = [f.name for f in font_manager.fontManager.ttflist if "Last Resort" in f.name]
    if boxes:
        assert np.array_equal(_bitmap("水", family=boxes[0]), _bitmap("土", family=boxes[0]))


def test_intensity_map_title_in_chinese_raises_no_missing_glyph_warning(tmp_path):
    import warnings

    from tests.test_report_figures import synthetic_intensity

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        maps.plot_intensity_map(
            synthetic_intensity(), tmp_path / "m.png", title="游屋圳 土壤侵蚀强度", lang="zh"
        )
    assert [w for w in caught if "missing from font" in str(w.message)] == []
    assert (tmp_path / "m.png").stat().st_size > 1000


def test_intensity_map_asks_for_no_font_weight_it_does_not_have(tmp_path, caplog):
    """The packaged Noto Sans SC has only a regular face: the bold north arrow "N" uses
    DejaVu Sans, so no "findfont: Failed to find font weight bold" warning is logged."""
    import logging

    from tests.test_report_figures import synthetic_intensity

    with caplog.at_level(logging.WARNING, logger="matplotlib.font_manager"):
        maps.plot_intensity_map(
            synthetic_intensity(), tmp_path / "m.png", title="土壤侵蚀强度", lang="zh"
        )
    assert [r for r in caplog.records if "findfont" in r.getMessage()] == []
