"""Workflow stages: file paths in, file paths out.

Each stage opens its inputs lazily (dask chunks), calls the science functions
of :mod:`pipeline.factors`, :mod:`pipeline.classify`, :mod:`pipeline.stats`, …
and writes its outputs atomically with provenance tags. Stages are what the
Snakemake rules call (through ``pipeline/scripts``); they can be run from a
notebook too, without Snakemake.
"""
