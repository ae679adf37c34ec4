#include "tape/interpolation.h"

namespace hs3fit::interp {

namespace {
// ln with a guard: a non-positive ratio gives ln → −∞; pyhf would produce NaN there.
double safe_log(double x) { return std::log(x); }
}  // namespace

void fill_coefficients(model::Interp code, double nom, double up, double down, double* c) {
  switch (code) {
    case model::Interp::Code0:
      c[0] = up - nom;
      c[1] = nom - down;
      break;
    case model::Interp::Code1:
      c[0] = safe_log(up / nom);
      c[1] = safe_log(down / nom);
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
      const double lp = safe_log(rp), lm = safe_log(rm);
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

double evaluate(model::Interp code, double t, double nom, double up, double down, double* derivative) {
  double c[8];
  fill_coefficients(code, nom, up, down, c);
  double d = 0, v = 0;
  switch (code) {
    case model::Interp::Code0: v = code0(t, c, d); break;
    case model::Interp::Code1: v = code1(t, c, d); break;
    case model::Interp::Code2: v = code2(t, c, d); break;
    case model::Interp::Code4: v = code4(t, c, d); break;
    case model::Interp::Code4p: v = code4p(t, c, d); break;
  }
  if (derivative) *derivative = d;
  return v;
}

}  // namespace hs3fit::interp
