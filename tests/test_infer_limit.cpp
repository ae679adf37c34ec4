// CLs upper limits: the root finder on a known function, the bracketing rules, and the
// asymptotic limits of every pyhf reference case against pyhf 0.7.6's upper_limit.
#include <chrono>
#include <cmath>
#include <fmt/format.h>
#include <iostream>

#include "infer/asymptotics.h"
#include "infer/calculator.h"
#include "infer/root_finding.h"
#include "infer/upper_limit.h"
#include "test_infer_support.h"

using namespace hs3fit;

TEST_CASE("Brent's method finds roots to the requested tolerance", "[infer]") {
  int calls = 0;
  auto f = [&](double x) { ++calls; return std::cos(x) - x; };  // root 0.7390851332151607 (Dottie number)
  infer::RootOptions o;
  o.rtol = 1e-12;
  infer::Root r = infer::brent_root(f, 0.0, 1.0, f(0.0), f(1.0), o);
  CHECK(r.converged);
  CHECK(r.x == Approx(0.7390851332151607).epsilon(1e-11));
  CHECK(calls < 15);
  // a step function: converges to the jump
  auto step = [](double x) { return x < 0.3 ? 1.0 : -1.0; };
  infer::Root s = infer::brent_root(step, 0.0, 1.0, 1.0, -1.0, o);
  CHECK(s.x == Approx(0.3).margin(1e-10));
  // no sign change: not converged
  CHECK_FALSE(infer::brent_root(f, 0.0, 0.5, f(0.0), f(0.5), o).converged);
}

TEST_CASE("upper_limit solves each CLs curve and extends the search range upwards", "[infer]") {
  // CLs_k(μ) = exp(−μ / s_k): the limit is s_k · ln(20), the largest beyond the initial range.
  const std::array<double, 6> scale = {1.0, 0.5, 0.8, 1.2, 2.0, 4.0};
  infer::ClsFunction f = [&](double mu) {
    infer::ClsCurves c;
    for (size_t k = 0; k < 6; ++k) c[k] = std::exp(-mu / scale[k]);
    return c;
  };
  infer::UpperLimitOptions o;
  o.lo = 0;
  o.hi = 5;
  o.rtol = 1e-9;
  infer::UpperLimitResult r = infer::upper_limit(f, o);
  CHECK(r.converged);
  CHECK(r.obs == Approx(std::log(20.0)).epsilon(1e-8));
  for (size_t k = 0; k < 5; ++k) CHECK(r.exp[k] == Approx(scale[k + 1] * std::log(20.0)).epsilon(1e-8));
  CHECK(r.tested.count(10.0) == 1);  // hi doubled once: 4 ln 20 = 12 > 10 needs 20
  CHECK(r.tested.count(20.0) == 1);
  CHECK(!r.warnings.empty());  // limit above the initial range
  // a curve already below the level at the lower end: limit at lo, with a warning
  infer::ClsFunction g = [](double mu) {
    infer::ClsCurves c;
    c.fill(std::exp(-mu));
    c[0] = 0.01;
    return c;
  };
  infer::UpperLimitResult rg = infer::upper_limit(g, o);
  CHECK(rg.obs == 0.0);
  CHECK(rg.exp[2] == Approx(std::log(20.0)).epsilon(1e-8));
}

TEST_CASE("asymptotic CLs upper limits match pyhf's upper_limit on every reference case", "[infer][pyhf]") {
  double worst = 0;
  for (const infertest::PyhfReference& ref : infertest::pyhf_references()) {
    INFO(ref.id);
    LoadedModel lm = load_model(ref.workspace, ref.load_options());
    const auto t0 = std::chrono::steady_clock::now();
    infer::AsymptoticCalculator calc(lm.model);
    infer::UpperLimitOptions o;
    o.lo = o.hi = std::nan("");
    infer::UpperLimitResult r = infer::asymptotic_upper_limit(calc, o);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CHECK(r.converged);
    CHECK(calc.failed_fits() == 0);
    double dev = std::fabs(r.obs / ref.limit_obs - 1);
    CHECK(r.obs == Approx(ref.limit_obs).epsilon(5e-3));
    for (size_t k = 0; k < 5; ++k) {
      INFO("expected band " << infer::kBandNames[k]);
      CHECK(r.exp[k] == Approx(ref.limit_exp[k]).epsilon(5e-3));
      dev = std::max(dev, std::fabs(r.exp[k] / ref.limit_exp[k] - 1));
    }
    worst = std::max(worst, dev);
    std::cout << fmt::format("upper limit {:40s} obs {:.6f} (pyhf {:.6f}) exp median {:.6f} (pyhf {:.6f})  max rel dev {:.1e}  "
                             "{} hypotests, {} fits, {:.3f} s\n",
                             ref.id, r.obs, ref.limit_obs, r.exp[2], ref.limit_exp[2], dev, r.tested.size(), calc.fits(), seconds);
  }
  std::cout << fmt::format("upper limits: max relative deviation from pyhf {:.2e}\n", worst);
}
