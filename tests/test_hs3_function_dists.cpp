// Densities built from functions or shapes without a closed-form normalization elsewhere:
// power_sum_dist (closed form), legacy_exp_poly_dist, density_function_dist,
// log_density_function_dist, rate_density_dist and weighted_sum_dist (numeric normalization),
// and the functions weighted_sum and roorecursivefraction_dist — each −ln L against an
// independent computation (closed forms or Simpson quadrature in the test), with gradients.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "test_support.h"
#include "workspace.h"

namespace {

using hs3test::num;
using hs3test::simpson;
using hs3test::spread;




// Distributions `dists` (the paired one is "f") and functions over x ∈ [lo, hi] with entries xs;
// parameters with values (and generous domains).
std::string workspace(const std::string& dists, const std::string& functions, double lo, double hi, const std::vector<double>& xs,
                      const std::vector<std::pair<std::string, double>>& pars) {
  std::string entries, points, axes;
  for (size_t i = 0; i < xs.size(); ++i) entries += (i ? ",[" : "[") + num(xs[i]) + "]";
  for (size_t i = 0; i < pars.size(); ++i) {
    points += (i ? "," : "") + std::string(R"({"name": ")") + pars[i].first + R"(", "value": )" + num(pars[i].second) + "}";
    axes += (i ? "," : "") + std::string(R"({"name": ")") + pars[i].first + R"(", "min": -100, "max": 100})";
  }
  return R"({"metadata": {"hs3_version": "0.2"}, "distributions": [)" + dists + R"(], "functions": [)" + functions + R"(],
  "data": [{"name": "d", "type": "unbinned", "axes": [{"name": "x", "min": )" + num(lo) + R"(, "max": )" + num(hi) +
         R"(}], "entries": [)" + entries + R"(]}],
  "likelihoods": [{"name": "L", "distributions": ["f"], "data": ["d"]}],
  "parameter_points": [{"name": "init", "parameters": [)" + points + R"(]}],
  "domains": [{"name": "dom", "type": "product_domain", "axes": [)" + axes + R"(]}],
  "analyses": [{"name": "A", "likelihood": "L", "init": "init", "domains": ["dom"]}]})";
}

hs3fit::LoadedModel load_general(const std::string& text, hs3test::TempFile& file) {
  file.write(text);
  hs3fit::LoadOptions o;
  o.general_hs3 = true;
  return hs3fit::load_model(file.path(), o);
}

// −ln L at the initial point equals `ref`; the gradient equals Richardson differences.
void check(hs3fit::LoadedModel& lm, double ref, double rel) {
  const std::vector<double> x0 = lm.model.initial_values();
  CHECK(lm.objective(x0.data(), nullptr) == Approx(ref).epsilon(rel));
  hs3test::check_gradient(lm.objective, lm.model.parameters, x0);
}

double nll_with_quadrature(const std::vector<double>& xs, const std::function<double(double)>& f, double lo, double hi) {
  const double M = simpson(f, lo, hi, 200000);
  double r = 0;
  for (double x : xs) r -= std::log(f(x) / M);
  return r;
}

}  // namespace

TEST_CASE("power_sum_dist: closed-form normalization, exponents as parameters, gradient", "[hs3][functions]") {
  hs3test::TempFile file;
  const auto xs = spread(1, 5, 40);
  auto lm = load_general(workspace(R"({"name": "f", "type": "power_sum_dist", "x": "x", "coefficients": ["c1", 0.5, "c3"], "exponents": [0.5, "e2", -1]})",
                                   "", 1, 5, xs, {{"c1", 2.0}, {"e2", 2.0}, {"c3", 0.7}}),
                         file);
  check(lm, nll_with_quadrature(xs, [](double x) { return 2 * std::sqrt(x) + 0.5 * x * x + 0.7 / x; }, 1, 5), 1e-10);
}

TEST_CASE("legacy_exp_poly_dist: exp of a polynomial, with lowestOrder, normalized numerically", "[hs3][functions]") {
  hs3test::TempFile file;
  const auto xs = spread(0, 8, 40);
  for (int lowest : {0, 1}) {
    INFO("lowestOrder " << lowest);
    auto lm = load_general(workspace(R"({"name": "f", "type": "legacy_exp_poly_dist", "x": "x", "lowestOrder": )" + std::to_string(lowest) +
                                         R"(, "coefficients": ["a", -0.3, "b"]})",
                                     "", 0, 8, xs, {{"a", 0.2}, {"b", 0.02}}),
                           file);
    auto f = [&](double x) { return std::exp(std::pow(x, lowest) * (0.2 - 0.3 * x + 0.02 * x * x)); };
    check(lm, nll_with_quadrature(xs, f, 0, 8), 1e-10);
  }
}

TEST_CASE("density_function_dist and log_density_function_dist: a function as the density", "[hs3][functions]") {
  hs3test::TempFile file;
  const auto xs = spread(0, 3, 30);
  {
    auto lm = load_general(workspace(R"({"name": "f", "type": "density_function_dist", "function": "g"})",
                                     R"({"name": "g", "type": "generic_function", "expression": "x*x + a"})", 0, 3, xs, {{"a", 0.4}}),
                           file);
    check(lm, nll_with_quadrature(xs, [](double x) { return x * x + 0.4; }, 0, 3), 1e-10);
  }
  {
    // e^{−b x}: an exponential, normalized in closed form by the test.
    auto lm = load_general(workspace(R"({"name": "f", "type": "log_density_function_dist", "function": "g"})",
                                     R"({"name": "g", "type": "generic_function", "expression": "-b*x"})", 0, 3, xs, {{"b", 0.8}}),
                           file);
    double ref = 0;
    for (double x : xs) ref -= -0.8 * x - std::log((1 - std::exp(-0.8 * 3)) / 0.8);
    check(lm, ref, 1e-12);
  }
  {
    // selfNormalized (ROOT's RooWrapperPdf flag): the function is taken as normalized.
    auto lm = load_general(workspace(R"({"name": "f", "type": "density_function_dist", "function": "g", "selfNormalized": true})",
                                     R"({"name": "g", "type": "generic_function", "expression": "x*x + a"})", 0, 3, xs, {{"a", 0.4}}),
                           file);
    double ref = 0;
    for (double x : xs) ref -= std::log(x * x + 0.4);
    check(lm, ref, 1e-12);
  }
}

TEST_CASE("rate_density_dist and extended weighted_sum_dist: ln L = sum ln f(x_j) - integral of f", "[hs3][functions]") {
  hs3test::TempFile file;
  const auto xs = spread(0, 10, 50);
  {
    auto lm = load_general(workspace(R"({"name": "f", "type": "rate_density_dist", "x": "x", "density": "g"})",
                                     R"({"name": "g", "type": "generic_function", "expression": "exp(-x/tau)*n0"})", 0, 10, xs,
                                     {{"n0", 12.0}, {"tau", 3.0}}),
                           file);
    double ref = 12.0 * 3.0 * (1 - std::exp(-10 / 3.0));
    for (double x : xs) ref -= std::log(12.0 * std::exp(-x / 3.0));
    check(lm, ref, 1e-12);
  }
  {
    // Σ c_i g_i with g_1 = 1, g_2 = x (RooRealSumPdf), extended: ∫ = 10 c1 + 50 c2.
    auto lm = load_general(workspace(R"({"name": "f", "type": "weighted_sum_dist", "samples": ["one", "lin"], "coefficients": ["c1", "c2"], "extended": true})",
                                     R"({"name": "one", "type": "generic_function", "expression": "1"}, {"name": "lin", "type": "generic_function", "expression": "x"})",
                                     0, 10, xs, {{"c1", 3.0}, {"c2", 0.6}}),
                           file);
    double ref = 10 * 3.0 + 50 * 0.6;
    for (double x : xs) ref -= std::log(3.0 + 0.6 * x);
    check(lm, ref, 1e-12);
  }
}

TEST_CASE("functions weighted_sum and roorecursivefraction_dist", "[hs3][functions]") {
  hs3test::TempFile file;
  const auto xs = spread(0, 4, 30);
  // A mixture of a uniform and a linear density, with the fraction
  // a_0 (1 − a_1) = 0.8 × 0.75 = 0.6 from roorecursivefraction_dist, the linear one's shape a
  // weighted_sum 0.5·1 + 2·x.
  auto lm = load_general(workspace(R"({"name": "f", "type": "mixture_dist", "summands": ["u", "w"], "coefficients": ["frac"]},
      {"name": "u", "type": "uniform_dist", "x": ["x"]},
      {"name": "w", "type": "density_function_dist", "function": "ws"})",
                                   R"({"name": "frac", "type": "roorecursivefraction_dist", "list": ["a0", "a1"]},
      {"name": "ws", "type": "weighted_sum", "samples": ["one", "lin"], "coefficients": [0.5, "k"]},
      {"name": "one", "type": "generic_function", "expression": "1"}, {"name": "lin", "type": "generic_function", "expression": "x"})",
                                   0, 4, xs, {{"a0", 0.8}, {"a1", 0.25}, {"k", 2.0}}),
                         file);
  const double frac = 0.8 * 0.75, M = 0.5 * 4 + 2.0 * 8;
  double ref = 0;
  for (double x : xs) ref -= std::log(frac / 4 + (1 - frac) * (0.5 + 2.0 * x) / M);
  check(lm, ref, 1e-12);
}

TEST_CASE("functions integral and derivative; efficiency_product_pdf_dist", "[hs3][functions]") {
  hs3test::TempFile file;
  const auto xs = spread(0, 3, 30);
  // integral: ∫_0^2 a y² dy = 8a/3 over the domain of y, added to the density x² + I.
  {
    const std::string text = workspace(R"({"name": "f", "type": "density_function_dist", "function": "g"})",
                                       R"({"name": "g", "type": "generic_function", "expression": "x*x + I"},
      {"name": "I", "type": "integral", "integrand": "sq", "variables": ["y"]},
      {"name": "sq", "type": "generic_function", "expression": "a*y*y"})",
                                       0, 3, xs, {{"a", 0.9}, {"y", 1.0}});
    // The domain of y is [0, 2] (the helper's domains are [-100, 100]: replace y's).
    std::string t = text;
    const std::string from = R"({"name": "y", "min": -100, "max": 100})", to = R"({"name": "y", "min": 0, "max": 2})";
    t.replace(t.find(from), from.size(), to);
    auto lm = load_general(t, file);
    const double I = 8 * 0.9 / 3;
    check(lm, nll_with_quadrature(xs, [&](double x) { return x * x + I; }, 0, 3), 1e-10);
  }
  // derivative: d/dp (b p²) = 2bp (order 1), d²/dp² (b p³) = 6bp (order 2): central differences
  // are exact for these up to rounding.
  for (int order : {1, 2}) {
    INFO("order " << order);
    const std::string expr = order == 1 ? "b*p*p" : "b*p*p*p";
    auto lm = load_general(workspace(R"({"name": "f", "type": "density_function_dist", "function": "g"})",
                                     R"({"name": "g", "type": "generic_function", "expression": "x + D"},
      {"name": "D", "type": "derivative", "function": "pc", "x": "p", "order": )" + std::to_string(order) + R"(},
      {"name": "pc", "type": "generic_function", "expression": ")" + expr + R"("})",
                                     0, 3, xs, {{"b", 0.7}, {"p", 1.3}}),
                           file);
    const double D = order == 1 ? 2 * 0.7 * 1.3 : 6 * 0.7 * 1.3;
    check(lm, nll_with_quadrature(xs, [&](double x) { return x + D; }, 0, 3), 1e-8);
  }
  // efficiency_product_pdf_dist: e^{−cx} (1 − e^{−x/k}) normalized over [0, 3].
  {
    auto lm = load_general(workspace(R"({"name": "f", "type": "efficiency_product_pdf_dist", "pdf": "e", "eff": "eps"},
      {"name": "e", "type": "exponential_dist", "x": "x", "c": "c"})",
                                     R"({"name": "eps", "type": "generic_function", "expression": "1 - exp(-x/k) + 0"})", 0, 3, xs,
                                     {{"c", 0.6}, {"k", 0.8}}),
                           file);
    check(lm, nll_with_quadrature(xs, [](double x) { return std::exp(-0.6 * x) * (1 - std::exp(-x / 0.8)); }, 0, 3), 1e-9);
  }
}

