"""Predictors for the PM2.5 forecast: one float32 feature matrix per (site, issue time, lead).

- :mod:`features.build` — :func:`~features.build.build_feature_matrix` (training),
  :func:`~features.build.latest_features` (serving), :func:`~features.build.feature_dataarray`
  (Dask, by site chunk), :func:`~features.build.warmup` (first-call compile times);
- :mod:`features.catalogue` — every column's name, unit, formula and the data it may see
  (``features/CATALOGUE.md``);
- :mod:`features.config` — :class:`~features.config.FeatureConfig` (hours) and its time steps;
- :mod:`features.kernels` — the Numba kernels; :mod:`features.numba_cache` — their cache;
- :mod:`features.calendar` — Beijing-time calendar features; :mod:`features.synthetic` — test
  and benchmark panels.
"""
