// CLs upper limits: the POI value where CLs(μ) = 1 − CL, for the observed CLs and for each of
// the five expected bands, by bracketing and Brent root finding on a cache of hypothesis tests
// (pyhf.infer.intervals.upper_limits.toms748_scan, with Brent instead of TOMS 748: same
// bracket rule, same tolerance semantics |bracket| < atol + rtol·|μ|).
//
// Bracketing: the search starts on [lo, hi] (the POI's bounds). While a curve is still above
// the level at hi, hi is doubled (up to `max_poi`); a curve below the level at lo puts that
// limit at lo. Initial guesses, when given, are tested first and can stand in for hi. Each curve is then solved on the tightest bracket among all points tested so
// far, so later curves reuse earlier hypothesis tests.
#pragma once
#include <array>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace hs3fit::infer {

// CLs at one POI value: [0] observed, [1..5] expected −2σ … +2σ.
using ClsCurves = std::array<double, 6>;
using ClsFunction = std::function<ClsCurves(double poi)>;

struct UpperLimitOptions {
  double cl = 0.95;      // the level is 1 − cl
  double lo = 0, hi = 10;  // initial search range (asymptotic_upper_limit: NaN = the POI's bounds)
  double rtol = 1e-5;    // pyhf's upper_limit uses toms748 with rtol 1e-5 here (atol 2e-12)
  double atol = 2e-12;
  double max_poi = 1e7;  // give up doubling hi beyond this
  int max_hypotests = 400;
  // CLs is known to be 1 at lo (q̃μ with lo = 0): no hypothesis test there.
  bool cls_is_one_at_lo = false;
  // Points tested first (guesses of the limits, e.g. asymptotic ones for toys); when one of
  // them is below the level on every curve, the range is not extended beyond it.
  std::vector<double> initial_points;
  // Root-find Φ⁻¹(CLs) − Φ⁻¹(1 − cl) instead of CLs − (1 − cl): the same roots, but nearly
  // linear in μ for asymptotic CLs (Φ⁻¹ of a Gaussian tail), so the interpolation steps of
  // Brent's method land close to the root (not for toys: their CLs can be 0 or 1).
  bool probit = false;
};

struct UpperLimitResult {
  double obs = 0;
  std::array<double, 5> exp{};  // −2σ … +2σ
  std::map<double, ClsCurves> tested;  // every hypothesis test, by POI value
  std::vector<std::string> warnings;
  bool converged = true;
  double level = 0.05;
};

UpperLimitResult upper_limit(const ClsFunction& cls, const UpperLimitOptions& options);

class AsymptoticCalculator;
// Asymptotic CLs limits with the calculator's test statistic; a NaN lo/hi is taken from the
// POI's bounds (pyhf: suggested_bounds of the POI).
UpperLimitResult asymptotic_upper_limit(AsymptoticCalculator& calc, UpperLimitOptions options);

}  // namespace hs3fit::infer
