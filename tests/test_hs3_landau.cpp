// landau_dist: the CERNLIB DENLAN/DISLAN approximations (hs3/landau.h) against the Landau
// density's defining integral, the distribution function against quadrature of the density, and
// the HS3 distribution (normalization over the data axis, −ln L, gradient, fit).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "hs3/landau.h"
#include "test_support.h"
#include "workspace.h"

namespace {

using hs3test::num;
using hs3test::simpson;
using hs3test::spread;



// φ(λ) = (1/π) ∫_0^∞ exp(−t ln t − λ t) sin(π t) dt, by quadrature (the integrand is below
// 1e-40 beyond t = 60 for the λ used here).
double landau_by_definition(double lambda) {
  auto f = [&](double t) { return t <= 0 ? 0.0 : std::exp(-t * std::log(t) - lambda * t) * std::sin(M_PI * t); };
  return simpson(f, 0.0, 60.0, 200000) / M_PI;
}

std::string landau_workspace(const std::vector<double>& xs, double lo, double hi) {
  std::string entries;
  for (size_t i = 0; i < xs.size(); ++i) entries += (i ? ",[" : "[") + num(xs[i]) + "]";
  return R"({"metadata": {"hs3_version": "0.2"},
  "distributions": [{"name": "land", "type": "landau_dist", "x": "x", "mean": "m", "sigma": "s"}],
  "data": [{"name": "d", "type": "unbinned", "axes": [{"name": "x", "min": )" +
         std::to_string(lo) + R"(, "max": )" + std::to_string(hi) + R"(}], "entries": [)" + entries + R"(]}],
  "likelihoods": [{"name": "L", "distributions": ["land"], "data": ["d"]}],
  "parameter_points": [{"name": "init", "parameters": [{"name": "m", "value": 3.0}, {"name": "s", "value": 1.5}]}],
  "domains": [{"name": "dom", "type": "product_domain", "axes": [{"name": "m", "min": -5, "max": 15}, {"name": "s", "min": 0.1, "max": 10}]}],
  "analyses": [{"name": "A", "likelihood": "L", "init": "init", "domains": ["dom"], "parameters_of_interest": ["m"]}]})";
}

hs3fit::LoadedModel load_general(const std::string& path) {
  hs3fit::LoadOptions o;
  o.general_hs3 = true;
  return hs3fit::load_model(path, o);
}

}  // namespace

TEST_CASE("Landau density (DENLAN) equals its defining integral", "[hs3][landau]") {
  // Measured: DENLAN is within 2.7e-9 of the integral on λ ∈ [−2.5, 45] (steps of 0.25).
  for (double lambda : {-2.5, -1.0, -0.5, 0.0, 1.0, 3.5, 4.9, 5.1, 11.9, 12.1, 45.0}) {
    INFO("lambda " << lambda);
    const double ref = landau_by_definition(lambda);
    CHECK(hs3fit::hs3::landau_pdf(lambda) == Approx(ref).epsilon(1e-8));
  }
  // The mode: φ'(λ) changes sign at λ ≈ −0.22278 (ROOT's `mean` is not the most probable value).
  double d1 = 0, d2 = 0;
  hs3fit::hs3::landau_pdf(-0.2278, &d1);
  hs3fit::hs3::landau_pdf(-0.2178, &d2);
  CHECK(d1 > 0);
  CHECK(d2 < 0);
}

TEST_CASE("Landau distribution function (DISLAN) equals the integral of the density; derivatives are exact", "[hs3][landau]") {
  // Φ(b) − Φ(a) against Simpson quadrature of φ; Φ(−8) ≈ 0 (e^{−e^{7}}), so it anchors the integral.
  for (double b : {-3.0, -1.2, -0.3, 0.7, 2.5, 3.9, 4.1, 9.0, 30.0}) {
    INFO("b " << b);
    const double integral = simpson([](double l) { return hs3fit::hs3::landau_pdf(l); }, -8.0, b, 200000);
    // Measured: within 2e-7 (DISLAN's own accuracy) on b ∈ [−3, 30].
    CHECK(hs3fit::hs3::landau_cdf(b) - hs3fit::hs3::landau_cdf(-8.0) == Approx(integral).epsilon(5e-7).margin(1e-9));
  }
  CHECK(hs3fit::hs3::landau_cdf(1e6) == Approx(1.0).epsilon(1e-5));
  // Derivatives of the approximations against central differences.
  for (double l : {-6.0, -3.0, -0.7, 0.3, 2.0, 4.5, 7.0, 20.0, 100.0, 400.0}) {
    INFO("lambda " << l);
    const double h = 1e-5 * std::max(1.0, std::abs(l));
    double dp = 0, dc = 0;
    hs3fit::hs3::landau_pdf(l, &dp);
    hs3fit::hs3::landau_cdf(l, &dc);
    const double fp = (hs3fit::hs3::landau_pdf(l + h) - hs3fit::hs3::landau_pdf(l - h)) / (2 * h);
    const double fc = (hs3fit::hs3::landau_cdf(l + h) - hs3fit::hs3::landau_cdf(l - h)) / (2 * h);
    CHECK(dp == Approx(fp).epsilon(1e-6).margin(1e-12));
    CHECK(dc == Approx(fc).epsilon(1e-6).margin(1e-12));
    CHECK(dc == Approx(hs3fit::hs3::landau_pdf(l)).epsilon(1e-4).margin(1e-9));  // DISLAN' ≈ DENLAN
  }
}

TEST_CASE("landau_dist: -ln L with the axis normalization, its gradient, and a fit", "[hs3][landau]") {
  // Events from a Landau(3, 1.5) on [0, 20] (inverse-CDF sampling by bisection on DISLAN).
  std::vector<double> xs;
  const double m = 3.0, s = 1.5, lo = 0.0, hi = 20.0;
  const double clo = hs3fit::hs3::landau_cdf((lo - m) / s), chi = hs3fit::hs3::landau_cdf((hi - m) / s);
  for (int i = 0; i < 400; ++i) {
    const double u = clo + (chi - clo) * (i + 0.5) / 400.0;
    double a = lo, b = hi;
    for (int k = 0; k < 60; ++k) {
      const double c = 0.5 * (a + b);
      (hs3fit::hs3::landau_cdf((c - m) / s) < u ? a : b) = c;
    }
    xs.push_back(0.5 * (a + b));
  }
  hs3test::TempFile ws(landau_workspace(xs, lo, hi));
  hs3fit::LoadedModel lm = load_general(ws.path());
  REQUIRE(lm.objective);
  const std::vector<double> x0 = lm.model.initial_values();
  // −ln L = −Σ ln(φ((x − m)/s) / M), M = ∫_lo^hi φ((x − m)/s) dx by quadrature.
  const double M = simpson([&](double x) { return hs3fit::hs3::landau_pdf((x - m) / s); }, lo, hi, 200000);
  double ref = 0;
  for (double x : xs) ref -= std::log(hs3fit::hs3::landau_pdf((x - m) / s) / M);
  CHECK(lm.objective(x0.data(), nullptr) == Approx(ref).epsilon(1e-7));
  hs3test::check_gradient(lm.objective, lm.model.parameters, x0);
  // A fit from elsewhere returns to the generating values (quantile data: close to exact).
  auto fit = hs3test::run_hs3fit("fit " + hs3test::quote(ws.path()) + " --set m=4,s=2 --json");
  INFO(fit.err);
  REQUIRE(fit.exit_code == 0);
  auto doc = hs3test::parse_json(fit.out);
  CHECK(doc.root().at("mle_parameters").at("m").as_number() == Approx(m).margin(0.02));
  CHECK(doc.root().at("mle_parameters").at("s").as_number() == Approx(s).margin(0.02));
}
