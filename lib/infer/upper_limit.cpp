#include "infer/upper_limit.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>

#include "core/error.h"
#include "infer/asymptotics.h"
#include "infer/calculator.h"
#include "infer/root_finding.h"

namespace hs3fit::infer {

namespace {
const char* curve_name(size_t k) {
  static const char* names[] = {"observed", "expected -2sigma", "expected -1sigma", "expected median", "expected +1sigma",
                                "expected +2sigma"};
  return names[k];
}
}  // namespace

UpperLimitResult upper_limit(const ClsFunction& cls, const UpperLimitOptions& o) {
  UpperLimitResult r;
  r.level = std::round((1 - o.cl) * 1e12) / 1e12;  // 0.05 for cl = 0.95, not 0.050000000000000044
  const double level = r.level;
  if (!(o.hi > o.lo)) throw Error(ErrorKind::Usage, "--bounds", "upper-limit search range is empty");
  auto eval = [&](double mu) -> const ClsCurves& {
    auto it = r.tested.find(mu);
    if (it != r.tested.end()) return it->second;
    if (static_cast<int>(r.tested.size()) >= o.max_hypotests)
      throw Error(ErrorKind::Usage, "--max-hypotests", fmt::format("upper limit needs more than {} hypothesis tests", o.max_hypotests));
    return r.tested.emplace(mu, cls(mu)).first->second;
  };
  if (o.cls_is_one_at_lo) {
    ClsCurves one;
    one.fill(1.0);
    r.tested.emplace(o.lo, one);
  }
  const ClsCurves& at_lo = eval(o.lo);
  std::array<bool, 6> below_at_lo{};
  for (size_t k = 0; k < 6; ++k) below_at_lo[k] = at_lo[k] < level;

  auto all_below = [level](const ClsCurves& v) {
    for (double x : v)
      if (x >= level) return false;
    return true;
  };
  for (double mu : o.initial_points)
    if (mu > o.lo) eval(mu);
  double hi = o.hi;
  bool bracketed = false;
  for (const auto& [mu, v] : r.tested) {
    if (mu > o.lo && all_below(v)) {
      hi = mu;
      bracketed = true;
      break;
    }
  }
  while (!bracketed) {
    bracketed = all_below(eval(hi));
    if (bracketed || hi * 2 > o.max_poi) break;
    hi *= 2;
  }
  if (hi > o.hi) r.warnings.push_back(fmt::format("the search range was extended beyond the POI's upper bound {:g} to {:g}", o.hi, hi));

  RootOptions ro;
  ro.atol = o.atol;
  ro.rtol = o.rtol;
  ro.max_evaluations = o.max_hypotests;
  for (size_t k = 0; k < 6; ++k) {
    double limit = std::numeric_limits<double>::quiet_NaN();
    if (below_at_lo[k]) {
      limit = o.lo;
      r.warnings.push_back(fmt::format("{} CLs is below {:g} already at the lower end of the range, {:g}: limit set there", curve_name(k), level, o.lo));
    } else {
      // Tightest bracket: the point closest above the level (value ≥ level, smallest) and the
      // point closest below it (value < level, largest), as pyhf's best_bracket.
      double a = std::numeric_limits<double>::quiet_NaN(), b = a, fa = 0, fb = 0;
      for (const auto& [mu, v] : r.tested) {
        const double f = v[k] - level;
        if (!std::isfinite(f)) continue;
        if (f >= 0 && (std::isnan(a) || f < fa)) { a = mu; fa = f; }
        if (f < 0 && (std::isnan(b) || f > fb)) { b = mu; fb = f; }
      }
      if (std::isnan(b)) {
        limit = hi;
        r.converged = false;
        r.warnings.push_back(fmt::format("{} CLs stays above {:g} up to POI = {:g}: no limit found", curve_name(k), level, hi));
      } else if (std::isnan(a)) {
        r.converged = false;
        r.warnings.push_back(fmt::format("{} CLs has no point above {:g}", curve_name(k), level));
      } else {
        auto g = [&](double value) {
          if (!o.probit) return value - level;
          return normal_quantile(std::clamp(value, 1e-300, 1 - 1e-16)) - normal_quantile(level);
        };
        Root root = brent_root([&](double mu) { return g(eval(mu)[k]); }, a, b, g(fa + level), g(fb + level), ro);
        limit = root.x;
        if (!root.converged) {
          r.converged = false;
          r.warnings.push_back(fmt::format("root finding for the {} limit did not converge (last bracket end {:g})", curve_name(k), root.x));
        }
      }
      if (std::isfinite(limit) && limit > o.hi)
        r.warnings.push_back(fmt::format("{} limit {:.6g} is above the POI's upper bound {:g}", curve_name(k), limit, o.hi));
    }
    if (k == 0) r.obs = limit; else r.exp[k - 1] = limit;
  }
  return r;
}

UpperLimitResult asymptotic_upper_limit(AsymptoticCalculator& calc, UpperLimitOptions o) {
  const model::Parameter& poi = calc.model().parameters[calc.poi()];
  if (std::isnan(o.lo)) o.lo = std::isfinite(poi.lo) ? poi.lo : 0.0;
  if (std::isnan(o.hi)) o.hi = std::isfinite(poi.hi) ? poi.hi : std::max(1.0, o.lo + 1.0);
  // q̃μ at μ = 0 on a POI bounded at 0: q̃ = q̃_A = 0, CLs = 1 (no fit needed).
  o.cls_is_one_at_lo = calc.test_stat() == TestStat::QmuTilde && o.lo == 0;
  o.probit = true;
  return upper_limit(
      [&calc](double mu) {
        const HypotestResult h = calc.hypotest(mu);
        return ClsCurves{h.obs.cls, h.exp[0].cls, h.exp[1].cls, h.exp[2].cls, h.exp[3].cls, h.exp[4].cls};
      },
      o);
}

}  // namespace hs3fit::infer
