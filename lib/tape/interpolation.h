// Interpolation of systematic variations (pyhf semantics; SPEC §7.4). Shared by the tape
// kernels, the compiler (which precomputes the per-bin coefficients once) and the tests.
//
// Additive codes (0, 2, 4p) return a delta Δ(θ) added to the running yield; multiplicative
// codes (1, 4) return a factor F(θ). Each evaluator also returns dΔ/dθ (or dF/dθ) for the
// reverse sweep. θ0 = 1 (the ±1σ points) throughout.
#pragma once
#include <cmath>

#include "model/model.h"

namespace hs3fit::interp {

// Number of precomputed coefficients per element for each code.
constexpr int coefficient_count(model::Interp code) {
  switch (code) {
    case model::Interp::Code0: return 2;
    case model::Interp::Code1: return 2;
    case model::Interp::Code2: return 4;
    case model::Interp::Code4: return 8;
    case model::Interp::Code4p: return 4;
  }
  return 0;
}

// Fill the coefficients for nominal `nom` and variations `up` (θ=+1), `down` (θ=−1).
// For normsys pass nom = 1 and the hi/lo factors.
// Inline: the compiler calls it for every histosys bin. A non-positive ratio gives ln → −∞
// (pyhf would produce NaN there).
inline void fill_coefficients(model::Interp code, double nom, double up, double down, double* c) {
  switch (code) {
    case model::Interp::Code0:
      c[0] = up - nom;
      c[1] = nom - down;
      break;
    case model::Interp::Code1:
      c[0] = std::log(up / nom);
      c[1] = std::log(down / nom);
      break;
    case model::Interp::Code2:
      c[0] = 0.5 * (up + down) - nom;
      c[1] = 0.5 * (up - down);
      c[2] = up - nom;
      c[3] = nom - down;
      break;
    case model::Interp::Code4: {
      // Coefficients of 1 + Σ c_k θ^k matching value, first and second derivative of the
      // exponential extrapolation at θ = ±1 (pyhf code4, ROOT FlexibleInterpVar code 4/5).
      const double rp = up / nom, rm = down / nom;
      const double lp = std::log(rp), lm = std::log(rm);
      const double S0 = 0.5 * (rp + rm), A0 = 0.5 * (rp - rm);
      const double S1 = 0.5 * (rp * lp - rm * lm), A1 = 0.5 * (rp * lp + rm * lm);
      const double S2 = 0.5 * (rp * lp * lp + rm * lm * lm), A2 = 0.5 * (rp * lp * lp - rm * lm * lm);
      c[0] = (15 * A0 - 7 * S1 + A2) / 8;
      c[1] = (-24 + 24 * S0 - 9 * A1 + S2) / 8;
      c[2] = (-5 * A0 + 5 * S1 - A2) / 4;
      c[3] = (12 - 12 * S0 + 7 * A1 - S2) / 4;
      c[4] = (3 * A0 - 3 * S1 + A2) / 8;
      c[5] = (-8 + 8 * S0 - 5 * A1 + S2) / 8;
      c[6] = lp;
      c[7] = lm;
      break;
    }
    case model::Interp::Code4p: {
      const double ep = up - nom, em = nom - down;
      c[0] = 0.5 * (ep + em);
      c[1] = (ep - em) / 16;
      c[2] = ep;
      c[3] = em;
      break;
    }
  }
}


// code0: piecewise linear. c = [up−nom, nom−down].
inline double code0(double t, const double* c, double& d) {
  d = t >= 0 ? c[0] : c[1];
  return t * d;
}

// code1: piecewise exponential. c = [ln(up/nom), ln(down/nom)].
// F = (up/nom)^θ for θ ≥ 0, (down/nom)^(−θ) for θ < 0.
inline double code1(double t, const double* c, double& d) {
  double slope = t >= 0 ? c[0] : -c[1];
  double f = std::exp(slope * t);
  d = f * slope;
  return f;
}

// code2: quadratic inside |θ| ≤ 1, linear outside, as pyhf implements it
// (c = [a, b, up−nom, nom−down] with a = ½(up+down)−nom, b = ½(up−down)):
//   θ > 1: Δ = (b + 2a)(θ − 1) + (up − nom);  θ < −1: Δ = (b − 2a)(θ + 1) − (nom − down);
//   else  Δ = aθ² + bθ.
inline double code2(double t, const double* c, double& d) {
  const double a = c[0], b = c[1];
  if (t > 1) { d = b + 2 * a; return d * (t - 1) + c[2]; }
  if (t < -1) { d = b - 2 * a; return d * (t + 1) - c[3]; }
  d = 2 * a * t + b;
  return (a * t + b) * t;
}

// code4: 6th-order polynomial inside |θ| < 1, exponential outside (multiplicative).
// c = [c1..c6, ln(up/nom), ln(down/nom)]; F(θ) = 1 + Σ c_k θ^k inside.
inline double code4(double t, const double* c, double& d) {
  if (t >= 1) {
    double f = std::exp(c[6] * t);
    d = f * c[6];
    return f;
  }
  if (t <= -1) {
    double f = std::exp(-c[7] * t);
    d = -f * c[7];
    return f;
  }
  // Horner for value and derivative.
  double v = c[5], dv = 6 * c[5];
  v = v * t + c[4]; dv = dv * t + 5 * c[4];
  v = v * t + c[3]; dv = dv * t + 4 * c[3];
  v = v * t + c[2]; dv = dv * t + 3 * c[2];
  v = v * t + c[1]; dv = dv * t + 2 * c[1];
  v = v * t + c[0]; dv = dv * t + c[0];
  d = dv;
  return 1 + v * t;
}

// code4p: 6th-order polynomial inside |θ| < 1, linear outside (additive).
// c = [S, A, up−nom, nom−down], S = ½(e+ + e−), A = (e+ − e−)/16:
//   Δ = θ(S + θA(15 + θ²(3θ² − 10))) inside; θ·e+ for θ ≥ 1; θ·e− for θ ≤ −1.
inline double code4p(double t, const double* c, double& d) {
  if (t >= 1) { d = c[2]; return t * c[2]; }
  if (t <= -1) { d = c[3]; return t * c[3]; }
  const double S = c[0], A = c[1], t2 = t * t;
  d = S + A * t * (30 + t2 * (18 * t2 - 40));
  return t * (S + t * A * (15 + t2 * (3 * t2 - 10)));
}

// Reference evaluation (slow, for tests and the compiler's constant folding).
double evaluate(model::Interp code, double t, double nom, double up, double down, double* derivative = nullptr);

}  // namespace hs3fit::interp
