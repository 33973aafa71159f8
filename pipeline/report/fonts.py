"""CJK font discovery for the report figures, and the English fallback.

Matplotlib draws Chinese only with a font that has CJK glyphs; with none it prints
tofu boxes and one "Glyph … missing from font(s) DejaVu Sans" warning per character.
Nothing in matplotlib picks a CJK font by language, so this module does it by hand:

1. look in matplotlib's font list for a known CJK family (Noto Sans CJK SC, Source Han
   Sans SC, WenQuanYi Micro/Zen Hei, SimHei, Microsoft YaHei, PingFang SC, …);
2. if none is there (the font cache may predate the font's installation), ask
   fontconfig (``fc-list :lang=zh``) for CJK font files and register them with
   matplotlib;
3. if there is still none, figures requested in Chinese (``lang="zh"``) are drawn with
   English labels instead, and a single warning says so and names the Debian package
   to install (``fonts-noto-cjk``). Text from data that cannot be drawn (e.g. Chinese
   township names) is replaced by an ASCII fallback chosen by the caller (see
   :func:`can_render`), so no tofu and no per-glyph warnings appear.

Decision: figures never fail for lack of a font; they degrade to English.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import shutil
import subprocess

import matplotlib as mpl
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

log = logging.getLogger(__name__)

#: Debian package that provides the preferred CJK font (Noto Sans CJK SC).
CJK_FONT_PACKAGE = "fonts-noto-cjk"

# Preferred families, simplified-Chinese faces first.
_PREFERRED_CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Noto Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Sarasa Gothic SC",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Heiti SC",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
    "AR PL UMing CN",
)
# First code point of the CJK blocks (CJK radicals … ideographs, fullwidth forms).
_CJK_START = 0x2E80


def _installed_families() -> set[str]:
    return {f.name for f in font_manager.fontManager.ttflist}


def _register_fontconfig_cjk_fonts() -> None:
    """Add fontconfig's zh fonts to matplotlib's list (for a stale font cache)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return
    try:
        out = subprocess.run(
            [fc_list, ":lang=zh", "file"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return
    for line in sorted(set(out.splitlines())):
        path = line.split(":", 1)[0].strip()
        if path:
            with contextlib.suppress(Exception):  # unreadable/unsupported font file
                font_manager.fontManager.addfont(path)


def _has_chinese_glyphs(font_entry) -> bool:
    from matplotlib.ft2font import FT2Font

    try:
        font = FT2Font(font_entry.fname)
        return all(font.get_char_index(ord(ch)) != 0 for ch in "水土流失")
    except Exception:  # unreadable font file
        return False


@functools.cache
def cjk_font_family() -> str | None:
    """Name of an installed font family with Chinese glyphs, or None.

    Preferred families first; otherwise any family whose font file has glyphs for
    水土流失. Cached for the process.

    Examples
    --------
    >>> cjk_font_family()  # doctest: +SKIP
    'Noto Sans CJK SC'
    """
    for attempt in range(2):
        families = _installed_families()
        for name in _PREFERRED_CJK_FAMILIES:
            if name in families:
                return name
        for entry in sorted(font_manager.fontManager.ttflist, key=lambda f: (f.name, f.fname)):
            if _has_chinese_glyphs(entry):
                return entry.name
        if attempt == 0:
            _register_fontconfig_cjk_fonts()
    return None


_warned_fallback = False


def resolve_lang(lang: str) -> str:
    """``"zh"`` or ``"en"``: the label language figures can actually draw.

    ``lang="zh"`` falls back to ``"en"`` (with one warning per process) when no CJK
    font is installed.
    """
    global _warned_fallback
    if lang not in ("zh", "en"):
        from pipeline.errors import ConfigError

        raise ConfigError(f"figure language must be 'zh' or 'en', got {lang!r}")
    if lang == "zh" and cjk_font_family() is None:
        if not _warned_fallback:
            log.warning(
                "no CJK font found (fc-list :lang=zh is empty): figures use English labels; "
                "install the Debian package %s for Chinese labels",
                CJK_FONT_PACKAGE,
            )
            _warned_fallback = True
        return "en"
    return lang


def can_render(text: str) -> bool:
    """True if ``text`` can be drawn without missing glyphs (CJK needs a CJK font)."""
    if cjk_font_family() is not None:
        return True
    return all(ord(ch) < _CJK_START for ch in str(text))


def agg_figure(**kwargs) -> Figure:
    """A matplotlib Figure drawn by the Agg canvas, outside pyplot.

    No global backend is switched (``matplotlib.use`` would change a notebook user's
    backend) and no pyplot figure is left open.
    """
    figure = Figure(**kwargs)
    FigureCanvasAgg(figure)
    return figure


@contextlib.contextmanager
def figure_style():
    """rc settings for every report figure: DejaVu Sans, then the CJK font (if any).

    DejaVu Sans comes first so that Latin text, digits and unit symbols (·, ⁻¹, ≤) look
    the same in every figure (the CJK fonts draw · and ≤ full-width); matplotlib falls
    back per glyph to the CJK font for Chinese characters.
    """
    families = ["DejaVu Sans"]
    cjk = cjk_font_family()
    if cjk is not None:
        families.append(cjk)
    rc = {
        "font.family": families,  # a list: matplotlib falls back per glyph, in order
        "axes.unicode_minus": True,  # DejaVu Sans has U+2212
        "svg.hashsalt": "shuibao",
        "figure.dpi": 100,
        "savefig.dpi": 150,
    }
    with mpl.rc_context(rc):
        yield
