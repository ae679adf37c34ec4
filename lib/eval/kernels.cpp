// Forward and adjoint kernels of every tape op, side by side (one struct per row of
// HS3FIT_TAPE_OPS in tape/tape.h), written once with Highway and compiled for every x86 SIMD
// target (AVX3, AVX2, SSE4, SSSE3, and EMU128 = portable scalar C++); the best target the CPU
// has is chosen at run time (HWY_DYNAMIC_DISPATCH), or a named one for tests and benchmarks.
//
// Element-wise work (interpolations, Poisson terms, constraints) runs in full vectors with a
// one-lane tail; log/exp come from hwy/contrib/math. Segment ops (products, sums over
// samples) and the adjoint scatters are short scalar loops. Reductions sum lane-wise and then
// across lanes, so results differ between targets only by rounding (≤ 1e-15 relative, tested).
#define HWY_COMPILE_ALL_ATTAINABLE  // always compile the portable fallback too
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "eval/kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>
#include <algorithm>
#include <cmath>
#include <limits>

#include "eval/kernels.h"

HWY_BEFORE_NAMESPACE();
namespace hs3fit::eval {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using tape::Instr;

// θ_e = x[idx[e]] for the lanes of d.
template <class D>
HWY_INLINE hn::Vec<D> GatherSlots(D d, const double* x, const uint32_t* idx) {
  if constexpr (hn::MaxLanes(D()) == 1) {
    return hn::Set(d, x[idx[0]]);
  } else {
    const hn::RebindToSigned<D> di;
    const hn::Rebind<int32_t, D> d32;
    return hn::GatherIndex(d, x, hn::PromoteTo(di, hn::LoadU(d32, reinterpret_cast<const int32_t*>(idx))));
  }
}

// Coefficient c of elements e... (structure of arrays: K[c·n + e]).
template <class D>
HWY_INLINE hn::Vec<D> Coef(D d, const double* K, size_t n, size_t e, int c) {
  return hn::LoadU(d, K + static_cast<size_t>(c) * n + e);
}

// ---- Interpolation codes (pyhf semantics; the scalar reference is tape/interpolation.h) --------
// Each computes f(θ) (a delta Δ or a factor F) and df/dθ for the lanes of t.

// code0: piecewise linear. K = [up−nom, nom−down].
struct Code0 {
  static constexpr bool kMultiplicative = false;
  template <class D, class V>
  HWY_INLINE static void Eval(D d, V t, const double* K, size_t n, size_t e, V& f, V& df) {
    df = hn::IfThenElse(hn::Ge(t, hn::Zero(d)), Coef(d, K, n, e, 0), Coef(d, K, n, e, 1));
    f = hn::Mul(t, df);
  }
};

// code1: piecewise exponential. K = [ln(up/nom), ln(down/nom)]; F = exp(slope·θ).
struct Code1 {
  static constexpr bool kMultiplicative = true;
  template <class D, class V>
  HWY_INLINE static void Eval(D d, V t, const double* K, size_t n, size_t e, V& f, V& df) {
    const V slope = hn::IfThenElse(hn::Ge(t, hn::Zero(d)), Coef(d, K, n, e, 0), hn::Neg(Coef(d, K, n, e, 1)));
    f = hn::Exp(d, hn::Mul(slope, t));
    df = hn::Mul(f, slope);
  }
};

// code2: quadratic inside |θ| ≤ 1, linear outside. K = [a, b, up−nom, nom−down].
struct Code2 {
  static constexpr bool kMultiplicative = false;
  template <class D, class V>
  HWY_INLINE static void Eval(D d, V t, const double* K, size_t n, size_t e, V& f, V& df) {
    const V a = Coef(d, K, n, e, 0), b = Coef(d, K, n, e, 1), one = hn::Set(d, 1.0);
    const V two_a = hn::Add(a, a);
    const V d_hi = hn::Add(b, two_a), d_lo = hn::Sub(b, two_a);
    const V f_hi = hn::MulAdd(d_hi, hn::Sub(t, one), Coef(d, K, n, e, 2));
    const V f_lo = hn::Sub(hn::Mul(d_lo, hn::Add(t, one)), Coef(d, K, n, e, 3));
    const V d_in = hn::MulAdd(two_a, t, b);
    const V f_in = hn::Mul(hn::MulAdd(a, t, b), t);
    const auto hi = hn::Gt(t, one), lo = hn::Lt(t, hn::Neg(one));
    f = hn::IfThenElse(hi, f_hi, hn::IfThenElse(lo, f_lo, f_in));
    df = hn::IfThenElse(hi, d_hi, hn::IfThenElse(lo, d_lo, d_in));
  }
};

// code4: F = 1 + Σ c_k θ^k inside |θ| < 1, exponential outside. K = [c1..c6, ln up, ln down].
struct Code4 {
  static constexpr bool kMultiplicative = true;
  template <class D, class V>
  HWY_INLINE static void Eval(D d, V t, const double* K, size_t n, size_t e, V& f, V& df) {
    const V one = hn::Set(d, 1.0);
    const V c0 = Coef(d, K, n, e, 0), c1 = Coef(d, K, n, e, 1), c2 = Coef(d, K, n, e, 2);
    const V c3 = Coef(d, K, n, e, 3), c4 = Coef(d, K, n, e, 4), c5 = Coef(d, K, n, e, 5);
    V v = c5, dv = hn::Mul(hn::Set(d, 6.0), c5);
    v = hn::MulAdd(v, t, c4);
    dv = hn::MulAdd(dv, t, hn::Mul(hn::Set(d, 5.0), c4));
    v = hn::MulAdd(v, t, c3);
    dv = hn::MulAdd(dv, t, hn::Mul(hn::Set(d, 4.0), c3));
    v = hn::MulAdd(v, t, c2);
    dv = hn::MulAdd(dv, t, hn::Mul(hn::Set(d, 3.0), c2));
    v = hn::MulAdd(v, t, c1);
    dv = hn::MulAdd(dv, t, hn::Add(c1, c1));
    v = hn::MulAdd(v, t, c0);
    dv = hn::MulAdd(dv, t, c0);
    f = hn::MulAdd(v, t, one);
    df = dv;
    const auto inside = hn::Lt(hn::Abs(t), one);
    if (!hn::AllTrue(d, inside)) {
      const V slope = hn::IfThenElse(hn::Ge(t, one), Coef(d, K, n, e, 6), hn::Neg(Coef(d, K, n, e, 7)));
      const V ex = hn::Exp(d, hn::Mul(slope, t));
      f = hn::IfThenElse(inside, f, ex);
      df = hn::IfThenElse(inside, df, hn::Mul(ex, slope));
    }
  }
};

// code4p: Δ = θ(S + θA(15 + θ²(3θ² − 10))) inside |θ| < 1, linear outside. K = [S, A, e+, e−].
struct Code4p {
  static constexpr bool kMultiplicative = false;
  template <class D, class V>
  HWY_INLINE static void Eval(D d, V t, const double* K, size_t n, size_t e, V& f, V& df) {
    const V one = hn::Set(d, 1.0);
    const V S = Coef(d, K, n, e, 0), A = Coef(d, K, n, e, 1);
    const V t2 = hn::Mul(t, t), At = hn::Mul(A, t);
    f = hn::Mul(t, hn::MulAdd(At, hn::MulAdd(t2, hn::MulAdd(hn::Set(d, 3.0), t2, hn::Set(d, -10.0)), hn::Set(d, 15.0)), S));
    df = hn::MulAdd(At, hn::MulAdd(t2, hn::MulAdd(hn::Set(d, 18.0), t2, hn::Set(d, -40.0)), hn::Set(d, 30.0)), S);
    const auto inside = hn::Lt(hn::Abs(t), one);
    if (!hn::AllTrue(d, inside)) {
      const V slope = hn::IfThenElse(hn::Ge(t, one), Coef(d, K, n, e, 2), Coef(d, K, n, e, 3));
      f = hn::IfThenElse(inside, f, hn::Mul(t, slope));
      df = hn::IfThenElse(inside, df, slope);
    }
  }
};

// Entries are evaluated in blocks of kBlock: values go to an L1-resident scratch block and are
// folded into their segments right away; only what the reverse sweep needs (F'/F for factors,
// Δ' for deltas) is stored in the arena (b + e).
constexpr uint32_t kBlock = 256;

// Entries [e0, e1) of an interpolation op: f_e(θ_e) to block[e − e0] and, for gradients, the
// derivative data to b + e. Multiplicative contexts (kFactor) use the factor F = f (codes 1, 4)
// or 1 + f (additive codes) and store F'/F; additive contexts store Δ'.
template <class Code, bool kFactor, class D>
HWY_INLINE void EntryBlock(D d, const Instr& in, const Ctx& c, uint32_t m, size_t e, double* block, bool derivatives) {
  using V = hn::Vec<D>;
  const V t = GatherSlots(d, c.x, c.I + in.idx + in.n + 1 + e);
  V f, df;
  Code::Eval(d, t, c.K + in.k, m, e, f, df);
  if constexpr (kFactor && !Code::kMultiplicative) f = hn::Add(hn::Set(d, 1.0), f);
  hn::StoreU(f, d, block);
  if (derivatives) hn::StoreU(kFactor ? hn::Div(df, f) : df, d, c.x + in.b + e);
}

template <class Code, bool kFactor>
HWY_INLINE void EntryRange(const Instr& in, const Ctx& c, uint32_t m, uint32_t e0, uint32_t e1, double* block) {
  const hn::ScalableTag<double> d;
  const size_t L = hn::Lanes(d);
  size_t e = e0;
  if (c.derivatives) {
    for (; e + L <= e1; e += L) EntryBlock<Code, kFactor>(d, in, c, m, e, block + (e - e0), true);
  } else {
    for (; e + L <= e1; e += L) EntryBlock<Code, kFactor>(d, in, c, m, e, block + (e - e0), false);
  }
  const hn::CappedTag<double, 1> d1;
  for (; e < e1; ++e) EntryBlock<Code, kFactor>(d1, in, c, m, e, block + (e - e0), c.derivatives);
}

// Π of v[beg..end) with four partial products (breaks the multiplication dependency chain).
HWY_INLINE double SegmentProduct(const double* v, uint32_t beg, uint32_t end) {
  if (end - beg <= 4) {
    double p = 1;
    for (uint32_t j = beg; j < end; ++j) p *= v[j];
    return p;
  }
  double p0 = 1, p1 = 1, p2 = 1, p3 = 1;
  uint32_t j = beg;
  for (; j + 4 <= end; j += 4) {
    p0 *= v[j];
    p1 *= v[j + 1];
    p2 *= v[j + 2];
    p3 *= v[j + 3];
  }
  for (; j < end; ++j) p0 *= v[j];
  return (p0 * p1) * (p2 * p3);
}
HWY_INLINE double SegmentTotal(const double* v, uint32_t beg, uint32_t end) {
  double s = 0;
  for (uint32_t j = beg; j < end; ++j) s += v[j];
  return s;
}

// Evaluate every entry block by block and fold each block into the segments it overlaps:
// out[s] = init(s) ⊕ (⊕ of the values of segment s), with ⊕ = × (kFactor) or + .
template <class Code, bool kFactor>
HWY_INLINE void FoldEntries(const Instr& in, const Ctx& c) {
  const uint32_t* off = c.I + in.idx;
  const uint32_t m = off[in.n];
  double* block = c.scratch;
  double* out = c.x + in.out;
  const double* a = kFactor ? nullptr : c.x + in.a;
  uint32_t s = 0;
  double acc = kFactor ? 1.0 : (in.n > 0 ? a[0] : 0.0);
  auto close = [&] {  // finish segment s, start s + 1
    out[s] = acc;
    ++s;
    acc = kFactor ? 1.0 : (s < in.n ? a[s] : 0.0);
  };
  for (uint32_t e0 = 0; e0 < m; e0 += kBlock) {
    const uint32_t e1 = std::min(m, e0 + kBlock);
    EntryRange<Code, kFactor>(in, c, m, e0, e1, block);
    for (uint32_t e = e0; e < e1;) {
      while (off[s + 1] <= e) close();  // segments ending here (and empty ones)
      const uint32_t end = std::min(off[s + 1], e1);
      if constexpr (kFactor) acc *= SegmentProduct(block, e - e0, end - e0);
      else acc += SegmentTotal(block, e - e0, end - e0);
      e = end;
    }
  }
  while (s < in.n) close();
}

// out[s] = Π_{e∈seg s} F_e(θ_e): normsys factors of a sample, multiplicative histosys of a
// sample·bin. Gradient: ∂out/∂θ_e = out · F'_e/F_e, with an exact product-of-the-others
// fallback for a segment whose product is 0 or not finite.
template <class Code>
struct InterpProduct {
  static void forward(const Instr& in, const Ctx& c) { FoldEntries<Code, true>(in, c); }
  static void adjoint(const Instr& in, const Ctx& c) {
    const uint32_t* HWY_RESTRICT off = c.I + in.idx;
    const uint32_t* HWY_RESTRICT theta = off + in.n + 1;
    const double* HWY_RESTRICT R = c.x + in.b;
    const double* HWY_RESTRICT go = c.g + in.out;
    const double* HWY_RESTRICT P = c.x + in.out;
    double* HWY_RESTRICT g = c.g;
    uint32_t e = off[0];
    for (uint32_t s = 0; s < in.n; ++s) {
      const uint32_t end = off[s + 1];
      if (P[s] != 0 && std::isfinite(P[s])) {
        const double w = go[s] * P[s];
        for (; e < end; ++e) g[theta[e]] += w * R[e];
      } else {
        exact(in, c, s, go[s]);
        e = end;
      }
    }
  }
  // ∂out/∂F_e = Π_{k≠e} F_k from suffix products; F_e and F'_e recomputed (F'/F is lost where F = 0).
  static void exact(const Instr& in, const Ctx& c, uint32_t s, double go) {
    const uint32_t* off = c.I + in.idx;
    const uint32_t m = off[in.n];
    const uint32_t* theta = off + in.n + 1;
    const uint32_t beg = off[s], len = off[s + 1] - beg;
    if (len == 0) return;
    const hn::CappedTag<double, 1> d1;
    double* F = c.scratch;
    double* dF = c.scratch + len;
    for (uint32_t k = 0; k < len; ++k) {
      hn::Vec<decltype(d1)> f, df;
      Code::Eval(d1, hn::Set(d1, c.x[theta[beg + k]]), c.K + in.k, m, beg + k, f, df);
      F[k] = hn::GetLane(f) + (Code::kMultiplicative ? 0.0 : 1.0);
      dF[k] = hn::GetLane(df);
    }
    // suffix products in place of dF's partner: prefix · suffix = Π_{j≠k} F_j
    double suffix = 1.0;
    for (uint32_t k = len; k-- > 0;) {
      dF[k] *= suffix;
      suffix *= F[k];
    }
    double prefix = go;
    for (uint32_t k = 0; k < len; ++k) {
      c.g[theta[beg + k]] += prefix * dF[k];
      prefix *= F[k];
    }
  }
};

// out[s] = a[s] + Σ_{e∈seg s} Δ_e(θ_e): histosys deltas summed against each sample·bin's nominal.
template <class Code>
struct InterpSum {
  static void forward(const Instr& in, const Ctx& c) { FoldEntries<Code, false>(in, c); }
  static void adjoint(const Instr& in, const Ctx& c) {
    const uint32_t* HWY_RESTRICT off = c.I + in.idx;
    const uint32_t* HWY_RESTRICT theta = off + in.n + 1;
    const double* HWY_RESTRICT D = c.x + in.b;
    const double* HWY_RESTRICT go = c.g + in.out;
    double* HWY_RESTRICT g = c.g;
    if (c.varies(in.a)) {
      double* HWY_RESTRICT ga = c.g + in.a;
      for (uint32_t s = 0; s < in.n; ++s) ga[s] += go[s];
    }
    uint32_t e = off[0];
    for (uint32_t s = 0; s < in.n; ++s) {
      const uint32_t end = off[s + 1];
      const double w = go[s];
      for (; e < end; ++e) g[theta[e]] += w * D[e];
    }
  }
};

using InterpProduct0 = InterpProduct<Code0>;
using InterpProduct1 = InterpProduct<Code1>;
using InterpProduct2 = InterpProduct<Code2>;
using InterpProduct4 = InterpProduct<Code4>;
using InterpProduct4p = InterpProduct<Code4p>;
using InterpSum0 = InterpSum<Code0>;
using InterpSum2 = InterpSum<Code2>;
using InterpSum4p = InterpSum<Code4p>;

// out[i] = a[i] · Π_{j∈seg i} x[list_j] (per-sample factor lists; sample·bin yields).
struct Product {
  static void forward(const Instr& in, const Ctx& c) {
    const uint32_t* HWY_RESTRICT off = c.I + in.idx;
    const uint32_t* HWY_RESTRICT list = off + in.n + 1;
    const double* x = c.x;
    double* out = c.x + in.out;
    const bool has_a = in.a != tape::kNoSlot;
    for (uint32_t i = 0; i < in.n; ++i) {
      double p = has_a ? x[in.a + i] : 1.0;
      uint32_t j = off[i];
      const uint32_t end = off[i + 1];
      for (; j + 2 <= end; j += 2) p *= x[list[j]] * x[list[j + 1]];
      if (j < end) p *= x[list[j]];
      out[i] = p;
    }
  }
  // ∂out/∂x_j = a · Π_{k≠j} x_k from suffix products (no division: a factor may be 0).
  static void adjoint(const Instr& in, const Ctx& c) {
    const uint32_t* HWY_RESTRICT off = c.I + in.idx;
    const uint32_t* HWY_RESTRICT list = off + in.n + 1;
    const double* x = c.x;
    double* g = c.g;
    double* HWY_RESTRICT suffix = c.scratch;
    const bool has_a = in.a != tape::kNoSlot;
    const bool ga = has_a && c.varies(in.a);
    for (uint32_t i = 0; i < in.n; ++i) {
      const double go = g[in.out + i];
      const double a = has_a ? x[in.a + i] : 1.0;
      const uint32_t* l = list + off[i];
      const uint32_t m = off[i + 1] - off[i];
      switch (m) {
        case 0:
          if (ga) g[in.a + i] += go;
          break;
        case 1:
          g[l[0]] += go * a;
          if (ga) g[in.a + i] += go * x[l[0]];
          break;
        case 2: {
          const double x0 = x[l[0]], x1 = x[l[1]];
          g[l[0]] += go * a * x1;
          g[l[1]] += go * a * x0;
          if (ga) g[in.a + i] += go * x0 * x1;
          break;
        }
        default: {
          suffix[m - 1] = 1.0;
          for (uint32_t k = m - 1; k > 0; --k) suffix[k - 1] = suffix[k] * x[l[k]];
          double p = go * a;
          for (uint32_t k = 0; k < m; ++k) {
            g[l[k]] += p * suffix[k];
            p *= x[l[k]];
          }
          if (ga) g[in.a + i] += go * suffix[0] * x[l[0]];
        }
      }
    }
  }
};

// out[i] = a[i] + Σ_{j∈seg i} b[j] (sample·bins → bins, histosys deltas → sample·bins).
struct SegmentSum {
  static void forward(const Instr& in, const Ctx& c) {
    const uint32_t* off = c.I + in.idx;
    const double* a = c.x + in.a;
    const double* b = c.x + in.b;
    double* out = c.x + in.out;
    for (uint32_t i = 0; i < in.n; ++i) {
      double acc = a[i];
      for (uint32_t j = off[i]; j < off[i + 1]; ++j) acc += b[j];
      out[i] = acc;
    }
  }
  static void adjoint(const Instr& in, const Ctx& c) {
    const uint32_t* off = c.I + in.idx;
    const double* go = c.g + in.out;
    if (c.varies(in.a)) {
      double* ga = c.g + in.a;
      for (uint32_t i = 0; i < in.n; ++i) ga[i] += go[i];
    }
    if (c.varies(in.b)) {
      double* gb = c.g + in.b;
      for (uint32_t i = 0; i < in.n; ++i)
        for (uint32_t j = off[i]; j < off[i + 1]; ++j) gb[j] += go[i];
    }
  }
};

// Σ_j term(d, j) over j < n: full vectors summed lane-wise, then across lanes, then a one-lane
// tail (the summation order every reduction op uses, so targets differ only by rounding).
template <class F>
HWY_INLINE double SumTerms(size_t n, const F& term) {
  const hn::ScalableTag<double> d;
  const size_t L = hn::Lanes(d);
  auto acc = hn::Zero(d);
  size_t j = 0;
  for (; j + L <= n; j += L) acc = hn::Add(acc, term(d, j));
  double sum = hn::GetLane(hn::SumOfLanes(d, acc));
  const hn::CappedTag<double, 1> d1;
  for (; j < n; ++j) sum += hn::GetLane(term(d1, j));
  return sum;
}

// g(q) = q − ln(1+q) ≥ 0, accurate to a few ulp of g itself (Highway's Log1p is accurate only
// relative to ln(1+q), so q − Log1p(q) would lose everything for tiny q, where g ≈ q²/2: a
// Poisson term n·g(q) with n = 1e10 needs g(1e-6) to 1e-20). For |q| < 0.1 the atanh series:
// with u = q/(2+q), ln(1+q) = 2(u + u³/3 + u⁵/5 + …) and q − 2u = u·q, so
// g = u·q − 2u³(1/3 + u²/5 + … + u¹²/15) (truncation < 1e-18 relative); else q − Log1p(q).
// Edges as std::log1p: +∞ at q = −1, NaN below.
template <class D, class V>
HWY_INLINE V QMinusLog1p(D d, V q) {
  const V u = hn::Div(q, hn::Add(hn::Set(d, 2.0), q));
  const V u2 = hn::Mul(u, u);
  V p = hn::Set(d, 1.0 / 15);
  for (double c : {1.0 / 13, 1.0 / 11, 1.0 / 9, 1.0 / 7, 1.0 / 5, 1.0 / 3}) p = hn::MulAdd(p, u2, hn::Set(d, c));
  const V series = hn::NegMulAdd(hn::Mul(hn::Set(d, 2.0), hn::Mul(u2, u)), p, hn::Mul(u, q));
  const V minus_one = hn::Set(d, -1.0);
  const V direct = hn::Sub(q, hn::IfThenElse(hn::Gt(q, minus_one), hn::Log1p(d, hn::Max(q, minus_one)),
                                             hn::IfThenElse(hn::Eq(q, minus_one), hn::Set(d, -std::numeric_limits<double>::infinity()),
                                                            hn::Set(d, std::numeric_limits<double>::quiet_NaN()))));
  const V inf = hn::Set(d, std::numeric_limits<double>::infinity());
  return hn::IfThenElse(hn::Lt(hn::Abs(q), hn::Set(d, 0.1)), series, hn::IfThenElse(hn::Eq(q, inf), inf, direct));
}

// Poisson main term −ln Pois(n | ν) = ν − n ln ν + lnΓ(n+1), n ln ν := 0 for n = 0 (pyhf xlogy),
// computed as n(q − ln(1+q)) with q = ν/n − 1, plus the data-only constant
// lnΓ(n+1) − n ln n + n (summed at compile time, tape/compiler.cpp). The direct form cancels
// terms of size n ln n (1e6 for n = 1e5) down to O(1), so a few ulp of ln ν would cost ~1e-10 per
// bin; here the logarithm is of a number near 1 and its error is relative to the small result.
template <class D>
HWY_INLINE hn::Vec<D> PoissonTerm(D d, const double* nu, const double* n) {
  const auto v = hn::LoadU(d, nu), k = hn::LoadU(d, n);
  const auto positive = hn::Gt(k, hn::Zero(d));
  const auto q = hn::Sub(hn::Div(v, hn::IfThenElse(positive, k, hn::Set(d, 1.0))), hn::Set(d, 1.0));
  return hn::IfThenElse(positive, hn::Mul(k, QMinusLog1p(d, q)), v);
}
template <class D>
HWY_INLINE hn::Vec<D> PoissonAdjoint(D d, const double* nu, const double* n, hn::Vec<D> go) {
  const auto v = hn::LoadU(d, nu), k = hn::LoadU(d, n);
  return hn::Mul(go, hn::Sub(hn::Set(d, 1.0), hn::IfThenElseZero(hn::Gt(k, hn::Zero(d)), hn::Div(k, v))));
}

struct PoissonMain {
  static void forward(const Instr& in, const Ctx& c) {
    const double* nu = c.x + in.a;
    const double* n = c.x + in.b;
    c.x[in.out] = SumTerms(in.n, [&](auto d, size_t i) { return PoissonTerm(d, nu + i, n + i); }) + c.K[in.k];
  }
  static void adjoint(const Instr& in, const Ctx& c) {
    if (!c.varies(in.a)) return;
    const double* nu = c.x + in.a;
    const double* n = c.x + in.b;
    double* gnu = c.g + in.a;
    const hn::ScalableTag<double> d;
    const size_t L = hn::Lanes(d);
    const auto go = hn::Set(d, c.g[in.out]);
    size_t i = 0;
    for (; i + L <= in.n; i += L) hn::StoreU(hn::Add(hn::LoadU(d, gnu + i), PoissonAdjoint(d, nu + i, n + i, go)), d, gnu + i);
    const hn::CappedTag<double, 1> d1;
    for (; i < in.n; ++i) gnu[i] += hn::GetLane(PoissonAdjoint(d1, nu + i, n + i, hn::Set(d1, c.g[in.out])));
  }
};

// Gaussian constraints: K = aux[n], 1/σ[n], then the constant Σ ln σ_j + ½ ln 2π.
struct GaussConstraint {
  template <class D>
  HWY_INLINE static hn::Vec<D> Term(D d, const Instr& in, const Ctx& c, size_t j) {
    const auto z = hn::Mul(hn::Sub(GatherSlots(d, c.x, c.I + in.idx + j), Coef(d, c.K + in.k, in.n, j, 0)),
                           Coef(d, c.K + in.k, in.n, j, 1));
    return hn::Mul(hn::Set(d, 0.5), hn::Mul(z, z));
  }
  static void forward(const Instr& in, const Ctx& c) {
    c.x[in.out] = SumTerms(in.n, [&](auto d, size_t j) { return Term(d, in, c, j); }) + c.K[in.k + 2 * in.n];
  }
  static void adjoint(const Instr& in, const Ctx& c) {
    const double* aux = c.K + in.k;
    const double* inv_s = aux + in.n;
    const uint32_t* idx = c.I + in.idx;
    const double go = c.g[in.out];
    for (uint32_t j = 0; j < in.n; ++j) c.g[idx[j]] += go * (c.x[idx[j]] - aux[j]) * inv_s[j] * inv_s[j];
  }
};

// Poisson constraints: K = aux[n], ρ = τ/aux[n], τ[n], then Σ lnΓ(a+1) − a ln a + a. The term
// a(q − ln(1+q)), q = θρ − 1, equals θτ − a ln(θτ) up to that constant without cancelling
// terms of size a ln a (a = 0: θτ).
struct PoissonConstraint {
  template <class D>
  HWY_INLINE static hn::Vec<D> Term(D d, const Instr& in, const Ctx& c, size_t j) {
    using V = hn::Vec<D>;
    const V aux = Coef(d, c.K + in.k, in.n, j, 0), rho = Coef(d, c.K + in.k, in.n, j, 1);
    const V theta = GatherSlots(d, c.x, c.I + in.idx + j);
    const V q = hn::MulAdd(theta, rho, hn::Set(d, -1.0));
    return hn::IfThenElse(hn::Gt(aux, hn::Zero(d)), hn::Mul(aux, QMinusLog1p(d, q)), hn::Mul(theta, rho));
  }
  static void forward(const Instr& in, const Ctx& c) {
    c.x[in.out] = SumTerms(in.n, [&](auto d, size_t j) { return Term(d, in, c, j); }) + c.K[in.k + 3 * in.n];
  }
  static void adjoint(const Instr& in, const Ctx& c) {
    const double* aux = c.K + in.k;
    const double* tau = aux + 2 * in.n;
    const uint32_t* idx = c.I + in.idx;
    const double go = c.g[in.out];
    for (uint32_t j = 0; j < in.n; ++j) c.g[idx[j]] += go * (tau[j] - (aux[j] > 0 ? aux[j] / c.x[idx[j]] : 0.0));
  }
};

struct Sum {
  static void forward(const Instr& in, const Ctx& c) {
    const uint32_t* idx = c.I + in.idx;
    double acc = 0;
    for (uint32_t j = 0; j < in.n; ++j) acc += c.x[idx[j]];
    c.x[in.out] = acc;
  }
  static void adjoint(const Instr& in, const Ctx& c) {
    const uint32_t* idx = c.I + in.idx;
    const double go = c.g[in.out];
    for (uint32_t j = 0; j < in.n; ++j)
      if (c.varies(idx[j])) c.g[idx[j]] += go;
  }
};

const KernelTable* GetKernelTable() {
  static const KernelTable table = {
      {
#define HS3FIT_FORWARD(name, doc) &name::forward,
          HS3FIT_TAPE_OPS(HS3FIT_FORWARD)
#undef HS3FIT_FORWARD
      },
      {
#define HS3FIT_ADJOINT(name, doc) &name::adjoint,
          HS3FIT_TAPE_OPS(HS3FIT_ADJOINT)
#undef HS3FIT_ADJOINT
      },
      hwy::TargetName(HWY_TARGET),
  };
  return &table;
}

}  // namespace HWY_NAMESPACE
}  // namespace hs3fit::eval
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <algorithm>
#include <cctype>
#include <mutex>

