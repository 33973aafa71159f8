"""CJK font for the report figures, and the English fallback.

Matplotlib draws Chinese only with a font that has CJK glyphs; with none it prints
tofu boxes. Matplotlib ≥ 3.10 also ships a "Last Resort" font that *claims* every code
point (its glyphs are placeholder boxes), so "does some font map 水?" is not the test:
the font we choose must really have the glyphs. This module therefore:

1. registers the Noto Sans SC font that comes with the Python install (the OFL-licensed
   PyPI package ``pylopdf-fonts-zh-cn``, a runtime dependency), so every machine draws
   the same Chinese whatever fonts its system has;
2. otherwise looks for a known CJK family in matplotlib's font list, then asks fontconfig
   (``fc-list :lang=zh``) for system CJK fonts;
3. accepts a family only if the file matplotlib resolves for it has 水土流失 in its
   character map (fontTools ``cmap`` lookup) and does *not* map an unassigned code point
   (U+0378), which only a "Last Resort"-type font does;
4. with no such font, figures requested in Chinese (``lang="zh"``) are drawn with
   English labels instead, and a single warning says so. Text from data that cannot be
   drawn (e.g. Chinese township names) is replaced by an ASCII fallback chosen by the
   caller (see :func:`can_render`), so no tofu and no per-glyph warnings appear.

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

#: PyPI distribution that ships the packaged CJK font (Noto Sans SC, SIL OFL 1.1).
CJK_FONT_PACKAGE = "pylopdf-fonts-zh-cn"
_PACKAGED_FONT = ("pylopdf_fonts_zh_cn", "NotoSansSC-Regular.otf")
#: Family name of the packaged font.
PACKAGED_CJK_FAMILY = "Noto Sans SC"
#: Characters the chosen font must have (cmap lookup).
PROBE_TEXT = "水土流失"
# An unassigned code point: only a "Last Resort"-type font (claims everything) maps it.
_UNASSIGNED = 0x0378

# Preferred families, simplified-Chinese faces first.
_PREFERRED_CJK_FAMILIES = (
    PACKAGED_CJK_FAMILY,
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


def packaged_font_path():
    """Path of the CJK font shipped with the Python install (Noto Sans SC), or None."""
    from importlib import resources

    package, name = _PACKAGED_FONT
    try:
        path = resources.files(package) / name
    except ModuleNotFoundError:
        return None
    return path if path.is_file() else None


def _register_packaged_font() -> None:
    path = packaged_font_path()
    if path is not None and PACKAGED_CJK_FAMILY not in _installed_families():
        font_manager.fontManager.addfont(str(path))


@functools.cache
def font_has_glyphs(path: str, text: str = PROBE_TEXT) -> bool:
    """True if the font file's character map has every character of ``text`` and is not
    a "Last Resort"-type font (one that maps even an unassigned code point)."""
    from fontTools.ttLib import TTFont

    try:
        with TTFont(path, fontNumber=0, lazy=True) as font:
            cmap = font.getBestCmap() or {}
            family = font["name"].getDebugName(1) or ""
    except Exception:  # unreadable or unsupported font file
        return False
    if "last resort" in family.lower() or _UNASSIGNED in cmap:
        return False
    return all(ord(ch) in cmap for ch in text)


def font_file(family: str) -> str | None:
    """The file matplotlib draws ``family`` with (no fallback to its default font)."""
    try:
        return font_manager.findfont(
            font_manager.FontProperties(family=family), fallback_to_default=False
        )
    except ValueError:
        return None


def _has_chinese_glyphs(font_entry) -> bool:
    return font_has_glyphs(font_entry.fname)


@functools.cache
def cjk_font_family() -> str | None:
    """Name of an installed font family with Chinese glyphs, or None.

    The packaged Noto Sans SC first, then other preferred families, then any family whose
    font file has glyphs for 水土流失 — each checked in the cmap of the file matplotlib
    resolves for it. Cached for the process.

    Examples
    --------
    >>> cjk_font_family()  # doctest: +SKIP
    'Noto Sans SC'
    """
    _register_packaged_font()
    for attempt in range(2):
        families = _installed_families()
        for name in _PREFERRED_CJK_FAMILIES:
            if name in families:
                path = font_file(name)
                if path is not None and font_has_glyphs(path):
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
                "no CJK font found (the packaged font is missing and fc-list :lang=zh is "
                "empty): figures use English labels; reinstall Shuibao or pip install %s "
                "for Chinese labels",
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
