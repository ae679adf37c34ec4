// Forward and adjoint kernels of every tape op, side by side (one struct per row of
// HS3FIT_TAPE_OPS in tape/tape.h). Kernels never allocate, never throw, and loop over
// contiguous arrays. `x` is the arena (values), `g` the adjoint arena, `K` the tape's
// coefficients and `I` its index table. Adjoint kernels accumulate g[in] += g[out]·∂out/∂in
// and skip inputs that are constant slots (their adjoints are never read).
#pragma once
#include <cmath>

#include "tape/interpolation.h"
#include "tape/tape.h"

namespace hs3fit::eval::kernels {

struct Ctx {
  double* x;
  double* g;
  const double* K;
  const uint32_t* I;
  uint32_t work_end;
  bool varies(uint32_t slot) const { return slot < work_end; }
};

struct Add {
  static void forward(const tape::Instr& in, const Ctx& c) {
    const double* a = c.x + in.a; const double* b = c.x + in.b; double* o = c.x + in.out;
    for (uint32_t i = 0; i < in.n; ++i) o[i] = a[i] + b[i];
  }
  static void adjoint(const tape::Instr& in, const Ctx& c) {
    const double* go = c.g + in.out;
    if (c.varies(in.a)) { double* ga = c.g + in.a; for (uint32_t i = 0; i < in.n; ++i) ga[i] += go[i]; }
    if (c.varies(in.b)) { double* gb = c.g + in.b; for (uint32_t i = 0; i < in.n; ++i) gb[i] += go[i]; }
  }
};

struct Mul {
  static void forward(const tape::Instr& in, const Ctx& c) {
    const double* a = c.x + in.a; const double* b = c.x + in.b; double* o = c.x + in.out;
    for (uint32_t i = 0; i < in.n; ++i) o[i] = a[i] * b[i];
  }
  static void adjoint(const tape::Instr& in, const Ctx& c) {
    const double* a = c.x + in.a; const double* b = c.x + in.b; const double* go = c.g + in.out;
    if (c.varies(in.a)) { double* ga = c.g + in.a; for (uint32_t i = 0; i < in.n; ++i) ga[i] += go[i] * b[i]; }
    if (c.varies(in.b)) { double* gb = c.g + in.b; for (uint32_t i = 0; i < in.n; ++i) gb[i] += go[i] * a[i]; }
  }
};

struct Scale {
  static void forward(const tape::Instr& in, const Ctx& c) {
    const double* a = c.x + in.a; const double s = c.x[in.b]; double* o = c.x + in.out;
    for (uint32_t i = 0; i < in.n; ++i) o[i] = a[i] * s;
  }
  static void adjoint(const tape::Instr& in, const Ctx& c) {
    const double* a = c.x + in.a; const double s = c.x[in.b]; const double* go = c.g + in.out;
    if (c.varies(in.a)) { double* ga = c.g + in.a; for (uint32_t i = 0; i < in.n; ++i) ga[i] += go[i] * s; }
    if (c.varies(in.b)) {
      double acc = 0;
      for (uint32_t i = 0; i < in.n; ++i) acc += go[i] * a[i];
      c.g[in.b] += acc;
    }
  }
};

struct MulGather {
  static void forward(const tape::Instr& in, const Ctx& c) {
    const double* a = c.x + in.a; const uint32_t* idx = c.I + in.idx; double* o = c.x + in.out;
    for (uint32_t i = 0; i < in.n; ++i) o[i] = idx[i] == tape::kNoSlot ? a[i] : a[i] * c.x[idx[i]];
  }
  static void adjoint(const tape::Instr& in, const Ctx& c) {
    const double* a = c.x + in.a; const uint32_t* idx = c.I + in.idx; const double* go = c.g + in.out;
    const bool ga = c.varies(in.a);
    for (uint32_t i = 0; i < in.n; ++i) {
      if (idx[i] == tape::kNoSlot) {
        if (ga) c.g[in.a + i] += go[i];
      } else {
        if (ga) c.g[in.a + i] += go[i] * c.x[idx[i]];
        c.g[idx[i]] += go[i] * a[i];
      }
    }
  }
};

// Interpolation ops share one shape: out[i] = a[i] ⊕ f(θ; K[k + i·nc ...]) where ⊕ is + for
// additive codes and × for multiplicative ones; f is one of interp::code0..code4p.
template <double (*F)(double, const double*, double&), int NC, bool Multiplicative>
struct InterpKernel {
  static void forward(const tape::Instr& in, const Ctx& c) {
    const double* a = c.x + in.a; const double t = c.x[in.b]; const double* k = c.K + in.k; double* o = c.x + in.out;
    double d;
    for (uint32_t i = 0; i < in.n; ++i) {
      double f = F(t, k + static_cast<size_t>(i) * NC, d);
      o[i] = Multiplicative ? a[i] * f : a[i] + f;
    }
  }
  static void adjoint(const tape::Instr& in, const Ctx& c) {
    const double* a = c.x + in.a; const double t = c.x[in.b]; const double* k = c.K + in.k; const double* go = c.g + in.out;
    double* ga = c.varies(in.a) ? c.g + in.a : nullptr;
    double gt = 0, d;
    for (uint32_t i = 0; i < in.n; ++i) {
      double f = F(t, k + static_cast<size_t>(i) * NC, d);
      if (Multiplicative) {
        if (ga) ga[i] += go[i] * f;
        gt += go[i] * a[i] * d;
      } else {
        if (ga) ga[i] += go[i];
        gt += go[i] * d;
      }
    }
    if (c.varies(in.b)) c.g[in.b] += gt;
  }
};

using Interp0 = InterpKernel<interp::code0, interp::coefficient_count(model::Interp::Code0), false>;
using Interp1 = InterpKernel<interp::code1, interp::coefficient_count(model::Interp::Code1), true>;
using Interp2 = InterpKernel<interp::code2, interp::coefficient_count(model::Interp::Code2), false>;
using Interp4 = InterpKernel<interp::code4, interp::coefficient_count(model::Interp::Code4), true>;
using Interp4p = InterpKernel<interp::code4p, interp::coefficient_count(model::Interp::Code4p), false>;

// Poisson main term −ln Pois(n | ν) = ν − n ln ν + lnΓ(n+1); n ln ν := 0 for n = 0 (pyhf xlogy).
struct PoissonMain {
  static void forward(const tape::Instr& in, const Ctx& c) {
    const double* nu = c.x + in.a; const double* n = c.x + in.b;
    double acc = c.K[in.k];
    for (uint32_t i = 0; i < in.n; ++i) acc += nu[i] - (n[i] > 0 ? n[i] * std::log(nu[i]) : 0.0);
    c.x[in.out] = acc;
  }
  static void adjoint(const tape::Instr& in, const Ctx& c) {
    if (!c.varies(in.a)) return;
    const double* nu = c.x + in.a; const double* n = c.x + in.b; const double go = c.g[in.out];
    double* gnu = c.g + in.a;
    for (uint32_t i = 0; i < in.n; ++i) gnu[i] += go * (1.0 - (n[i] > 0 ? n[i] / nu[i] : 0.0));
  }
};

// Gaussian constraints: K holds (aux_j, 1/σ_j) pairs then the constant Σ ln σ_j + ½ ln 2π.
struct GaussConstraint {
  static void forward(const tape::Instr& in, const Ctx& c) {
    const double* k = c.K + in.k; const uint32_t* idx = c.I + in.idx;
    double acc = 0;
    for (uint32_t j = 0; j < in.n; ++j) {
      double z = (c.x[idx[j]] - k[2 * j]) * k[2 * j + 1];
      acc += 0.5 * z * z;
    }
    c.x[in.out] = acc + k[2 * in.n];
  }
  static void adjoint(const tape::Instr& in, const Ctx& c) {
    const double* k = c.K + in.k; const uint32_t* idx = c.I + in.idx; const double go = c.g[in.out];
    for (uint32_t j = 0; j < in.n; ++j) {
      double inv_s = k[2 * j + 1];
      c.g[idx[j]] += go * (c.x[idx[j]] - k[2 * j]) * inv_s * inv_s;
    }
  }
};

// Poisson constraints: K holds (aux_j, τ_j) pairs then the constant Σ lnΓ(aux_j+1).
struct PoissonConstraint {
  static void forward(const tape::Instr& in, const Ctx& c) {
    const double* k = c.K + in.k; const uint32_t* idx = c.I + in.idx;
    double acc = 0;
    for (uint32_t j = 0; j < in.n; ++j) {
      double rate = c.x[idx[j]] * k[2 * j + 1];
      acc += rate - (k[2 * j] > 0 ? k[2 * j] * std::log(rate) : 0.0);
    }
    c.x[in.out] = acc + k[2 * in.n];
  }
  static void adjoint(const tape::Instr& in, const Ctx& c) {
    const double* k = c.K + in.k; const uint32_t* idx = c.I + in.idx; const double go = c.g[in.out];
    for (uint32_t j = 0; j < in.n; ++j) {
      double theta = c.x[idx[j]];
      c.g[idx[j]] += go * (k[2 * j + 1] - (k[2 * j] > 0 ? k[2 * j] / theta : 0.0));
    }
  }
};

struct Sum {
  static void forward(const tape::Instr& in, const Ctx& c) {
    const uint32_t* idx = c.I + in.idx;
    double acc = 0;
    for (uint32_t j = 0; j < in.n; ++j) acc += c.x[idx[j]];
    c.x[in.out] = acc;
  }
  static void adjoint(const tape::Instr& in, const Ctx& c) {
    const uint32_t* idx = c.I + in.idx; const double go = c.g[in.out];
    for (uint32_t j = 0; j < in.n; ++j)
      if (c.varies(idx[j])) c.g[idx[j]] += go;
  }
};

}  // namespace hs3fit::eval::kernels