TEST_CASE("function spline: the not-a-knot cubic spline reproduces cubics exactly, logy, few knots", "[hs3][functions]") {
  hs3test::TempFile file;
  const auto xs = spread(0.5, 3.5, 30);
  auto knots_json = [](const std::vector<double>& x0, const std::function<double(double)>& y) {
    std::string a = "[", b = "[";
    for (size_t i = 0; i < x0.size(); ++i) {
      a += (i ? "," : "") + num(x0[i]);
      b += (i ? "," : "") + num(y(x0[i]));
    }
    return R"("x0": )" + a + R"(], "y0": )" + b + "]";
  };
  struct Case {
    std::vector<double> x0;
    std::function<double(double)> shape;
    bool logy;
  };
  const auto cubic = [](double x) { return 0.3 * x * x * x - x * x + 2 * x + 1; };
  const auto quad = [](double x) { return 0.4 * x * x - 0.5 * x + 1.2; };
  const std::vector<Case> cases = {
      {{0, 0.7, 1.5, 2.2, 3.1, 4.0}, cubic, false},   // not-a-knot: exact for cubics (also beyond the knots)
      {{1.0, 1.8, 2.5, 3.0}, cubic, false},           // extrapolated on both sides of [1, 3]
      {{0, 2, 4}, quad, false},                       // 3 knots: the parabola
      {{0, 4}, [](double x) { return 1 + 0.5 * x; }, false},  // 2 knots: the line
      {{0, 1, 2.5, 4}, [](double x) { return std::exp(0.2 * x * x - 0.3 * x); }, true},  // logy: ln y0 is a quadratic
  };
  for (size_t k = 0; k < cases.size(); ++k) {
    INFO("case " << k);
    const Case& c = cases[k];
    auto lm = load_general(workspace(R"({"name": "f", "type": "density_function_dist", "function": "s"})",
                                     R"({"name": "s", "type": "spline", "x": "x", "interpolation": "poly3", )" + knots_json(c.x0, c.shape) +
                                         (c.logy ? R"(, "logy": true})" : "}"),
                                     0.5, 3.5, xs, {}),
                           file);
    const std::vector<double> x0 = lm.model.initial_values();
    CHECK(lm.objective(x0.data(), nullptr) == Approx(nll_with_quadrature(xs, c.shape, 0.5, 3.5)).epsilon(1e-10));
  }
  // Knots that do not increase are an error at the knot.
  CHECK_THROWS_WITH(load_general(workspace(R"({"name": "f", "type": "density_function_dist", "function": "s"})",
                                           R"({"name": "s", "type": "spline", "x": "x", "x0": [0, 2, 2], "y0": [1, 2, 3]})", 0.5, 3.5, xs, {}),
                                 file),
                    Catch::Contains("/x0/2") && Catch::Contains("increase"));
}

