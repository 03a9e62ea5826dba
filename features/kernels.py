# ruff: noqa: PLR0124
# (``v == v`` is the NaN test used throughout: false only for NaN, branch-free, vectorisable)
"""Numba kernels: every predictor of a family in one pass over plain ``(site, time)`` arrays.

All kernels are ``@njit(cache=True)`` (the cache directory is set in
:mod:`features.numba_cache`), never ``fastmath`` (it would let LLVM assume that no value is NaN
and reorder sums), and parallel over sites with ``prange``. They take C-contiguous float arrays
(float64 or float32 input), accumulate in float64 and write float32 **in place** into a
caller-provided 2-D output ``out[n_rows, n_features]`` (C-contiguous, so LightGBM takes it
without a copy; the same buffer can be reused call after call). Each family writes its own
block of columns starting at ``col0``. Rows are site-major::

    row = (site * n_issues + issue) * n_leads + lead

Semantics (every window and lag counts *time steps* on a regular axis; gaps are NaN steps, so
a gap never shifts a lag or a window; :mod:`features.build` converts hours to steps):

- ``lag k`` at step t: ``x[t-k]``; NaN when ``t-k < 0`` or the value is missing.
- rolling ``mean / std / min / max`` over the ``w`` steps ending at ``t`` (inclusive: the value
  known at issue time t) over the valid values; NaN when fewer than ``min_valid`` are valid;
  ``std`` with ``ddof=1`` (NaN for a single value). A window whose valid values are all equal
  gives exactly that value and a standard deviation of exactly 0.
- ``ewm``: pandas ``Series.ewm(halflife=h, adjust=True, ignore_na=False).mean()`` (weights
  ``(1-a)^(t-τ)`` by time distance, so a gap decays the old values; the same recursion as
  pandas), except that it is NaN when the newest valid value is more than ``max_age`` steps old
  (a stale average is not a measurement of the present).
- ``diurnal anomaly``: ``x[t] - mean(x[t - k*P] for k = 1..D)`` over the valid ones (``P``
  steps per day), NaN when fewer than ``min_valid`` of the D are valid or ``x[t]`` is missing.
- ``rate of rise``: ``(x[t] - x[t-r]) / (r * step_hours)`` [units per hour].
- ``hours since x > thr``: ``(t - t_last) * step_hours`` with ``t_last`` the newest step ``≤ t``
  whose value exceeds ``thr`` (so 0 when ``x[t] > thr``); NaN values are not exceedances; NaN
  when there is none within the last ``lookback`` steps.
- ``episode length``: ``step_hours`` × the number of consecutive steps ending at ``t`` with
  ``x > thr`` (a missing value ends an episode), capped at ``lookback`` steps; 0 when
  ``x[t] <= thr``; NaN when ``x[t]`` is missing.

Rolling windows: the van Herk / Gil-Werman scheme
-------------------------------------------------
Time is cut into blocks of ``w`` steps aligned on the *absolute* step index (``t_abs0 + t``;
:mod:`features.build` passes steps since 1970-01-01). A window of ``w`` steps ending at ``t``
is the tail ("suffix") of the previous block plus the head ("prefix") of the current one.
Prefixes are accumulated forward as the scan goes; the suffixes of a block are computed once,
backward, when the next block starts. Every output is therefore made from at most ``w`` values
in a fixed order: no drift over 30,000 steps (nothing is added and later subtracted), O(1)
amortised work per step and window for count, sum, sum of squares, min and max (no deques, no
data-dependent branches) — and, because blocks are aligned on the absolute time, the serving
kernel (:func:`latest_pm25_history`), which only sees the last days, repeats exactly the same
floating-point operations and gives bit-identical results.

Sums are taken about a shift ``K`` (a valid value of the part: the first of the prefix, the last
of the suffix) and the two parts are combined about the prefix's shift, so the variance
``(S2 - S1²/n) / (n-1)`` never subtracts two large, nearly equal numbers: with ``K`` inside the
data, ``(mean - K)² ≤ 2 n var``, which bounds the relative error of the variance by a few ``n²``
float64 rounding units (≈1e-12 for 72 values) whatever the level of the series. The two
reciprocals ``1/n`` and ``1/(n-1)`` come from one float32 division of the exact integer
``n(n-1)`` refined by one Newton step in float64 (relative error ~1e-14; the hardware divider
is the bottleneck otherwise); the square root of the float64 variance is taken in float32 (the
stored value is float32 anyway: at most 1 float32 ulp from the correctly rounded value; a
spread so small that its variance underflows float32, below ~1e-19, gives exactly 0).

Speed: sites in SIMD lanes
--------------------------
The training kernel processes ``LANES`` (16) sites at a time, one per SIMD lane: each step's
values are transposed into a small ring buffer and every state update is a loop over the lanes
of one flat float64 scratch array indexed with unsigned offsets (no wrap-around checks), which
LLVM vectorises. The output rows are then written site by site, contiguous. Sites beyond the
last full group are NaN lanes that are never written out.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from features import numba_cache  # noqa: F401  (sets the cache directory before compiling)

#: Sites processed together, one per SIMD lane, by the training kernel.
LANES = 16
#: How many issue steps ahead the training kernel prefetches its output rows.
_PREFETCH_ISSUES = 2

_NAN = np.nan
_INF = np.inf
_U = np.uint64
_F32_ONE = np.float32(1.0)
# Compile options of every kernel: cached on disk, NumPy error model (a division by zero gives
# inf/NaN instead of raising, and no zero checks in the loops), no GIL, never fastmath.
_jit = njit(cache=True, error_model="numpy", nogil=True)
_jit_inline = njit(inline="always", cache=True, error_model="numpy", nogil=True)
_jit_parallel = njit(parallel=True, cache=True, error_model="numpy", nogil=True)


# --------------------------------------------------------------------------- shared formulas
@_jit_inline
def _accumulate(n0, a0, b0, mn0, mx0, K0, v):  # pragma: no cover - numba
    """One value into a part's (count, Σ(x-K), Σ(x-K)², min, max, K); K = first valid value."""
    ok = v == v
    K = v if (ok & (n0 == 0.0)) else K0
    d = v - K if ok else 0.0
    return (
        n0 + (1.0 if ok else 0.0),
        a0 + d,
        b0 + d * d,
        min(v if ok else _INF, mn0),
        max(v if ok else -_INF, mx0),
        K,
    )


