// gamma_dist (RooGamma) and generalized_normal_dist: the regularized incomplete gamma function
// P(a, x) that normalizes both (hs3/special.h) against closed forms and differences, and each
// distribution's −ln L against quadrature of its density, its gradient against differences, and
// the Gaussian special case of the generalized normal.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "hs3/special.h"
#include "test_support.h"
#include "workspace.h"

using hs3fit::hs3::gamma_p;

namespace {

using hs3test::num;
using hs3test::simpson;
using hs3test::spread;



struct Par {
  std::string name;
  double value, lo, hi;
};

// One distribution over x ∈ [lo, hi] with unbinned entries xs.
std::string workspace(const std::string& dist, double lo, double hi, const std::vector<double>& xs, const std::vector<Par>& pars) {
  std::string entries, points, axes;
  for (size_t i = 0; i < xs.size(); ++i) entries += (i ? ",[" : "[") + num(xs[i]) + "]";
  for (size_t i = 0; i < pars.size(); ++i) {
    points += (i ? "," : "") + std::string(R"({"name": ")") + pars[i].name + R"(", "value": )" + num(pars[i].value) + "}";
    axes += (i ? "," : "") + std::string(R"({"name": ")") + pars[i].name + R"(", "min": )" + std::to_string(pars[i].lo) +
            R"(, "max": )" + std::to_string(pars[i].hi) + "}";
  }
  return R"({"metadata": {"hs3_version": "0.2"}, "distributions": [)" + dist + R"(],
  "data": [{"name": "d", "type": "unbinned", "axes": [{"name": "x", "min": )" +
         std::to_string(lo) + R"(, "max": )" + std::to_string(hi) + R"(}], "entries": [)" + entries + R"(]}],
  "likelihoods": [{"name": "L", "distributions": ["f"], "data": ["d"]}],
  "parameter_points": [{"name": "init", "parameters": [)" + points + R"(]}],
  "domains": [{"name": "dom", "type": "product_domain", "axes": [)" + axes + R"(]}],
  "analyses": [{"name": "A", "likelihood": "L", "init": "init", "domains": ["dom"]}]})";
}

hs3fit::LoadedModel load_general(const std::string& path) {
  hs3fit::LoadOptions o;
  o.general_hs3 = true;
  return hs3fit::load_model(path, o);
}


// −ln L of `lm` at its initial point against −Σ ln(f(x)/∫f), the integral by Simpson's rule, and
// its gradient against Richardson differences.
void check_nll(hs3fit::LoadedModel& lm, const std::vector<double>& xs, const std::function<double(double)>& f, double lo, double hi,
               double rel = 1e-8) {
  const std::vector<double> x0 = lm.model.initial_values();
  const double M = simpson(f, lo, hi, 400000);
  double ref = 0;
  for (double x : xs) ref -= std::log(f(x) / M);
  CHECK(lm.objective(x0.data(), nullptr) == Approx(ref).epsilon(rel));
  hs3test::check_gradient(lm.objective, lm.model.parameters, x0);
}

}  // namespace

TEST_CASE("regularized incomplete gamma P(a, x): closed forms and exact derivatives", "[hs3][gamma]") {
  for (double x : {1e-3, 0.3, 1.0, 2.0, 4.5, 10.0, 30.0, 120.0}) {
    INFO("x " << x);
    CHECK(gamma_p(1, x) == Approx(1 - std::exp(-x)).margin(1e-15));
    CHECK(gamma_p(2, x) == Approx(1 - std::exp(-x) * (1 + x)).margin(1e-15));
    CHECK(gamma_p(3, x) == Approx(1 - std::exp(-x) * (1 + x + x * x / 2)).margin(1e-15));
    CHECK(gamma_p(0.5, x) == Approx(std::erf(std::sqrt(x))).margin(1e-15));
  }
  CHECK(gamma_p(2.5, 0) == 0);
  CHECK(gamma_p(2.5, -1) == 0);
  CHECK(std::isnan(gamma_p(0, 1)));
  for (double a : {0.3, 0.7, 1.0, 2.5, 7.0, 40.0}) {
    for (double x : {0.05, 0.5, 1.5, 3.0, 8.0, 30.0, 60.0}) {
      INFO("a " << a << " x " << x);
      double da = 0, dx = 0;
      gamma_p(a, x, &da, &dx);
      const double fa = hs3test::richardson_derivative([&](double v) { return gamma_p(v, x); }, a, 1e-3 * a);
      const double fx = hs3test::richardson_derivative([&](double v) { return gamma_p(a, v); }, x, 1e-3 * x);
      CHECK(da == Approx(fa).epsilon(1e-7).margin(1e-12));
      CHECK(dx == Approx(fx).epsilon(1e-7).margin(1e-12));
    }
  }
}

TEST_CASE("gamma_dist: -ln L against quadrature of RooGamma's shape, and its gradient", "[hs3][gamma]") {
  const std::string dist = R"({"name": "f", "type": "gamma_dist", "x": "x", "gamma": "g", "beta": "b", "mu": "m"})";
  const double g = 2.5, b = 1.2, m = 0.5;
  auto f = [&](double x) { return x > m ? std::pow(x - m, g - 1) * std::exp(-(x - m) / b) : 0.0; };
  // The axis above μ, and an axis that starts below μ (the density is 0 there).
  for (double lo : {1.0, 0.0}) {
    INFO("axis from " << lo);
    const std::vector<double> xs = spread(std::max(lo, m) + 0.01, 15.0, 60);
    hs3test::TempFile ws(workspace(dist, lo, 15.0, xs, {{"g", g, 0.5, 10}, {"b", b, 0.1, 10}, {"m", m, -1, 0.9}}));
    hs3fit::LoadedModel lm = load_general(ws.path());
    REQUIRE(lm.objective);
    check_nll(lm, xs, f, lo, 15.0, lo < m ? 1e-7 : 1e-9);
  }
}

TEST_CASE("generalized_normal_dist: the Gaussian case, quadrature on both sides of the mean, and the gradient", "[hs3][gamma]") {
  const std::string dist = R"({"name": "f", "type": "generalized_normal_dist", "x": "x", "mean": "m", "alpha": "a", "beta": "b"})";
  {
    // β = 2: a Gaussian with σ = α/√2, normalized in closed form over [−1, 4].
    const double m = 1.0, a = 1.3, s = a / std::sqrt(2.0);
    const std::vector<double> xs = spread(-1, 4, 50);
    hs3test::TempFile ws(workspace(dist, -1, 4, xs, {{"m", m, -3, 5}, {"a", a, 0.1, 5}, {"b", 2, 0.5, 5}}));
    hs3fit::LoadedModel lm = load_general(ws.path());
    const double M = s * std::sqrt(M_PI / 2) * (std::erf((4 - m) / (s * std::sqrt(2.0))) - std::erf((-1 - m) / (s * std::sqrt(2.0))));
    double ref = 0;
    for (double x : xs) ref += (x - m) * (x - m) / (2 * s * s) + std::log(M);
    const std::vector<double> x0 = lm.model.initial_values();
    CHECK(lm.objective(x0.data(), nullptr) == Approx(ref).epsilon(1e-12));
  }
  // β = 1.5 over an axis containing the mean, and over one entirely above it.
  for (double lo : {-1.0, 2.0}) {
    INFO("axis from " << lo);
    const double m = 1.0, a = 1.3, b = 1.5;
    auto f = [&](double x) { return std::exp(-std::pow(std::abs(x - m) / a, b)); };
    const std::vector<double> xs = spread(lo, 6, 50);
    hs3test::TempFile ws(workspace(dist, lo, 6, xs, {{"m", m, -3, 1.9}, {"a", a, 0.1, 5}, {"b", b, 0.5, 5}}));
    hs3fit::LoadedModel lm = load_general(ws.path());
    check_nll(lm, xs, f, lo, 6.0, 1e-8);
  }
}
