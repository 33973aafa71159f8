"""Shuibao (水保): district soil-erosion assessment from satellite data.

RUSLE / CSLE soil loss per pixel, SL 190-2007 intensity classes, true-area
statistics by district, township (镇街) and small watershed (小流域), and the
bulletin report. See README.md for the workflow; researchers import the science
functions directly, e.g. ``from pipeline.factors import cover``.
"""

__version__ = "0.1.0"