@_jit_inline
def _window_stats(
    nA, aA, bA, mnA, mxA, KA, nB, aB, bB, mnB, mxB, KB, min_valid
):  # pragma: no cover
    """(mean, std, min, max) of a window = suffix part A + prefix part B (see module doc)."""
    n = nA + nB
    mn = min(mnA, mnB)
    mx = max(mxA, mxB)
    has_b = nB > 0.0
    dd = KA - KB if has_b else 0.0
    Kc = KB if has_b else KA
    a = (aA + nA * dd) + aB
    b = (bA + dd * (2.0 * aA + nA * dd)) + bB
    m = n * (n - 1.0)
    r0 = np.float64(_F32_ONE / np.float32(m))
    r = r0 * (2.0 - m * r0)
    inv_n = (n - 1.0) * r
    mean = Kc + a * inv_n
    m2 = max(b - a * (a * inv_n), 0.0)
    std = np.float64(np.sqrt(np.float32(m2 * (n * r))))
    same = mn == mx
    enough = n >= min_valid
    return (
        (mn if same else mean) if enough else _NAN,
        (0.0 if same else std) if (enough & (n >= 2.0)) else _NAN,
        mn if enough else _NAN,
        mx if enough else _NAN,
    )


@_jit_inline
def _ewm_update(wg, od, v, lam):  # pragma: no cover - numba
    """pandas' ewma recursion (adjust=True, ignore_na=False): (weighted mean, old weight)."""
    ok = v == v
    dfn = wg == wg
    od2 = od * lam if dfn else od
    upd = (od2 * wg + v) / (od2 + 1.0)
    both = ok & dfn
    wg2 = (upd if wg != v else wg) if both else (v if ok else wg)
    od3 = od2 + 1.0 if both else od2
    return wg2, od3


def _pow2_at_least(n: int) -> int:  # pragma: no cover - used inside numba
    r = 1
    while r < n:
        r *= 2
    return r


_pow2 = _jit_inline(_pow2_at_least)


@_jit_inline
def _history_lookback(
    lag_steps, win_steps, diurnal_period, diurnal_days, rise_steps
):  # pragma: no cover
    """Steps of past values the point features read (lags, window blocks, diurnal, rise)."""
    look = 1
    for j in range(lag_steps.shape[0]):
        look = max(look, lag_steps[j] + 1)
    for j in range(win_steps.shape[0]):
        look = max(look, 2 * win_steps[j] + 1)
    look = max(look, diurnal_period * diurnal_days + 1)
    return max(look, rise_steps + 1)


@_jit_inline
def _pos_mod(a, w):  # pragma: no cover - numba
    r = a % w
    return r + w if r < 0 else r


# --------------------------------------------------------------------------- 8x8 transpose
_F32_IR = ir.FloatType()
_V8_IR = ir.VectorType(_F32_IR, 8)
_I64_IR = ir.IntType(64)


def _shuffle(builder: ir.IRBuilder, a: ir.Value, b: ir.Value, mask: list[int]) -> ir.Value:
    return builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(ir.IntType(32), 8), mask))