TEST_CASE("bincounts_extended_dist and bincounts_density_dist: Poisson counts of bin integrals", "[hs3][functions]") {
  hs3test::TempFile file;
  const std::vector<double> edges = {0, 0.5, 1.5, 2.5, 4, 5};  // non-uniform bins
  const std::vector<double> counts = {7, 9, 5, 0, 2};
  auto text = [&](const std::string& dists, const std::string& functions, const std::string& points) {
    std::string e = "[", c = "[";
    for (size_t i = 0; i < edges.size(); ++i) e += (i ? "," : "") + num(edges[i]);
    for (size_t i = 0; i < counts.size(); ++i) c += (i ? "," : "") + num(counts[i]);
    return R"({"metadata": {"hs3_version": "0.2"}, "distributions": [)" + dists + R"(], "functions": [)" + functions + R"(],
      "data": [{"name": "d", "type": "binned", "axes": [{"name": "x", "edges": )" + e + R"(]}], "contents": )" + c + R"(]}],
      "likelihoods": [{"name": "L", "distributions": ["f"], "data": ["d"]}],
      "parameter_points": [{"name": "init", "parameters": [)" + points + R"(]}],
      "analyses": [{"name": "A", "likelihood": "L", "init": "init"}]})";
  };
  // Σ_b (ν_b − n_b ln ν_b) for bin integrals ν_b.
  auto poisson = [&](const std::function<double(double, double)>& nu) {
    double r = 0;
    for (size_t b = 0; b < counts.size(); ++b) {
      const double v = nu(edges[b], edges[b + 1]);
      r += v - counts[b] * std::log(v);
    }
    return r;
  };
  {
    // λ = 25 events of an exponential (slope 0.4) normalized over [0, 5].
    auto lm = load_general(text(R"({"name": "f", "type": "bincounts_extended_dist", "rate": "lam", "dist": "e"},
        {"name": "e", "type": "exponential_dist", "x": "x", "c": "c"})",
                                "", R"({"name": "lam", "value": 25}, {"name": "c", "value": 0.4})"),
                           file);
    const double norm = (1 - std::exp(-0.4 * 5)) / 0.4;
    check(lm, poisson([&](double a, double b) { return 25 * (std::exp(-0.4 * a) - std::exp(-0.4 * b)) / 0.4 / norm; }), 1e-12);
  }
  {
    // ν_b = ∫_bin a e^{−x/t}.
    auto lm = load_general(text(R"({"name": "f", "type": "bincounts_density_dist", "x": "x", "density": "g"})",
                                R"({"name": "g", "type": "generic_function", "expression": "exp(-x/t)*a"})",
                                R"({"name": "a", "value": 12}, {"name": "t", "value": 1.7})"),
                           file);
    check(lm, poisson([&](double a, double b) { return 12 * 1.7 * (std::exp(-a / 1.7) - std::exp(-b / 1.7)); }), 1e-12);
  }
}

