"""Treatment science (治理): measures in the model, target tracking, project evaluation, parcels.

Modules: ``units`` (亩/万亩/ha, exact), ``measures`` (read/validate the measures layer,
rasterise it per year, apply measure factors to P / E / T), ``targets`` (cumulative
治理面积 / 生态修复面积 against targets, 水土保持率 trajectory), ``evaluation``
(difference-in-differences with exact stratification and a spatial block bootstrap),
``parcels`` (parcel statistics, ranking, suggested measures).

Imports only base modules (errors, landcover, classify) and other science.
"""