def _transpose8_store_typing(
    typingctx, src, src_off, src_stride, dst, rows, row0, col0, nlanes, ncols
):
    """Write an 8 x 8 float32 block from lane-minor staging to 8 output rows.

    ``dst[rows[row0 + j] + col0 + i] = src[src_off + i * src_stride + j]`` for lanes
    ``j < nlanes`` and columns ``i < ncols`` (each at most 8): eight vector loads, the classic
    24-shuffle transpose and eight vector stores (element by element for a partial block), so
    moving results from SIMD lanes (one site each) to row-major output costs a few
    instructions per row instead of one load-convert-store per value.
    """
    sig = types.void(src, src_off, src_stride, dst, rows, row0, col0, nlanes, ncols)

    def codegen(context, builder, signature, args):
        a_src, a_off, a_stride, a_dst, a_rows, a_row0, a_col0, a_nl, a_nc = args
        sa = context.make_array(signature.args[0])(context, builder, a_src)
        da = context.make_array(signature.args[3])(context, builder, a_dst)
        ra = context.make_array(signature.args[4])(context, builder, a_rows)

        def i64(value: ir.Value, ty: types.Type) -> ir.Value:
            return context.cast(builder, value, ty, types.int64)

        off = i64(a_off, signature.args[1])
        stride = i64(a_stride, signature.args[2])
        row0 = i64(a_row0, signature.args[5])
        col0 = i64(a_col0, signature.args[6])
        nl = i64(a_nl, signature.args[7])
        nc = i64(a_nc, signature.args[8])
        r = []
        for i in range(8):
            idx = builder.add(off, builder.mul(stride, ir.Constant(_I64_IR, i)))
            ptr = builder.bitcast(builder.gep(sa.data, [idx]), _V8_IR.as_pointer())
            load = builder.load(ptr)
            load.align = 4
            r.append(load)
        lo, hi = [0, 8, 1, 9, 4, 12, 5, 13], [2, 10, 3, 11, 6, 14, 7, 15]
        t = []
        for k in range(0, 8, 2):
            t.append(_shuffle(builder, r[k], r[k + 1], lo))
            t.append(_shuffle(builder, r[k], r[k + 1], hi))
        pa, pb = [0, 1, 8, 9, 4, 5, 12, 13], [2, 3, 10, 11, 6, 7, 14, 15]
        u = [
            _shuffle(builder, t[0], t[2], pa),
            _shuffle(builder, t[0], t[2], pb),
            _shuffle(builder, t[1], t[3], pa),
            _shuffle(builder, t[1], t[3], pb),
            _shuffle(builder, t[4], t[6], pa),
            _shuffle(builder, t[4], t[6], pb),
            _shuffle(builder, t[5], t[7], pa),
            _shuffle(builder, t[5], t[7], pb),
        ]
        low, high = [0, 1, 2, 3, 8, 9, 10, 11], [4, 5, 6, 7, 12, 13, 14, 15]
        lanes = [_shuffle(builder, u[k], u[k + 4], low) for k in range(4)]
        lanes += [_shuffle(builder, u[k], u[k + 4], high) for k in range(4)]
        full = builder.icmp_signed(">=", nc, ir.Constant(_I64_IR, 8))
        for j in range(8):
            with builder.if_then(builder.icmp_signed(">", nl, ir.Constant(_I64_IR, j))):
                rj = builder.load(
                    builder.gep(ra.data, [builder.add(row0, ir.Constant(_I64_IR, j))])
                )
                base = builder.add(rj, col0)
                with builder.if_else(full) as (whole, part):
                    with whole:
                        ptr = builder.bitcast(builder.gep(da.data, [base]), _V8_IR.as_pointer())
                        store = builder.store(lanes[j], ptr)
                        store.align = 4
                    with part:
                        for i in range(7):
                            ok = builder.icmp_signed(">", nc, ir.Constant(_I64_IR, i))
                            with builder.if_then(ok):
                                ptr = builder.gep(
                                    da.data, [builder.add(base, ir.Constant(_I64_IR, i))]
                                )
                                value = builder.extract_element(
                                    lanes[j], ir.Constant(ir.IntType(32), i)
                                )
                                builder.store(value, ptr)
        return context.get_dummy_value()

    return sig, codegen


_transpose8_store: Any = intrinsic(_transpose8_store_typing)


def _prefetch_write_typing(typingctx, arr, index):
    """Hint that ``arr[index]`` will be written soon (``llvm.prefetch``, write, keep in cache)."""
    sig = types.void(arr, index)

    def codegen(context, builder, signature, args):
        a = context.make_array(signature.args[0])(context, builder, args[0])
        idx = context.cast(builder, args[1], signature.args[1], types.int64)
        ptr = builder.gep(a.data, [idx])
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(
            fn,
            [
                builder.bitcast(ptr, i8p),
                ir.Constant(i32, 1),
                ir.Constant(i32, 3),
                ir.Constant(i32, 1),
            ],
        )
        return context.get_dummy_value()

    return sig, codegen


_prefetch_write: Any = intrinsic(_prefetch_write_typing)


