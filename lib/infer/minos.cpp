#include "infer/minos.h"

#include <algorithm>
#include <cmath>
#include <spdlog/spdlog.h>

#include "core/error.h"
#include "infer/root_finding.h"

namespace hs3fit::infer {

MinosInterval minos(Likelihood& l, const fit::FitResult& best, uint32_t param, double step, const MinosOptions& o) {
  const model::Parameter& p = l.model().parameters.at(param);
  if (p.fixed) throw Error(ErrorKind::Usage, "--minos", "parameter '" + p.name + "' is fixed");
  MinosInterval out;
  out.param = param;
  out.value = best.values[param];
  out.threshold = o.threshold;
  if (!(step > 0) || !std::isfinite(step)) step = p.step > 0 ? p.step : std::max(0.1, 0.1 * std::fabs(out.value));
  Profile profile(l, param, best);
  // g(θ) = 2ΔNLL(θ) − threshold; g(θ̂) = −threshold.
  auto g = [&](double x) {
    const fit::FitResult r = profile.at(x);
    if (!usable(r)) {
      out.fits_converged = false;
      spdlog::warn("MINOS {}: conditional fit at {} = {:g} did not converge ({})", p.name, p.name, x, r.status);
    }
    return 2 * (r.nll - best.nll) - o.threshold;
  };
  RootOptions ro;
  ro.atol = o.rel_tolerance * step;
  ro.rtol = 0;
  ro.max_evaluations = o.max_fits;
  for (int side : {-1, 1}) {
    const double bound = side < 0 ? p.lo : p.hi;
    double inner = out.value, g_inner = -o.threshold;
    double d = step;
    bool found = false, at_limit = false;
    double end = out.value;
    for (int k = 0; k < 60 && profile.fits() < o.max_fits; ++k) {
      double x = out.value + side * d;
      bool on_bound = false;
      if ((side < 0 && x <= bound) || (side > 0 && x >= bound)) {
        x = bound;
        on_bound = true;
      }
      if (x == inner) {  // θ̂ itself on the bound
        at_limit = true;
        end = x;
        break;
      }
      const double gx = g(x);
      if (gx >= 0) {
        const Root r = brent_root(g, inner, x, g_inner, gx, ro);
        end = r.x;
        found = r.converged;
        break;
      }
      inner = x;
      g_inner = gx;
      if (on_bound) {
        at_limit = true;
        end = x;
        break;
      }
      // Step out: for a parabolic profile the crossing is at d·√(threshold / (g + threshold)).
      const double ratio = std::sqrt(o.threshold / std::max(gx + o.threshold, 1e-12 * o.threshold));
      d *= std::clamp(1.2 * ratio, 1.5, 4.0);
    }
    if (side < 0) {
      out.lower = end - out.value;
      out.lower_valid = found;
      out.lower_at_limit = at_limit;
    } else {
      out.upper = end - out.value;
      out.upper_valid = found;
      out.upper_at_limit = at_limit;
    }
  }
  out.fits = profile.fits();
  return out;
}

}  // namespace hs3fit::infer