TEST_CASE("decay_dist with Gaussian and truth resolution models: the convolution and its normalization", "[hs3][functions]") {
  hs3test::TempFile file;
  const double lo = -2, hi = 8, tau = 1.5, mu = 0.1, sigma = 0.4;
  for (int decay : {0, 1, 2}) {
    for (bool gauss : {true, false}) {
      INFO("decayType " << decay << (gauss ? " gauss" : " truth"));
      // Events where the density is not negligible: without smearing only on the decay's side.
      const auto ts = spread(gauss ? (decay == 0 ? -0.5 : lo) : (decay == 0 ? 0.01 : lo), gauss ? (decay == 2 ? 1.0 : hi) : (decay == 2 ? -0.01 : hi), 40);
      const std::string model = gauss ? R"({"name": "res", "type": "gauss_model_function", "x": "x", "mean": "mu", "sigma": "sg"})"
                                      : R"({"name": "res", "type": "truth_model_function", "x": "x"})";
      const std::string text = workspace(R"({"name": "f", "type": "decay_dist", "t": "x", "tau": "tau", "resolutionModel": "res", "decayType": )" +
                                             std::to_string(decay) + "}",
                                         model, lo, hi, ts, {{"tau", tau}, {"mu", mu}, {"sg", sigma}});
      auto lm = load_general(text, file);
      // The decay basis, and its convolution with N(μ, σ) by Simpson's rule over u.
      auto basis = [&](double u) {
        const double r = u >= 0 ? std::exp(-u / tau) : 0.0, l = u <= 0 ? std::exp(u / tau) : 0.0;
        return decay == 0 ? r : decay == 2 ? l : std::exp(-std::abs(u) / tau);
      };
      std::function<double(double)> shape;
      if (gauss) {
        shape = [&](double t) {
          // The right-going part e^{−u/τ} on u > 0 and the left-going e^{u/τ} on u < 0, integrated
          // separately (the basis jumps or kinks at 0).
          auto gauss_at = [&](double u) { return std::exp(-0.5 * std::pow((t - u - mu) / sigma, 2)); };
          const double a = t - mu - 12 * sigma, b = t - mu + 12 * sigma;
          double r = 0;
          if (decay != 2 && b > 0) r += simpson([&](double u) { return std::exp(-u / tau) * gauss_at(u); }, std::max(a, 0.0), b, 4000);
          if (decay != 0 && a < 0) r += simpson([&](double u) { return std::exp(u / tau) * gauss_at(u); }, a, std::min(b, 0.0), 4000);
          return r;
        };
      } else {
        shape = basis;
      }
      // Simpson over an axis with a kink at 0 (truth model): split there.
      const double M = gauss ? simpson(shape, lo, hi, 2000)
                             : (decay != 2 ? simpson([&](double u) { return std::exp(-u / tau); }, 0, hi, 20000) : 0.0) +
                                   (decay != 0 ? simpson([&](double u) { return std::exp(u / tau); }, lo, 0, 20000) : 0.0);
      double ref = 0;
      for (double t : ts) ref -= std::log(shape(t) / M);
      check(lm, ref, gauss ? 1e-8 : 1e-9);
    }
  }
}

