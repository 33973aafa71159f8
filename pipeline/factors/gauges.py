"""Observed sediment loads at gauges, and their comparison with the modelled export.

Method
------
- Daily load (t/d) from discharge Q (m³/s) and suspended-sediment concentration SSC
  (g/L = kg/m³)::

      L = Q [m³/s] × SSC [kg/m³] × 86 400 [s/d] / 1 000 [kg/t] = 86.4 · Q · SSC

- Rating curve SSC = a·Q^b fitted by ordinary least squares of ln SSC on ln Q over the
  sampled days (days with both Q > 0 and SSC > 0; days with SSC = 0 cannot enter a
  log-log fit and are counted in ``n_zero_ssc``), retransformed with Duan's (1983)
  smearing estimate (Duan, N., 1983, Smearing estimate: a nonparametric retransformation
  method, Journal of the American Statistical Association 78(383): 605-610)::

      SSC_hat = CF · a · Q^b,   CF = mean_i exp(e_i)   (e_i: the log-space residuals)

  One curve is fitted on all sampled days of a gauge (pooled over years).
- Annual load of a *usable* year: Σ over the days with Q of 86.4·Q·SSC_hat, scaled by
  (days in the year / days with Q) for the missing days (gaps are assumed to carry the
  mean load of the recorded days). Usable year: at least ``min_q_days`` (default 300)
  days of discharge and at least ``min_samples`` (default 12, about monthly) SSC samples
  in that year. These thresholds are Shuibao's rule, not a standard.
- Interval: a percentile bootstrap (Efron & Tibshirani 1993, An Introduction to the
  Bootstrap, Chapman & Hall) over the sampled days: resample the (Q, SSC) pairs with
  replacement, refit a, b and CF, recompute the annual load; the 2.5 and 97.5 percentiles
  give the 95 % interval. It covers the rating-curve (parameter) uncertainty, not the
  error of the discharge record itself.
- A year that is not usable still has a hard **lower bound**: the sum of 86.4·Q·SSC over
  its sampled days (loads are ≥ 0 on the other days). It is reported as
  ``kind = "lower_bound"`` with an open upper end. An annual-load table (输沙量, t) is
  taken as given (``kind = "annual_table"``), with its interval if it has one.

Comparison and plausibility
---------------------------
:func:`compare_with_model` joins the modelled catchment export and gross erosion with the
observed loads per gauge and year. Sheet and rill erosion (what RUSLE/CSLE predict) can
deliver at most what it erodes, so when the observed yield's lower end exceeds the
modelled **gross** erosion of the catchment the model is implausible unless other
sources supplied the difference (gullies — in the red-soil hills the 崩岗 collapse
gullies —, stream banks, construction sites, landslides): the row is flagged and a
warning is logged.

Why written by hand: the rating curve with smearing and the bootstrap are a few numpy
lines; LOADEST-like packages are not available as maintained Python libraries.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from pipeline.errors import InputDataError

__all__ = [
    "OTHER_SOURCES",
    "annual_loads",
    "compare_with_model",
    "daily_load_t",
    "fit_rating_curve",
    "predict_ssc",
    "read_daily_series",
]

log = logging.getLogger("shuibao.sediment")

#: t/d per (m³/s · g/L): 86 400 s/d × 1 kg/m³ per g/L / 1 000 kg/t
LOAD_FACTOR = 86.4
OTHER_SOURCES = (
    "gullies (incl. 崩岗 collapse gullies), stream banks, construction sites, landslides"
)


def read_daily_series(
    path,
    *,
    date_col: str = "DATETIME",
    value_col: str = "VALUE",
    station_col: str | None = None,
    station=None,
) -> pd.Series:
    """A daily series from a CSV (lines starting with ``#`` are comments), indexed by date.

    Duplicated dates are averaged; negative values are an error (naming the file).
    """
    try:
        df = pd.read_csv(path, comment="#", encoding="utf-8-sig")
    except (OSError, pd.errors.ParserError) as exc:
        raise InputDataError(f"{path}: cannot read the gauge table: {exc}") from exc
    for col in (date_col, value_col) + ((station_col,) if station_col else ()):
        if col not in df.columns:
            raise InputDataError(
                f"{path}: no column {col!r} (columns: {list(df.columns)}); set the gauge's "
                "date_col/value_col/station_col in the config"
            )
    if station_col and station is not None:
        df = df[df[station_col].astype(str) == str(station)]
    dates = pd.to_datetime(df[date_col], errors="coerce").dt.normalize()
    values = pd.to_numeric(df[value_col], errors="coerce")
    ok = dates.notna() & values.notna()
    s = pd.Series(values[ok].to_numpy(float), index=pd.DatetimeIndex(dates[ok]))
    if (s < 0).any():
        raise InputDataError(f"{path}: negative values in {value_col!r}")
    return s.groupby(level=0).mean().sort_index()


def daily_load_t(q_m3s, ssc_g_l):
    """Daily load in t/d = 86.4 · Q [m³/s] · SSC [g/L] (see the module docstring)."""
    return LOAD_FACTOR * np.asarray(q_m3s, dtype=float) * np.asarray(ssc_g_l, dtype=float)


def _fit(lq: np.ndarray, lc: np.ndarray) -> tuple[float, float, float]:
    x = lq - lq.mean()
    sxx = float(np.dot(x, x))
    if sxx == 0:
        raise InputDataError("rating curve: all sampled discharges are equal; cannot fit b")
    b = float(np.dot(x, lc - lc.mean()) / sxx)
    ln_a = float(lc.mean() - b * lq.mean())
    resid = lc - (ln_a + b * lq)
    return float(np.exp(ln_a)), b, float(np.mean(np.exp(resid)))


def fit_rating_curve(q_m3s, ssc_g_l) -> dict:
    """Fit SSC = a·Q^b (log-log OLS) with Duan's (1983) smearing factor.

    Parameters
    ----------
    q_m3s, ssc_g_l : array-like
        Discharge (m³/s) and SSC (g/L) on the sampled days, paired.

    Returns
    -------
    dict
        ``a`` (g/L per (m³/s)^b), ``b`` (1), ``smearing`` (CF, 1), ``n`` (pairs used),
        ``n_zero_ssc`` (pairs dropped, SSC = 0 or Q = 0), ``r2_log`` (R² in log space).

    Examples
    --------
    >>> c = fit_rating_curve([1.0, 10.0, 100.0], [2.0, 20.0, 200.0])  # SSC = 2·Q exactly
    >>> round(c["a"], 6), round(c["b"], 6), c["smearing"]
    (2.0, 1.0, 1.0)
    """
    q = np.asarray(q_m3s, dtype=float)
    c = np.asarray(ssc_g_l, dtype=float)
    if q.shape != c.shape:
        raise InputDataError(f"rating curve: {q.size} discharges but {c.size} concentrations")
    pos = (q > 0) & (c > 0) & np.isfinite(q) & np.isfinite(c)
    n = int(pos.sum())
    if n < 3:
        raise InputDataError(
            f"rating curve: {n} sampled days with Q > 0 and SSC > 0; need at least 3"
        )
    lq, lc = np.log(q[pos]), np.log(c[pos])
    a, b, cf = _fit(lq, lc)
    resid = lc - (np.log(a) + b * lq)
    ss_tot = float(np.sum((lc - lc.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else float("nan")
    return {
        "a": a,
        "b": b,
        "smearing": cf,
        "n": n,
        "n_zero_ssc": int(q.size - n),
        "r2_log": r2,
        "method": "log-log OLS, Duan (1983) smearing",
    }


def predict_ssc(q_m3s, curve: Mapping) -> np.ndarray:
    """SSC (g/L) = CF · a · Q^b from a fitted curve (Q = 0 gives 0)."""
    q = np.asarray(q_m3s, dtype=float)
    return curve["smearing"] * curve["a"] * np.power(q, curve["b"])


def _days_in_year(year: int) -> int:
    return 366 if pd.Timestamp(year=year, month=12, day=31).dayofyear == 366 else 365


def annual_loads(
    discharge: pd.Series,
    ssc: pd.Series,
    *,
    min_q_days: int = 300,
    min_samples: int = 12,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[pd.DataFrame, dict]:
    """Annual suspended-sediment loads (t/a) with intervals, per calendar year.

    Parameters
    ----------
    discharge : pandas.Series
        Daily mean discharge (m³/s), DatetimeIndex (one value per day).
    ssc : pandas.Series
        Sampled SSC (g/L), DatetimeIndex; paired with the discharge of the same day.
    min_q_days, min_samples : int
        Usable-year rule (see the module docstring).
    n_boot, level, seed : bootstrap size, interval level, random seed (reproducible).

    Returns
    -------
    (pandas.DataFrame, dict)
        One row per year with data: ``year``, ``n_q_days``, ``n_samples``, ``usable``,
        ``kind`` ("annual" or "lower_bound"), ``load_t`` (usable: rating-curve estimate;
        otherwise the sampled-day sum), ``load_low_t``, ``load_high_t`` (usable: bootstrap
        interval; lower bound: low = the sum, high = NaN, open), ``sampled_load_t``
        (Σ 86.4·Q·SSC over sampled days), ``sampled_load_curve_t`` (the same days from the
        curve, a check of the curve), ``reason``. The dict is the fitted curve.
    """
    q = discharge.dropna()
    pairs = pd.concat({"q": q, "ssc": ssc.dropna()}, axis=1, join="inner")
    curve = fit_rating_curve(pairs["q"].to_numpy(), pairs["ssc"].to_numpy())
    pos = pairs[(pairs["q"] > 0) & (pairs["ssc"] > 0)]
    lq, lc = np.log(pos["q"].to_numpy()), np.log(pos["ssc"].to_numpy())
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(int(n_boot)):
        i = rng.integers(0, lq.size, lq.size)
        if np.ptp(lq[i]) == 0:
            continue
        a, b, cf = _fit(lq[i], lc[i])
        boot.append({"a": a, "b": b, "smearing": cf})
    lo_q, hi_q = (1 - level) / 2 * 100, (1 + level) / 2 * 100

    years = sorted(set(q.index.year) | set(ssc.dropna().index.year))
    rows = []
    for year in years:
        qy = q[q.index.year == year]
        py = pairs[pairs.index.year == year]
        n_q, n_s = int(qy.size), int(py.shape[0])
        sampled = float(daily_load_t(py["q"], py["ssc"]).sum())
        sampled_curve = float(daily_load_t(py["q"], predict_ssc(py["q"], curve)).sum())
        usable = n_q >= min_q_days and n_s >= min_samples
        row = {
            "year": year,
            "n_q_days": n_q,
            "n_samples": n_s,
            "usable": usable,
            "sampled_load_t": sampled,
            "sampled_load_curve_t": sampled_curve,
        }
        if usable:
            scale = _days_in_year(year) / n_q
            qv = qy.to_numpy()

            def total(c, qv=qv, scale=scale):
                return float(daily_load_t(qv, predict_ssc(qv, c)).sum() * scale)

            est = total(curve)
            dist = np.array([total(c) for c in boot])
            row |= {
                "kind": "annual",
                "load_t": est,
                "load_low_t": float(np.percentile(dist, lo_q)),
                "load_high_t": float(np.percentile(dist, hi_q)),
                "reason": f"{n_q} days of Q ≥ {min_q_days}, {n_s} samples ≥ {min_samples}",
            }
        else:
            why = []
            if n_q < min_q_days:
                why.append(f"{n_q} days of Q < {min_q_days}")
            if n_s < min_samples:
                why.append(f"{n_s} samples < {min_samples}")
            row |= {
                "kind": "lower_bound",
                "load_t": sampled,
                "load_low_t": sampled,
                "load_high_t": float("nan"),
                "reason": "not usable for an annual load ("
                + "; ".join(why)
                + "): sum over the sampled days, a lower bound",
            }
        rows.append(row)
    curve = {**curve, "n_boot": len(boot), "level": level, "seed": seed}
    return pd.DataFrame(rows), curve


def compare_with_model(
    modelled: pd.DataFrame, observed: pd.DataFrame, *, label: str = "model"
) -> pd.DataFrame:
    """Modelled export vs observed load per gauge and year, with a plausibility flag.

    Parameters
    ----------
    modelled : pandas.DataFrame
        ``gauge_id``, ``year``, ``area_ha``, ``gross_t`` (Σ soil loss, t/a), ``export_t``,
        ``export_low_t``, ``export_high_t`` (t/a).
    observed : pandas.DataFrame
        ``gauge_id``, ``year``, ``kind``, ``load_t``, ``load_low_t``, ``load_high_t`` (t/a).

    Returns
    -------
    pandas.DataFrame
        One row per modelled gauge-year, observed columns NaN where there is no observation;
        yields in t·ha⁻¹·a⁻¹ (``*_t_ha``), ``export_over_observed``, ``agreement``
        ("overlap", "model_low", "model_high", "model_below_lower_bound",
        "consistent_with_lower_bound", "no_observation") and ``observed_exceeds_gross``
        (bool) with ``warning`` text. A flag is also logged as a warning.
    """
    need_m = {"gauge_id", "year", "area_ha", "gross_t", "export_t", "export_low_t", "export_high_t"}
    need_o = {"gauge_id", "year", "kind", "load_t", "load_low_t", "load_high_t"}
    for name, df, need in (("modelled", modelled, need_m), ("observed", observed, need_o)):
        missing = need - set(df.columns)
        if missing:
            raise InputDataError(f"compare_with_model: {name} table lacks {sorted(missing)}")
    m = modelled.copy()
    o = observed[sorted(need_o)].copy()
    m["gauge_id"] = m["gauge_id"].astype(str)
    o["gauge_id"] = o["gauge_id"].astype(str)
    out = m.merge(o, on=["gauge_id", "year"], how="left")
    area = out["area_ha"].where(out["area_ha"] > 0)
    for col in ("gross_t", "export_t", "export_low_t", "export_high_t", "load_t", "load_low_t"):
        out[col.replace("_t", "_t_ha")] = out[col] / area
    out["load_high_t_ha"] = out["load_high_t"] / area
    out["export_over_observed"] = out["export_t"] / out["load_t"]
    agreement, flags, warnings = [], [], []
    for r in out.itertuples():
        if pd.isna(r.load_t):
            agreement.append("no_observation")
            flags.append(False)
            warnings.append("")
            continue
        if r.kind == "lower_bound":
            agreement.append(
                "model_below_lower_bound"
                if r.export_high_t < r.load_low_t
                else "consistent_with_lower_bound"
            )
        elif r.export_high_t < r.load_low_t:
            agreement.append("model_low")
        elif r.export_low_t > r.load_high_t:
            agreement.append("model_high")
        else:
            agreement.append("overlap")
        fires = bool(r.load_low_t > r.gross_t)
        flags.append(fires)
        if fires:
            text = (
                f"gauge {r.gauge_id}, {r.year}: observed sediment yield ≥ "
                f"{r.load_low_t / r.area_ha:.2f} t/(ha·a) ({r.kind}) exceeds the modelled gross "
                f"sheet-and-rill erosion of its catchment, {r.gross_t / r.area_ha:.2f} t/(ha·a) "
                f"({label}). Either the soil-loss factors (C, P, …) are too low, or other sources "
                f"supplied the sediment: {OTHER_SOURCES}."
            )
            log.warning("PLAUSIBILITY: %s", text)
            warnings.append(text)
        else:
            warnings.append("")
    out["agreement"] = agreement
    out["observed_exceeds_gross"] = flags
    out["warning"] = warnings
    return out