#include "core/error.h"

namespace hs3fit::eval {

HWY_EXPORT(GetKernelTable);

namespace {
std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}
}  // namespace

std::vector<std::string> simd_targets() {
  std::vector<std::string> out;
  for (int64_t t : hwy::SupportedAndGeneratedTargets()) out.push_back(lower(hwy::TargetName(t)));
  return out;
}

const KernelTable& kernel_table(const std::string& target) {
  if (target.empty()) return *HWY_DYNAMIC_DISPATCH(GetKernelTable)();
  // Highway names its portable fallback (EMU128) "Scalar"; accept both names.
  const std::string want = lower(target) == "emu128" ? std::string("scalar") : lower(target);
  for (int64_t t : hwy::SupportedAndGeneratedTargets()) {
    if (lower(hwy::TargetName(t)) != want) continue;
    // Highway's test hook restricts dispatch to one target while we fetch its table.
    static std::mutex m;
    std::lock_guard<std::mutex> lock(m);
    hwy::SetSupportedTargetsForTest(t);
    const KernelTable* table = HWY_DYNAMIC_DISPATCH(GetKernelTable)();
    hwy::SetSupportedTargetsForTest(0);
    return *table;
  }
  std::string have;
  for (const auto& s : simd_targets()) have += (have.empty() ? "" : ", ") + s;
  throw Error(ErrorKind::Usage, "--simd", "SIMD target '" + target + "' is not available on this CPU (available: " + have + ")");
}

}  // namespace hs3fit::eval
#endif  // HWY_ONCE