TEST_CASE("decay_dist with a mixture_model of Gaussian resolutions; binvolume functions", "[hs3][functions]") {
  hs3test::TempFile file;
  {
    const double lo = -2, hi = 8, tau = 1.2;
    const auto ts = spread(-0.5, hi, 40);
    const std::string text =
        workspace(R"({"name": "f", "type": "decay_dist", "t": "x", "tau": "tau", "resolutionModel": "res", "decayType": 0})",
                  R"({"name": "res", "type": "mixture_model", "summands": ["g1", "g2"], "coefficients": ["frac"]},
      {"name": "g1", "type": "gauss_model_function", "x": "x", "mean": 0, "sigma": "s1"},
      {"name": "g2", "type": "gauss_model_function", "x": "x", "mean": 0.2, "sigma": "s2"})",
                  lo, hi, ts, {{"tau", tau}, {"frac", 0.7}, {"s1", 0.3}, {"s2", 0.9}});
    auto lm = load_general(text, file);
    // (e^{−u/τ}θ(u)) ⊗ (0.7 N(0, 0.3) + 0.3 N(0.2, 0.9)) by Simpson's rule over u > 0.
    auto shape = [&](double t) {
      auto res = [&](double v) {
        return 0.7 * std::exp(-0.5 * std::pow(v / 0.3, 2)) / 0.3 + 0.3 * std::exp(-0.5 * std::pow((v - 0.2) / 0.9, 2)) / 0.9;
      };
      return simpson([&](double u) { return std::exp(-u / tau) * res(t - u); }, 0.0, std::max(t + 12.0, 1e-9), 20000);
    };
    const double M = simpson(shape, lo, hi, 2000);
    double ref = 0;
    for (double t : ts) ref -= std::log(shape(t) / M);
    check(lm, ref, 1e-8);
  }
  {
    // x + w(x), w the width of the bin of x in edges [0, 1, 3, 6] (binvolume of a histogram).
    const auto xs = spread(0, 6, 30);
    auto lm = load_general(workspace(R"({"name": "f", "type": "density_function_dist", "function": "g"})",
                                     R"({"name": "g", "type": "generic_function", "expression": "x + w"},
      {"name": "w", "type": "binvolume", "histogram": "h"},
      {"name": "h", "type": "histogram", "data": {"axes": [{"name": "x", "edges": [0, 1, 3, 6]}], "contents": [5, 6, 7]}})",
                                     0, 6, xs, {}),
                           file);
    auto width = [](double x) { return x < 1 ? 1.0 : x < 3 ? 2.0 : 3.0; };
    // The model normalizes by Gauss–Legendre over [0, 6], which does not see the jumps exactly;
    // the reference integrates bin by bin.
    const double M = 18 + 1 * 1 + 2 * 2 + 3 * 3;  // ∫x + Σ w·Δx
    double ref = 0;
    for (double x : xs) ref -= std::log((x + width(x)) / M);
    const std::vector<double> x0 = lm.model.initial_values();
    CHECK(lm.objective(x0.data(), nullptr) == Approx(ref).epsilon(2e-3));  // quadrature across jumps: ~1e-4
    // Each event's density term: the bin width of its bin.
    hs3test::TempFile file2;
    auto inv = load_general(workspace(R"({"name": "f", "type": "density_function_dist", "function": "g"})",
                                      R"({"name": "g", "type": "generic_function", "expression": "x + 1/w"},
      {"name": "w", "type": "inverse_binvolume", "histogram": "h"},
      {"name": "h", "type": "histogram", "data": {"axes": [{"name": "x", "edges": [0, 1, 3, 6]}], "contents": [5, 6, 7]}})",
                                      0, 6, xs, {}),
                            file2);
    const std::vector<double> y0 = inv.model.initial_values();
    CHECK(inv.objective(y0.data(), nullptr) == Approx(lm.objective(x0.data(), nullptr)).epsilon(1e-13));
  }
}