# --------------------------------------------------------------------------- PM2.5 history
@_jit
def _history_group(
    xf,
    outf,
    S,
    T,
    F,
    grp,
    t_abs0,
    issue_idx,
    n_rep,
    col0,
    lag_steps,
    win_steps,
    win_min,
    ewm_lambda,
    ewm_max_age,
    diurnal_period,
    diurnal_days,
    diurnal_min,
    rise_steps,
    rise_hours,
    thresholds,
    lookback,
    episode_thr,
    step_hours,
):  # pragma: no cover - numba
    """One group of ``LANES`` sites of :func:`pm25_history` (a plain function: LLVM
    optimises it better than the body of a ``prange`` loop)."""
    n_issue = issue_idx.shape[0]
    nl = lag_steps.shape[0]
    nw = win_steps.shape[0]
    ne = ewm_lambda.shape[0]
    nth = thresholds.shape[0]
    episode = episode_thr == episode_thr
    has_di = diurnal_days > 0
    has_rise = rise_steps > 0
    nval = nl + 4 * nw + ne + (1 if has_di else 0) + (1 if has_rise else 0) + nth
    nval += 1 if episode else 0
    c_ewm = nl + 4 * nw
    c_di = c_ewm + ne
    c_rise = c_di + (1 if has_di else 0)
    c_thr = c_rise + (1 if has_rise else 0)
    c_epi = c_thr + nth
    t_end = issue_idx[n_issue - 1] + 1 if n_issue > 0 else 0
    G = LANES
    R = _pow2(_history_lookback(lag_steps, win_steps, diurnal_period, diurnal_days, rise_steps))
    mask = R - 1
    # flat scratch layout (float64), every block lane-minor: [..., lane]
    base = np.empty(max(nw, 1), dtype=np.int64)
    off = R * G  # ring buffer of past values
    for j in range(nw):
        # prefix: an empty entry and two alternating ones (3 x 6 x G, L1-resident);
        # then the suffix entries of the previous block ((w + 1) x 6 x G)
        base[j] = off
        off += (3 + win_steps[j] + 1) * 6 * G
    o_ewm = off  # parity x ewm x (weighted, old weight) x G
    off += 2 * ne * 2 * G
    o_lv = off  # parity x G: last valid step
    off += 2 * G
    o_ex = off  # parity x threshold x G: last exceedance step
    off += 2 * nth * G
    o_run = off  # parity x G: episode run length
    off += 2 * G
    o_tmp = off  # 2 x G scratch (diurnal sums and counts)
    off += 2 * G
    size = off
    GU = _U(G)

    s0 = grp * G
    ns = min(G, S - s0)
    nsU = _U(ns)
    W = np.empty(size)
    # float32 staging of the current step's features, [feature][lane], padded to 8 features
    V = np.full(((nval + 7) // 8) * 8 * G, np.float32(_NAN))
    rows = np.empty(G, dtype=np.uint64)
    for i in range(R * G):
        W[i] = _NAN
    for j in range(nw):
        w = win_steps[j]
        for e in range(3 + w + 1):
            o = base[j] + e * 6 * G
            for g in range(G):
                W[o + g] = 0.0
                W[o + G + g] = 0.0
                W[o + 2 * G + g] = 0.0
                W[o + 3 * G + g] = _INF
                W[o + 4 * G + g] = -_INF
                W[o + 5 * G + g] = 0.0
    for i in range(2 * ne):
        for g in range(G):
            W[o_ewm + (2 * i) * G + g] = _NAN
            W[o_ewm + (2 * i + 1) * G + g] = 1.0
    for i in range(2 * G):
        W[o_lv + i] = -_INF
        W[o_run + i] = 0.0
    for i in range(2 * nth * G):
        W[o_ex + i] = -_INF
    pos = np.empty(max(nw, 1), dtype=np.int64)
    for j in range(nw):
        r = t_abs0 % win_steps[j]
        pos[j] = r + win_steps[j] if r < 0 else r
    p_iss = 0
    for t in range(t_end):
        tf = np.float64(t)
        cur = t & 1
        prv = 1 - cur
        ro = _U((t & mask) * G)
        xo = _U(s0 * T + t)
        TU = _U(T)
        for g in range(nsU):
            W[ro + g] = xf[xo + g * TU]
        emit = p_iss < n_issue and t == issue_idx[p_iss]
        if emit and p_iss + _PREFETCH_ISSUES < n_issue:
            # the output rows of a later issue step: in cache by the time they are written
            for g in range(nsU):
                ahead = ((_U(s0) + g) * _U(n_issue) + _U(p_iss + _PREFETCH_ISSUES)) * _U(n_rep)
                a0 = ahead * _U(F) + _U(col0)
                _prefetch_write(outf, a0)
                _prefetch_write(outf, a0 + _U(16))
                _prefetch_write(outf, a0 + _U(nval - 1))
        # ---- rolling windows
        for j in range(nw):
            w = win_steps[j]
            ps = pos[j]
            pre = base[j]
            suf = pre + 3 * 6 * G
            if ps == 0:
                for pp in range(w - 1, 0, -1):  # entry 0 (the whole block) is never used
                    uo = _U(((t - w + pp) & mask) * G)
                    so = _U(suf + pp * 6 * G)
                    sn = so + _U(6 * G)
                    for g in range(GU):
                        n1, a1, b1, mn1, mx1, K1 = _accumulate(
                            W[sn + g],
                            W[sn + GU + g],
                            W[sn + _U(2 * G) + g],
                            W[sn + _U(3 * G) + g],
                            W[sn + _U(4 * G) + g],
                            W[sn + _U(5 * G) + g],
                            W[uo + g],
                        )
                        W[so + g] = n1
                        W[so + GU + g] = a1
                        W[so + _U(2 * G) + g] = b1
                        W[so + _U(3 * G) + g] = mn1
                        W[so + _U(4 * G) + g] = mx1
                        W[so + _U(5 * G) + g] = K1
            po = _U(pre + (0 if ps == 0 else 1 + ((ps - 1) & 1)) * 6 * G)
            pn = _U(pre + (1 + (ps & 1)) * 6 * G)
            for g in range(GU):
                n1, a1, b1, mn1, mx1, K1 = _accumulate(
                    W[po + g],
                    W[po + GU + g],
                    W[po + _U(2 * G) + g],
                    W[po + _U(3 * G) + g],
                    W[po + _U(4 * G) + g],
                    W[po + _U(5 * G) + g],
                    W[ro + g],
                )
                W[pn + g] = n1
                W[pn + GU + g] = a1
                W[pn + _U(2 * G) + g] = b1
                W[pn + _U(3 * G) + g] = mn1
                W[pn + _U(4 * G) + g] = mx1
                W[pn + _U(5 * G) + g] = K1
            if emit:
                qo = _U(suf + (ps + 1) * 6 * G)
                vo = _U((nl + 4 * j) * G)
                mw = np.float64(win_min[j])
                for g in range(GU):
                    mean, std, mn, mx = _window_stats(
                        W[qo + g],
                        W[qo + GU + g],
                        W[qo + _U(2 * G) + g],
                        W[qo + _U(3 * G) + g],
                        W[qo + _U(4 * G) + g],
                        W[qo + _U(5 * G) + g],
                        W[pn + g],
                        W[pn + GU + g],
                        W[pn + _U(2 * G) + g],
                        W[pn + _U(3 * G) + g],
                        W[pn + _U(4 * G) + g],
                        W[pn + _U(5 * G) + g],
                        mw,
                    )
                    V[vo + g] = np.float32(mean)
                    V[vo + GU + g] = np.float32(std)
                    V[vo + _U(2 * G) + g] = np.float32(mn)
                    V[vo + _U(3 * G) + g] = np.float32(mx)
            ps += 1
            pos[j] = 0 if ps == w else ps
        # ---- recursive states (read parity prv, write parity cur)
        for k in range(ne):
            rd = _U(o_ewm + (prv * ne + k) * 2 * G)
            wr = _U(o_ewm + (cur * ne + k) * 2 * G)
            lam = ewm_lambda[k]
            for g in range(GU):
                wg2, od3 = _ewm_update(W[rd + g], W[rd + GU + g], W[ro + g], lam)
                W[wr + g] = wg2
                W[wr + GU + g] = od3
        if ne > 0:
            lr = _U(o_lv + prv * G)
            lw = _U(o_lv + cur * G)
            for g in range(GU):
                v = W[ro + g]
                W[lw + g] = tf if v == v else W[lr + g]
        for k in range(nth):
            er = _U(o_ex + (prv * nth + k) * G)
            ew = _U(o_ex + (cur * nth + k) * G)
            thr = thresholds[k]
            for g in range(GU):
                W[ew + g] = tf if W[ro + g] > thr else W[er + g]
        if episode:
            rr_ = _U(o_run + prv * G)
            rw = _U(o_run + cur * G)
            for g in range(GU):
                W[rw + g] = W[rr_ + g] + 1.0 if W[ro + g] > episode_thr else 0.0
        if not emit:
            continue
        # ---- point features of the issue step
        for jl in range(nl):
            lo = _U(((t - lag_steps[jl]) & mask) * G)
            vo = _U(jl * G)
            for g in range(GU):
                V[vo + g] = np.float32(W[lo + g])
        lw = _U(o_lv + cur * G)
        for k in range(ne):
            wr = _U(o_ewm + (cur * ne + k) * 2 * G)
            vo = _U((c_ewm + k) * G)
            age_max = np.float64(ewm_max_age[k])
            for g in range(GU):
                fresh = tf - W[lw + g] <= age_max
                V[vo + g] = np.float32(W[wr + g] if fresh else _NAN)
        if has_di:
            so = _U(o_tmp)
            for g in range(GU):
                W[so + g] = 0.0
                W[so + GU + g] = 0.0
            for k in range(1, diurnal_days + 1):
                uo = _U(((t - k * diurnal_period) & mask) * G)
                for g in range(GU):
                    y = W[uo + g]
                    ok = y == y
                    W[so + g] = W[so + g] + (y if ok else 0.0)
                    W[so + GU + g] = W[so + GU + g] + (1.0 if ok else 0.0)
            mdi = np.float64(diurnal_min)
            vo = _U(c_di * G)
            for g in range(GU):
                v = W[ro + g]
                acc = W[so + g]
                cnt = W[so + GU + g]
                good = (cnt >= mdi) & (cnt > 0.0) & (v == v)
                V[vo + g] = np.float32(v - acc / cnt if good else _NAN)
        if has_rise:
            uo = _U(((t - rise_steps) & mask) * G)
            vo = _U(c_rise * G)
            for g in range(GU):
                V[vo + g] = np.float32((W[ro + g] - W[uo + g]) / rise_hours)
        lb = np.float64(lookback)
        for k in range(nth):
            ew = _U(o_ex + (cur * nth + k) * G)
            vo = _U((c_thr + k) * G)
            for g in range(GU):
                age = tf - W[ew + g]
                V[vo + g] = np.float32(age * step_hours if age <= lb else _NAN)
        if episode:
            rw = _U(o_run + cur * G)
            vo = _U(c_epi * G)
            for g in range(GU):
                v = W[ro + g]
                V[vo + g] = np.float32(min(W[rw + g], lb) * step_hours if v == v else _NAN)
        # ---- rows of this issue step, one per lead
        for g in range(nsU):
            rows[g] = ((_U(s0) + g) * _U(n_issue) + _U(p_iss)) * _U(n_rep) * _U(F) + _U(col0)
        for g0 in range(0, ns, 8):
            for c in range(0, nval, 8):
                # a last partial block is shifted left to end at the last column (when there are
                # 8 columns or more): it rewrites a few values but stores 8 at once
                c0 = min(c, nval - 8) if nval >= 8 else c
                _transpose8_store(V, c0 * G + g0, G, outf, rows, g0, c0, ns - g0, nval - c0)
        for g in range(nsU):
            for rr in range(_U(1), _U(n_rep)):
                o2 = rows[g] + rr * _U(F)
                for c in range(_U(nval)):
                    outf[o2 + c] = outf[rows[g] + c]
        p_iss += 1


@_jit_parallel
def pm25_history(
    x,
    t_abs0,
    issue_idx,
    n_rep,
    out,
    col0,
    lag_steps,
    win_steps,
    win_min,
    ewm_lambda,
    ewm_max_age,
    diurnal_period,
    diurnal_days,
    diurnal_min,
    rise_steps,
    rise_hours,
    thresholds,
    lookback,
    episode_thr,
    step_hours,
):  # pragma: no cover - numba
    """PM2.5 history features at every issue index of every site (the training path).

    ``x[site, t]`` C-contiguous; ``issue_idx`` strictly increasing step indices; each issue's
    features go to ``n_rep`` consecutive rows (one per lead) of the C-contiguous float32
    ``out``, columns ``col0 ..``: lags, (mean, std, min, max) per window, EWMs, diurnal
    anomaly (if ``diurnal_days > 0``), rate of rise (if ``rise_steps > 0``), hours since each
    threshold, episode length (unless ``episode_thr`` is NaN).
    """
    S = x.shape[0]
    T = x.shape[1]
    F = out.shape[1]
    xf = x.reshape(S * T)
    outf = out.reshape(out.shape[0] * F)
    for grp in prange((S + LANES - 1) // LANES):
        _history_group(
            xf,
            outf,
            S,
            T,
            F,
            grp,
            t_abs0,
            issue_idx,
            n_rep,
            col0,
            lag_steps,
            win_steps,
            win_min,
            ewm_lambda,
            ewm_max_age,
            diurnal_period,
            diurnal_days,
            diurnal_min,
            rise_steps,
            rise_hours,
            thresholds,
            lookback,
            episode_thr,
            step_hours,
        )


@_jit_parallel
def latest_pm25_history(
    x,
    t_abs0,
    t_issue,
    out,
    col0,
    lag_steps,
    win_steps,
    win_min,
    ewm_lambda,
    ewm_max_age,
    diurnal_period,
    diurnal_days,
    diurnal_min,
    rise_steps,
    rise_hours,
    thresholds,
    lookback,
    episode_thr,
    step_hours,
):  # pragma: no cover - numba
    """The same features as :func:`pm25_history` at one issue step per site (serving).

    Row ``site`` of ``out`` gets the features at step ``t_issue`` of ``x`` (usually its last
    column), computed from ``x`` alone, site by site and straight from the definitions: lags
    by indexing, each window from its suffix and prefix parts, exceedance ages and episode
    lengths by scanning back, the EWMs by running pandas' recursion over all of ``x``.
    Windows, lags, the diurnal anomaly, the rate of rise, ages and episodes repeat the training
    kernel's floating-point operations (bit-identical whenever ``x`` starts at least
    :func:`features.build.required_history_steps` before the issue, with ``t_abs0`` the
    absolute index of ``x[:, 0]``); the EWMs differ from the full-history values by less than
    float32 resolution when ``x`` is that long (older weights are below 2**-40).
    """
    S = x.shape[0]
    nl = lag_steps.shape[0]
    nw = win_steps.shape[0]
    ne = ewm_lambda.shape[0]
    nth = thresholds.shape[0]
    episode = episode_thr == episode_thr
    has_di = diurnal_days > 0
    has_rise = rise_steps > 0
    c_win = col0 + nl
    c_ewm = c_win + 4 * nw
    c_di = c_ewm + ne
    c_rise = c_di + (1 if has_di else 0)
    c_thr = c_rise + (1 if has_rise else 0)
    c_epi = c_thr + nth
    t = t_issue
    for s in prange(S):
        row = x[s]
        o = out[s]
        v = np.float64(row[t])
        for jl in range(nl):
            k = lag_steps[jl]
            o[col0 + jl] = np.float32(row[t - k]) if t - k >= 0 else np.float32(_NAN)
        for j in range(nw):
            w = win_steps[j]
            ps = (t_abs0 + t) % w
            ps = ps + w if ps < 0 else ps
            block = t - ps
            # suffix of the previous block down to position ps+1, backward as in training
            nA, aA, bA, mnA, mxA, KA = 0.0, 0.0, 0.0, _INF, -_INF, 0.0
            for pp in range(w - 1, ps, -1):
                u = block - w + pp
                y = np.float64(row[u]) if u >= 0 else _NAN
                nA, aA, bA, mnA, mxA, KA = _accumulate(nA, aA, bA, mnA, mxA, KA, y)
            # prefix of the current block, forward
            nB, aB, bB, mnB, mxB, KB = 0.0, 0.0, 0.0, _INF, -_INF, 0.0
            for u in range(block, t + 1):
                y = np.float64(row[u]) if u >= 0 else _NAN
                nB, aB, bB, mnB, mxB, KB = _accumulate(nB, aB, bB, mnB, mxB, KB, y)
            mean, std, mn, mx = _window_stats(
                nA, aA, bA, mnA, mxA, KA, nB, aB, bB, mnB, mxB, KB, np.float64(win_min[j])
            )
            c = c_win + 4 * j
            o[c] = np.float32(mean)
            o[c + 1] = np.float32(std)
            o[c + 2] = np.float32(mn)
            o[c + 3] = np.float32(mx)
        last_valid = -_INF
        for u in range(t, -1, -1):
            if row[u] == row[u]:
                last_valid = np.float64(u)
                break
        for k in range(ne):
            wg = _NAN
            od = 1.0
            for u in range(0, t + 1):
                wg, od = _ewm_update(wg, od, np.float64(row[u]), ewm_lambda[k])
            fresh = np.float64(t) - last_valid <= np.float64(ewm_max_age[k])
            o[c_ewm + k] = np.float32(wg) if fresh else np.float32(_NAN)
        if has_di:
            acc = 0.0
            cnt = 0.0
            for k in range(1, diurnal_days + 1):
                u = t - k * diurnal_period
                y = np.float64(row[u]) if u >= 0 else _NAN
                ok = y == y
                acc = acc + (y if ok else 0.0)
                cnt = cnt + (1.0 if ok else 0.0)
            good = (cnt >= np.float64(diurnal_min)) & (cnt > 0.0) & (v == v)
            o[c_di] = np.float32(v - acc / cnt) if good else np.float32(_NAN)
        if has_rise:
            u = t - rise_steps
            y = np.float64(row[u]) if u >= 0 else _NAN
            o[c_rise] = np.float32((v - y) / rise_hours)
        lb = np.float64(lookback)
        for k in range(nth):
            val = _NAN
            for age in range(0, min(lookback, t) + 1):
                if row[t - age] > thresholds[k]:
                    val = np.float64(age) * step_hours
                    break
            o[c_thr + k] = np.float32(val)
        if episode:
            cnt = 0.0
            for age in range(0, t + 1):
                if not row[t - age] > episode_thr or cnt >= lb:
                    break
                cnt += 1.0
            o[c_epi] = np.float32(min(cnt, lb) * step_hours) if v == v else np.float32(_NAN)


# --------------------------------------------------------------------------- meteorology
@_jit_inline
def _suffix_sum_fill(row, start, w, stop, sn, ss):  # pragma: no cover - numba
    T = row.shape[0]
    n = 0
    a = 0.0
    sn[w] = 0
    ss[w] = 0.0
    for p in range(w - 1, stop - 1, -1):
        t = start + p
        if t >= 0 and t < T:
            v = np.float64(row[t])
            if v == v:
                n += 1
                a += v
        sn[p] = n
        ss[p] = a
    return 0


@_jit_inline
def _rolling_sums(row, t_abs0, t_end, w, min_valid, mean, dst, col, sn, ss):
    """Sum (or mean) of the valid values over the ``w`` steps ending at each ``t < t_end``.

    Written to ``dst[t, col]``; NaN when fewer than ``min_valid`` are valid. Same aligned
    block scheme as the PM2.5 windows, so the result does not depend on where ``row`` starts.
    """  # pragma: no cover - numba
    ps = _pos_mod(t_abs0, w)
    for p in range(w + 1):
        sn[p] = 0
        ss[p] = 0.0
    n = 0
    a = 0.0
    for t in range(t_end):
        if ps == 0:
            _suffix_sum_fill(row, t - w, w, 0, sn, ss)
            n = 0
            a = 0.0
        v = np.float64(row[t])
        if v == v:
            n += 1
            a += v
        q = ps + 1
        cnt = sn[q] + n
        if cnt < min_valid or cnt == 0:
            dst[t, col] = _NAN
        else:
            tot = ss[q] + a
            dst[t, col] = tot / cnt if mean else tot
        ps += 1
        if ps == w:
            ps = 0


@_jit_parallel
def met_features(
    met,
    kinds,
    t_abs0,
    issue_idx,
    lead_steps,
    out,
    col0,
    mean_steps,
    mean_min,
    state_change,
    total_steps,
    total_min,
    stagnation_cap,
    since_min_fraction,
    step_hours,
):  # pragma: no cover - numba
    """Meteorology at the valid time and over windows ending at it, for every (issue, lead).

    ``met[var, site, t]``; ``kinds[var]``: 0 a state (value, then means over ``mean_steps``,
    then — if ``state_change`` — the change since the issue time), 1 an amount such as
    precipitation (value, totals over ``total_steps``, total since the issue time), 2 a 0/1
    flag such as ``stagnant`` (value, consecutive flagged hours ending at the valid time capped
    at ``stagnation_cap`` steps, flagged hours since the issue time). Each variable's columns
    follow the previous variable's, in ``met`` order, from ``col0``.
    ``lead_steps`` increasing; valid time = issue + lead; beyond the data → NaN. Totals since
    the issue cover ``(issue, valid]`` and need ``since_min_fraction`` of their steps valid.
    The change of a state is ``x[valid] - x[issue]`` (float64, stored float32): NaN if either
    is missing or the valid time is beyond the data, 0 at lead 0 when ``x[issue]`` is known.
    Serving calls the same kernel on a short window: aligned blocks make it bit-identical.
    """
    V = met.shape[0]
    S = met.shape[1]
    T = met.shape[2]
    n_issue = issue_idx.shape[0]
    L = lead_steps.shape[0]
    nm = mean_steps.shape[0]
    nt = total_steps.shape[0]
    wmax = 1
    for j in range(nm):
        wmax = max(wmax, mean_steps[j])
    for j in range(nt):
        wmax = max(wmax, total_steps[j])
    t_end = 0
    if n_issue > 0 and L > 0:
        t_end = min(T, issue_idx[n_issue - 1] + lead_steps[L - 1] + 1)
    ncol = 0
    for iv in range(V):
        k = kinds[iv]
        ncol += 1 + ((nm + (1 if state_change else 0)) if k == 0 else (nt + 1 if k == 1 else 2))
    F = out.shape[1]
    outf = out.reshape(out.shape[0] * F)
    for s in prange(S):
        sn = np.zeros(wmax + 1, dtype=np.int64)
        ss = np.zeros(wmax + 1)
        nr = max(nm, nt + 1)
        roll = np.empty((max(t_end, 1), max(nr, 1)))
        c = col0
        for iv in range(V):
            row = met[iv, s]
            kind = kinds[iv]
            nroll = 0
            if kind == 0:
                for j in range(nm):
                    _rolling_sums(
                        row, t_abs0, t_end, mean_steps[j], mean_min[j], True, roll, j, sn, ss
                    )
                nroll = nm
            elif kind == 1:
                for j in range(nt):
                    _rolling_sums(
                        row, t_abs0, t_end, total_steps[j], total_min[j], False, roll, j, sn, ss
                    )
                nroll = nt
            else:
                run = 0
                for t in range(t_end):
                    y = np.float64(row[t])
                    run = run + 1 if y == 1.0 else 0
                    roll[t, 0] = min(run, stagnation_cap) * step_hours if y == y else _NAN
                nroll = 1
            change = (kind == 0) & state_change
            for p in range(n_issue):
                i = issue_idx[p]
                acc = 0.0
                cnt = 0
                u = i + 1
                x0 = np.float64(row[i])
                for lk in range(L):
                    o = _U(((s * n_issue + p) * L + lk) * F + c)
                    vt = i + lead_steps[lk]
                    if vt < T:
                        outf[o] = np.float32(row[vt])
                        for j in range(nroll):
                            outf[o + _U(1 + j)] = np.float32(roll[vt, j])
                    else:
                        for j in range(nroll + 1):
                            outf[o + _U(j)] = np.float32(_NAN)
                    if change:
                        d = np.float64(row[vt]) - x0 if vt < T else _NAN
                        outf[o + _U(1 + nroll)] = np.float32(d)
                    elif kind != 0:
                        while u <= vt:
                            if u < T:
                                y = np.float64(row[u])
                                if y == y:
                                    acc += y
                                    cnt += 1
                            u += 1
                        need = math.ceil(since_min_fraction * lead_steps[lk] - 1e-9)
                        total = acc * step_hours if kind == 2 else acc
                        outf[o + _U(1 + nroll)] = np.float32(total if cnt >= need else _NAN)
            c += 1 + nroll + (1 if (kind != 0) | change else 0)


# --------------------------------------------------------------------------- broadcasting
@_jit_parallel
def broadcast_rows(out, col0, table, n_sites):  # pragma: no cover - numba
    """``out[site * len(table) + k, col0:col0 + table.shape[1]] = table[k]`` for every site."""
    m = table.shape[0]
    nc = table.shape[1]
    F = out.shape[1]
    outf = out.reshape(out.shape[0] * F)
    tf = table.reshape(m * nc)
    for s in prange(n_sites):
        for k in range(m):
            o = _U((s * m + k) * F + col0)
            src = _U(k * nc)
            for c in range(_U(nc)):
                outf[o + c] = tf[src + c]


@_jit_parallel
def fill_floor(out, value):  # pragma: no cover - numba
    """Write ``value`` into every element of ``out``: the memory-bandwidth floor of a kernel
    writing the same array (both threads, contiguous stores)."""
    n = out.shape[0] * out.shape[1]
    outf = out.reshape(n)
    chunk = 1 << 16
    for b in prange((n + chunk - 1) // chunk):
        lo = b * chunk
        hi = min(n, lo + chunk)
        for i in range(_U(lo), _U(hi)):
            outf[i] = value


KERNELS = (
    pm25_history,
    _history_group,
    latest_pm25_history,
    met_features,
    broadcast_rows,
    fill_floor,
)
