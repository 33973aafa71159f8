"""Input sources: each writes the same standard inputs on the analysis grid.

The files every source writes, and their formats, are listed in
docs/contract.md (``grid.json``, ``aoi.gpkg``, ``dem.tif``,
``landcover_{year}.tif``, ``ndvi_{year}.tif``, ``rain_daily.nc``, ``soil.tif``,
``townships.gpkg``, ``watersheds.gpkg``, ``survey_{year}.gpkg``), so nothing
downstream knows where the data came from.

Modules (import the one you need; none is imported here, so that choosing the
``local`` source never imports Earth Engine or STAC clients):

- ``pipeline.sources.demo``: the embedded synthetic district, generated offline.
- ``pipeline.sources.local``: GeoTIFFs and vector layers named in the config, in
  any CRS, reprojected onto the grid; also the writers of the standard files
  (``write_dem``, ``write_landcover``, ``write_ndvi``, ``write_soil``,
  ``write_grid_json``) that the other sources reuse.
- ``pipeline.sources.stac``: STAC catalogues (Earth Search, Planetary Computer or
  a static catalogue) loaded with pystac-client and odc-stac.
- ``pipeline.sources.earthengine``: Google Earth Engine; pure builders of ``ee``
  expressions and fetchers that run tiled ``computePixels`` requests.
- ``pipeline.sources._cache``: request hashing and provenance sidecars so a rerun
  does not download again.
"""
