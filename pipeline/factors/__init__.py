"""RUSLE / CSLE factor library: one module per factor.

- :mod:`~pipeline.factors.rainfall`: R (Zhang Wenbo 2002 daily model, Renard & Freimund 1994)
- :mod:`~pipeline.factors.soil`: K (EPIC, lookup table, unit conversion)
- :mod:`~pipeline.factors.cover`: FVC, C (Cai 2000, van der Knijff 2000, table, R-weighted mean)
- :mod:`~pipeline.factors.support`: P (table, conservation measures)
- :mod:`~pipeline.factors.csle`: B, E, T and A = R·K·L·S·B·E·T
- :mod:`~pipeline.factors.soil_loss`: A = R·K·LS·C·P and t·km⁻²·a⁻¹

All functions are pure functions on xarray.DataArray (numpy or dask, lazy),
keyword-only coefficients with published defaults, ``attrs["units"]`` on outputs.
"""

from pipeline.factors import cover, csle, rainfall, soil, soil_loss, support

# terrain: see pipeline/factors/terrain.py

__all__ = ["cover", "csle", "rainfall", "soil", "soil_loss", "support"]
