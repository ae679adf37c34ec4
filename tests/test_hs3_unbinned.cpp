// The general HS3 front end (unbinned data, continuous pdfs, mixtures, products, generic
// expressions): HS3TestSuite 2ΔNLL scans (ROOT), pyhs3's NLL at the initial point and at its
// MIGRAD minimum, closed-form normalizations, gradients vs finite differences, error pointers.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/error.h"
#include "eval/evaluator.h"
#include "expr/expr.h"
#include "fit/minimizer.h"
#include "hs3/program.h"
#include "hs3/hs3_inspect.h"
#include "hs3/hs3_unbinned.h"
#include "json/json_reader.h"
#include "tape/compiler.h"
#include "test_support.h"
#include "workspace.h"

namespace {

const std::string kDir = HS3FIT_SHARED_DIR "/workspaces/hs3/";
const std::string kBench = kDir + "pyhs3-benchmarks/";

hs3fit::LoadedModel load(const std::string& path, std::vector<std::string> likelihoods = {}, const std::string& analysis = "") {
  hs3fit::LoadOptions lo;
  lo.general_hs3 = true;
  lo.hs3.likelihoods = std::move(likelihoods);
  lo.hs3.analysis = analysis;
  return hs3fit::load_model(path, lo);
}

std::vector<std::string> channels(int n) {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i) v.push_back("L_ch" + std::to_string(i));
  return v;
}

double nll(const hs3fit::LoadedModel& lm, const std::vector<double>& x) { return lm.objective(x.data(), nullptr); }

void set(const hs3fit::LoadedModel& lm, std::vector<double>& x, const std::string& name, double v) {
  auto i = lm.model.find_parameter(name);
  if (i) x[*i] = v;
}

// Central finite differences (five-point stencil) of −ln L vs the exact gradient, at x.
void check_gradient(const hs3fit::LoadedModel& lm, std::vector<double> x) {
  std::vector<double> g(x.size());
  const double f = lm.objective(x.data(), g.data());
  CHECK(f == Approx(nll(lm, x)).epsilon(1e-13));
  for (size_t i = 0; i < x.size(); ++i) {
    INFO(lm.model.parameters[i].name);
    const auto& par = lm.model.parameters[i];
    const double width = std::isfinite(par.hi - par.lo) ? par.hi - par.lo : 1e300;
    const double h = 1e-4 * std::min(std::max(1e-2, std::fabs(x[i])), width);
    auto at = [&](double d) {
      std::vector<double> xs = x;
      xs[i] += d;
      return nll(lm, xs);
    };
    const double fd = (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h);  // O(h⁴) stencil
    CHECK(g[i] == Approx(fd).epsilon(1e-6).margin(1e-6 + 1e-15 * std::fabs(f) / h));  // + rounding of f over h
  }
}

hs3fit::fit::FitResult fit(const hs3fit::LoadedModel& lm) {
  hs3fit::fit::FitOptions fo;
  fo.compute_covariance = false;
  return hs3fit::fit::minimize(lm.objective, lm.model.parameters, fo);
}

}  // namespace

TEST_CASE("HS3TestSuite: 2ΔNLL scans reproduce ROOT's frozen values", "[hs3][unbinned]") {
  for (const char* fixture : {"simplest_gauss", "response_model"}) {
    INFO(fixture);
    const std::string dir = kDir + "HS3TestSuite/" + fixture + "/";
    hs3fit::json::Document expected = hs3fit::json::parse_file(dir + "expected.json");
    hs3fit::json::Document doc = hs3fit::json::parse_file(dir + "hs3.json");
    int checks = 0;
    for (const auto& check : expected.root().at("checks").elements()) {
      if (check.at("kind").as_string() != "twice_delta_nll_scan") continue;
      // The target: a likelihood, or the likelihood pairing that pdf with that data.
      std::string lik;
      const auto target = check.at("target");
      if (target.get("likelihood")) {
        lik = target.at("likelihood").as_string();
      } else {
        for (const auto& l : doc.root().at("likelihoods").elements())
          if (l.at("distributions").elements()[0].as_string() == target.at("pdf").as_string() &&
              l.at("data").elements()[0].as_string() == target.at("data").as_string())
            lik = l.at("name").as_string();
      }
      INFO(check.at("id").as_string() << " -> " << lik);
      REQUIRE(!lik.empty());
      hs3fit::LoadedModel lm = load(dir + "hs3.json", {lik});
      std::vector<double> ref = lm.model.initial_values();
      for (const auto& [name, v] : check.at("reference_point").members()) set(lm, ref, name, v.as_number());
      const double n0 = nll(lm, ref);
      auto names = check.at("scan_parameters").as_strings();
      auto points = check.at("scan_points").elements();
      auto values = check.at("expected").as_numbers();
      const double atol = check.at("tolerance").at("atol").as_number(), rtol = check.at("tolerance").at("rtol").as_number();
      for (size_t k = 0; k < points.size(); ++k) {
        std::vector<double> x = ref;
        auto coords = points[k].as_numbers();
        for (size_t j = 0; j < names.size(); ++j) set(lm, x, names[j], coords[j]);
        const double twice = 2 * (nll(lm, x) - n0);
        INFO("point " << k << ": " << twice << " vs " << values[k]);
        CHECK(std::fabs(twice - values[k]) <= atol + rtol * std::fabs(values[k]));
        ++checks;
      }
    }
    CHECK(checks >= 4);
  }
}

// pyhs3 (shared/reference/pyhs3.md): −ln L at the analysis' init point and at its MIGRAD minimum.
TEST_CASE("pyhs3 benchmark files: NLL at init and at the minimum match pyhs3", "[hs3][unbinned]") {
  struct Case {
    std::string file;
    int nch;
    double init, min;
  };
  const std::vector<Case> cases = {
      {"1ch_bkgRooExp_sigGauss_shapeFloat_npOn_constrGauss_yield1x.json", 1, -2.56538584, -3.903458377},
      {"1ch_bkgRooExp_sigGauss_shapeFloat_npOn_constrGauss_yield100x.json", 1, -14746.98055, -14749.0912},
      // pyhs3.md's bm_1ch_500x: channel 0 of the 3-channel 500x file (15k events).
      {"3ch_bkgRooExp_sigGauss_shapeFloat_npOn_constrGauss_yield500x.json", 1, -97989.96509, -97990.70025},
      {"3ch_bkgRooExp_sigGauss_shapeFloat_npOn_constrGauss_yield1x.json", 3, -12.39797993, -16.26043833},
      {"3ch_bkgRooExp_sigGauss_shapeFloat_npOn_constrPoisson_yield1x.json", 3, -10.09456151, -13.96162579},
      {"3ch_bkgGenPoly_sigGeneric_shapeFloat_npOn_constrGauss_yield1x.json", 3, -2.176179241, -9.187366121},
  };
  for (const Case& c : cases) {
    INFO(c.file);
    hs3fit::LoadedModel lm = load(kBench + c.file, channels(c.nch));
    const std::vector<double> x0 = lm.model.initial_values();
    const double n0 = nll(lm, x0);
    if (lm.general->likelihoods.size() == static_cast<size_t>(c.nch)) {
      hs3fit::LoadedModel all = load(kBench + c.file, {"all"});  // --likelihood all: the same SUM
      CHECK(nll(all, all.model.initial_values()) == n0);
    }
    // pyhs3.md gives the values to 9–10 significant digits.
    CHECK(n0 == Approx(c.init).epsilon(2e-9).margin(1e-8));
    hs3fit::fit::FitResult r = fit(lm);
    CHECK(r.converged);
    CHECK(r.nll <= c.min + 1e-6);
    CHECK(r.nll >= c.min - 1e-4);  // not below pyhs3's minimum by more than its MIGRAD tolerance
    check_gradient(lm, x0);
    check_gradient(lm, r.values);
  }
}

// pyhs3 (shared/reference/pyhs3.md) on the HS3TestSuite fixtures: the likelihood's −ln L at the
// default point and at its MIGRAD minimum.
TEST_CASE("pyhs3 reference: HS3TestSuite fixtures' NLL at init and at the minimum", "[hs3][unbinned]") {
  struct Case {
    std::string file, likelihood;
    double init, min;
  };
  for (const Case& c : {Case{"simplest_gauss", "likelihood", 15.2230796, 14.99591993}, Case{"response_model", "simRecoObs", 3.221728146, 3.221523626}}) {
    INFO(c.file);
    hs3fit::LoadedModel lm = load(kDir + "HS3TestSuite/" + c.file + "/hs3.json", {c.likelihood});
    const std::vector<double> x0 = lm.model.initial_values();
    CHECK(nll(lm, x0) == Approx(c.init).epsilon(1e-8));  // pyhs3.md: 9-10 significant digits
    hs3fit::fit::FitResult r = fit(lm);
    CHECK(r.converged);
    CHECK(r.nll <= c.min + 1e-6);
    CHECK(r.nll >= c.min - 1e-4);
    check_gradient(lm, r.values);
  }
}

// Every pyhs3 benchmark workspace (all channels' likelihoods, as pyhs3's SUM) fits to a valid
// minimum with a gradient that vanishes there (finite differences), not only the referenced ones.
TEST_CASE("Every pyhs3 benchmark workspace fits to a valid minimum", "[hs3][unbinned][slow]") {
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(kBench)) {
    if (e.path().extension() != ".json") continue;
    INFO(e.path().filename().string());
    hs3fit::LoadedModel lm = load(e.path().string(), {"all"});
    hs3fit::fit::FitResult r = fit(lm);
    CHECK(r.converged);
    CHECK(r.status == "Valid Minimum");
    CHECK(std::isfinite(r.nll));
    CHECK(r.nll <= nll(lm, lm.model.initial_values()));
    // Projected gradient: free parameters off their bounds have ∂(−ln L)/∂θ ≈ 0.
    std::vector<double> g(r.values.size());
    lm.objective(r.values.data(), g.data());
    for (uint32_t i : r.free) {
      const auto& p = lm.model.parameters[i];
      if (r.values[i] - p.lo < 1e-6 * (p.hi - p.lo) || p.hi - r.values[i] < 1e-6 * (p.hi - p.lo)) continue;
      INFO(p.name);
      CHECK(std::fabs(g[i]) * std::max(r.errors[i], 1e-3) < 1e-2);
    }
    ++files;
  }
  CHECK(files == 35);
}

TEST_CASE("HS3 analysis selection: init point, domains, POI, aux variates fixed", "[hs3][unbinned]") {
  hs3fit::LoadedModel lm = load(kBench + "1ch_bkgRooExp_sigGauss_shapeFloat_npOn_constrGauss_yield1x.json");
  CHECK(lm.measurement == "analysis L_ch0 (likelihood L_ch0)");
  REQUIRE(lm.model.poi);
  CHECK(lm.model.parameters[*lm.model.poi].name == "mu_sig");
  int free = 0;
  for (const auto& p : lm.model.parameters) free += !p.fixed;
  CHECK(free == 4);  // pyhs3: alpha_sigma, mu_sig, nbkg_ch0, tau_ch0 (nom_alpha_sigma is the aux datum)
  auto tau = lm.model.find_parameter("tau_ch0");
  REQUIRE(tau);
  CHECK(lm.model.parameters[*tau].lo == 0.001);
  CHECK(lm.model.parameters[*tau].hi == 2.0);
  CHECK(lm.model.parameters[*tau].init == 0.3);
  CHECK(!lm.model.find_parameter("x"));  // the observable is not a parameter
}

// Closed-form −ln L of a hand-written document: extended mixture of a truncated Gaussian and a
// truncated exponential, weighted events, a Gaussian aux constraint and a product_dist whose
// constraint factor must be counted once (not once per event).
TEST_CASE("General HS3: closed-form NLL with weights, extended mixture and product constraint", "[hs3][unbinned]") {
  const std::string path = "/tmp/hs3fit_test_unbinned_closed_form.json";
  std::ofstream(path) << R"J({
    "metadata": {"hs3_version": "0.2"},
    "distributions": [
      {"name": "sig", "type": "gaussian_dist", "x": "x", "mean": "m", "sigma": "s"},
      {"name": "bkg", "type": "exponential_dist", "x": "x", "c": "c"},
      {"name": "mix", "type": "mixture_dist", "summands": ["sig", "bkg"], "coefficients": ["ns", "nb"], "extended": true},
      {"name": "cons", "type": "gaussian_dist", "x": 0.5, "mean": "m", "sigma": 2},
      {"name": "model", "type": "product_dist", "factors": ["mix", "cons"]}
    ],
    "data": [{"name": "d", "type": "unbinned", "axes": [{"name": "x", "min": 1, "max": 4}],
              "entries": [[1.5], [2.0], [3.7]], "weights": [1.0, 2.0, 0.5]}],
    "likelihoods": [{"name": "L", "distributions": ["model"], "data": ["d"]}],
    "parameter_points": [{"name": "default_values", "parameters": [
      {"name": "m", "value": 2.2}, {"name": "s", "value": 0.7}, {"name": "c", "value": 0.4},
      {"name": "ns", "value": 3.0}, {"name": "nb", "value": 5.0}]}]
  })J";
  hs3fit::LoadedModel lm = load(path);
  const std::vector<double> x = lm.model.initial_values();
  const double m = 2.2, s = 0.7, c = 0.4, ns = 3, nb = 5, lo = 1, hi = 4;
  auto gauss = [&](double v) {
    const double M = 0.5 * (std::erf((hi - m) / (s * M_SQRT2)) - std::erf((lo - m) / (s * M_SQRT2)));
    return std::exp(-0.5 * std::pow((v - m) / s, 2)) / (s * std::sqrt(2 * M_PI) * M);
  };
  auto expo = [&](double v) { return c * std::exp(-c * v) / (std::exp(-c * lo) - std::exp(-c * hi)); };
  const double ev[] = {1.5, 2.0, 3.7}, w[] = {1.0, 2.0, 0.5};
  double expected = 0, neff = 0;
  for (int i = 0; i < 3; ++i) {
    expected -= w[i] * std::log((ns * gauss(ev[i]) + nb * expo(ev[i])) / (ns + nb));
    neff += w[i];
  }
  expected += (ns + nb) - neff * std::log(ns + nb);
  expected += 0.5 * std::pow((0.5 - m) / 2, 2) + std::log(2 * std::sqrt(2 * M_PI));  // once
  CHECK(nll(lm, x) == Approx(expected).epsilon(1e-13));
  check_gradient(lm, x);
}

TEST_CASE("General HS3: numeric normalization (generic_dist) agrees with closed forms", "[hs3][unbinned]") {
  // generic_dist Gaussian/exponential/polynomial shapes vs the closed-form distributions on the same data.
  const std::string path = "/tmp/hs3fit_test_unbinned_generic.json";
  std::ofstream(path) << R"J({
    "metadata": {"hs3_version": "0.2"},
    "distributions": [
      {"name": "g1", "type": "gaussian_dist", "x": "x", "mean": "m", "sigma": "s"},
      {"name": "g2", "type": "generic_dist", "expression": "TMath::Exp(-0.5*((x-m)/s)^2)"},
      {"name": "e1", "type": "exponential_dist", "x": "x", "c": "c"},
      {"name": "e2", "type": "generic_dist", "expression": "exp(-c*x)"},
      {"name": "p1", "type": "polynomial_dist", "x": "x", "coefficients": ["1.0", "a", 0.02]},
      {"name": "p2", "type": "generic_dist", "expression": "1 + a*x + 0.02*x**2"}
    ],
    "data": [{"name": "d", "type": "unbinned", "axes": [{"name": "x", "min": 10, "max": 20}],
              "entries": [[11.1], [13.2], [15.3], [19.9]]}],
    "likelihoods": [{"name": "G1", "distributions": ["g1"], "data": ["d"]}, {"name": "G2", "distributions": ["g2"], "data": ["d"]},
                    {"name": "E1", "distributions": ["e1"], "data": ["d"]}, {"name": "E2", "distributions": ["e2"], "data": ["d"]},
                    {"name": "P1", "distributions": ["p1"], "data": ["d"]}, {"name": "P2", "distributions": ["p2"], "data": ["d"]}],
    "parameter_points": [{"name": "default_values", "parameters": [
      {"name": "m", "value": 14.0}, {"name": "s", "value": 0.5}, {"name": "c", "value": 0.3}, {"name": "a", "value": 0.1}]}]
  })J";
  for (auto [a, b] : {std::pair{"G1", "G2"}, {"E1", "E2"}, {"P1", "P2"}}) {
    INFO(a << " vs " << b);
    hs3fit::LoadedModel la = load(path, {a}), lb = load(path, {b});
    std::vector<double> xa = la.model.initial_values(), xb = lb.model.initial_values();
    CHECK(nll(lb, xb) == Approx(nll(la, xa)).epsilon(1e-12));
    check_gradient(lb, xb);
  }
}

TEST_CASE("Expression language: precedence, functions and errors", "[hs3][expr]") {
  using hs3fit::expr::parse;
  auto eval = [](const std::string& text) {
    // Lower through a document: a generic_function of constants folds to a number.
    const std::string path = "/tmp/hs3fit_test_expr.json";
    std::ofstream(path) << R"J({"metadata": {"hs3_version": "0.2"},
      "functions": [{"name": "f", "type": "generic_function", "expression": ")J" + text + R"J("}],
      "distributions": [{"name": "g", "type": "gaussian_dist", "x": "xv", "mean": "f", "sigma": 1}],
      "likelihoods": [{"name": "L", "distributions": ["g"], "data": [0]}]})J";
    hs3fit::LoadedModel lm = load(path);
    const double v = nll(lm, lm.model.initial_values());  // = ½ f² + ln √(2π)
    return std::sqrt(2 * (v - 0.5 * std::log(2 * M_PI)));
  };
  CHECK(eval("2+3*4") == Approx(14));
  CHECK(eval("-2^2") == Approx(4));             // −(2²) = −4, |−4|
  CHECK(eval("2**3**2 / 64") == Approx(8));     // right-assoc: 2^9 / 64
  CHECK(eval("1 < 2 ? 3 : 4") == Approx(3));
  CHECK(eval("ifelse(1 > 2, 3, 5)") == Approx(5));
  CHECK(eval("TMath::Power(2, 0.5)*sqrt(2)") == Approx(2));
  CHECK(eval("exp(log(7)) + abs(-1) + erf(0) + min(1, 2) + max(1, 2)") == Approx(11));
  CHECK(eval("PI") == Approx(M_PI));
  CHECK(eval("2^-1") == Approx(0.5));
  CHECK_THROWS_WITH(parse("1 +", "/functions/0/expression"), Catch::Contains("/functions/0/expression") && Catch::Contains("end of expression"));
  CHECK_THROWS_WITH(parse("foo(1)", "/p"), Catch::Contains("unknown function 'foo'"));
  CHECK_THROWS_WITH(parse("(1 + 2", "/p"), Catch::Contains("expected ')'"));
}

TEST_CASE("General HS3: errors name the JSON pointer", "[hs3][unbinned]") {
  auto write = [](const std::string& body) {
    const std::string path = "/tmp/hs3fit_test_unbinned_error.json";
    std::ofstream(path) << R"J({"metadata": {"hs3_version": "0.2"},
      "data": [{"name": "d", "type": "unbinned", "axes": [{"name": "x", "min": 0, "max": 1}], "entries": [[0.5]]}],)J" + body + "}";
    return path;
  };
  // Circular reference between two functions.
  CHECK_THROWS_WITH(load(write(R"J("functions": [{"name": "a", "type": "sum", "summands": ["b"]}, {"name": "b", "type": "product", "factors": ["a", 2]}],
      "distributions": [{"name": "g", "type": "gaussian_dist", "x": "x", "mean": "a", "sigma": 1}],
      "likelihoods": [{"name": "L", "distributions": ["g"], "data": ["d"]}])J")),
                    Catch::Contains("/functions/0") && Catch::Contains("circular reference: a -> b -> a"));
  // Unknown distribution type.
  CHECK_THROWS_WITH(load(write(R"J("distributions": [{"name": "g", "type": "gausian_dist", "x": "x"}],
      "likelihoods": [{"name": "L", "distributions": ["g"], "data": ["d"]}])J")),
                    Catch::Contains("/distributions/0/type") && Catch::Contains("gausian_dist"));
  // Missing data name.
  CHECK_THROWS_WITH(load(write(R"J("distributions": [{"name": "g", "type": "gaussian_dist", "x": "x", "mean": 0, "sigma": 1}],
      "likelihoods": [{"name": "L", "distributions": ["g"], "data": ["nodata"]}])J")),
                    Catch::Contains("/likelihoods/0/data/0") && Catch::Contains("unknown data 'nodata'"));
  // Without opting in, the binned-only commands refuse (never fit an empty model).
  hs3fit::LoadOptions lo;
  CHECK_THROWS_WITH(hs3fit::load_model(kDir + "HS3TestSuite/simplest_gauss/hs3.json", lo),
                    Catch::Contains("/distributions/0/type") && Catch::Contains("not supported"));
}

TEST_CASE("Gauss-Legendre rule integrates polynomials exactly", "[hs3][unbinned]") {
  const auto& rule = hs3fit::hs3::gauss_legendre();
  REQUIRE(rule.size() == static_cast<size_t>(hs3fit::hs3::kQuadPoints));
  for (int k = 0; k < 2 * hs3fit::hs3::kQuadPoints; ++k) {
    double s = 0;
    for (auto [t, w] : rule) s += w * std::pow(t, k);
    CHECK(s == Approx(k % 2 ? 0.0 : 2.0 / (k + 1)).margin(1e-14));
  }
}

TEST_CASE("Unbinned timing on 30k events", "[hs3][unbinned][slow]") {
  const auto t0 = std::chrono::steady_clock::now();
  hs3fit::LoadedModel lm = load(kBench + "1ch_bkgRooExp_sigGauss_shapeFloat_npOn_constrGauss_yield1000x.json");
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::vector<double> x = lm.model.initial_values(), g(x.size());
  const int reps = 50;
  auto t1 = std::chrono::steady_clock::now();
  double s = 0;
  for (int i = 0; i < reps; ++i) s += lm.objective(x.data(), nullptr);
  auto t2 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) s += lm.objective(x.data(), g.data());
  auto t3 = std::chrono::steady_clock::now();
  const double n = static_cast<double>(lm.general->events);
  WARN("parse+build " << load_s * 1e3 << " ms; NLL " << std::chrono::duration<double>(t2 - t1).count() / reps / n * 1e9
                      << " ns/event; NLL+grad " << std::chrono::duration<double>(t3 - t2).count() / reps / n * 1e9 << " ns/event ("
                      << n << " events)");
  CHECK(std::isfinite(s));
}

namespace {
// −ln PDF at one event of a one-distribution document on the axis [lo, hi].
double single_event_nll(const std::string& dist_json, double x, double lo, double hi, const std::string& params) {
  const std::string path = "/tmp/hs3fit_test_unbinned_single.json";
  std::ofstream(path) << R"J({"metadata": {"hs3_version": "0.2"}, "distributions": [)J" + dist_json +
                             R"J(], "data": [{"name": "d", "type": "unbinned", "axes": [{"name": "x", "min": )J" + std::to_string(lo) +
                             ", \"max\": " + std::to_string(hi) + "}], \"entries\": [[" + std::to_string(x) +
                             R"J(]]}], "likelihoods": [{"name": "L", "distributions": ["p"], "data": ["d"]}],
      "parameter_points": [{"name": "default_values", "parameters": [)J" + params + "]}]}";
  hs3fit::LoadedModel lm = load(path);
  check_gradient(lm, lm.model.initial_values());
  return nll(lm, lm.model.initial_values());
}

// Independent reference: composite Simpson with 200 000 intervals.
template <class F>
double simpson(F f, double a, double b) {
  const int n = 200000;
  const double h = (b - a) / n;
  double s = f(a) + f(b);
  for (int i = 1; i < n; ++i) s += f(a + i * h) * (i % 2 ? 4 : 2);
  return s * h / 3;
}
}  // namespace

TEST_CASE("General HS3: each distribution's truncated normalization vs direct integration", "[hs3][unbinned]") {
  SECTION("lognormal") {
    auto f = [](double v) { return std::exp(-0.5 * std::pow((std::log(v) - 0.3) / 0.4, 2)) / v; };
    const double expected = -std::log(f(1.7) / simpson(f, 0.5, 3.0));
    CHECK(single_event_nll(R"J({"name": "p", "type": "lognormal_dist", "x": "x", "mu": "mu", "sigma": "s"})J", 1.7, 0.5, 3.0,
                           R"J({"name": "mu", "value": 0.3}, {"name": "s", "value": 0.4})J") == Approx(expected).epsilon(1e-10));
  }
  SECTION("argus (support ends at m0 inside the axis)") {
    auto f = [](double m) {
      const double u = 1 - std::pow(m / 5.2, 2);
      return m < 5.2 ? m * std::pow(u, 0.5) * std::exp(-20 * u) : 0.0;
    };
    const double expected = -std::log(f(5.1) / simpson(f, 5.0, 5.2));
    CHECK(single_event_nll(R"J({"name": "p", "type": "ARGUS_dist", "mass": "x", "resonance": "m0", "slope": "c", "power": 0.5})J", 5.1, 5.0,
                           5.3, R"J({"name": "m0", "value": 5.2}, {"name": "c", "value": -20})J") == Approx(expected).epsilon(1e-8));
  }
  for (double alpha : {1.3, -1.3}) {
    SECTION("crystalball, alpha = " + std::to_string(alpha)) {
      const double m0 = 0.2, s = 0.8, n = 3.5, aa = std::fabs(alpha);
      auto f = [&](double m) {
        double t = (m - m0) / s;
        if (alpha < 0) t = -t;
        if (t >= -aa) return std::exp(-0.5 * t * t);
        return std::pow(n / aa, n) * std::exp(-0.5 * aa * aa) * std::pow(n / aa - aa - t, -n);
      };
      for (double x : {-3.1, 0.4, 3.3}) {
        const double expected = -std::log(f(x) / simpson(f, -5, 4));
        CHECK(single_event_nll(R"J({"name": "p", "type": "crystalball_dist", "m": "x", "m0": "m0", "sigma": "s", "alpha": "a", "n": "n"})J", x, -5,
                               4, R"J({"name": "m0", "value": 0.2}, {"name": "s", "value": 0.8}, {"name": "a", "value": )J" + std::to_string(alpha) +
                                      R"J(}, {"name": "n", "value": 3.5})J") == Approx(expected).epsilon(1e-9));
      }
    }
  }
  SECTION("poisson over an integer axis: counting-measure normalization") {
    double norm = 0;
    for (int k = 2; k <= 9; ++k) norm += std::exp(k * std::log(4.5) - 4.5 - std::lgamma(k + 1.0));
    const double expected = -(6 * std::log(4.5) - 4.5 - std::lgamma(7.0) - std::log(norm));
    CHECK(single_event_nll(R"J({"name": "p", "type": "poisson_dist", "x": "x", "mean": "lam"})J", 6, 2, 9, R"J({"name": "lam", "value": 4.5})J") ==
          Approx(expected).epsilon(1e-12));
  }
  SECTION("uniform") {
    CHECK(single_event_nll(R"J({"name": "p", "type": "uniform_dist", "x": ["x"]})J", 0.3, -1, 3, "") == Approx(std::log(4.0)).epsilon(1e-14));
  }
}

TEST_CASE("pyhs3 HistFactory files: NLL at init and at the minimum through the binned front end", "[hs3]") {
  // shared/reference/pyhs3.md: hf_corr, hf_uncorr (obsData, asimovData).
  struct Case {
    const char* file;
    const char* analysis;
    double nll, min;
  };
  for (const Case& c : {Case{"simplemodel_correlated-background_hs3.json", "simPdf_obsData", 9.648134262, 6.756835653},
                        Case{"simplemodel_uncorrelated-background_hs3.json", "simPdf_obsData", 15.38762717, 12.49200977},
                        Case{"simplemodel_uncorrelated-background_hs3.json", "simPdf_asimovData", 12.63410988, 12.63410988}}) {
    INFO(c.file << " " << c.analysis);
    hs3fit::LoadOptions lo;
    lo.hs3.analysis = c.analysis;
    hs3fit::LoadedModel lm = hs3fit::load_model(kDir + "pyhs3/" + c.file, lo);
    CHECK(!lm.objective);  // histfactory_dist: the binned tape
    hs3fit::tape::Tape tp = hs3fit::tape::compile(lm.model);
    hs3fit::eval::Evaluator ev(tp);
    CHECK(ev.nll(lm.model.initial_values().data()) == Approx(c.nll).epsilon(1e-9));
    // pyhs3's MIGRAD minimum (pyhs3.md): ours is not above it (and not far below: same function).
    hs3fit::fit::FitOptions fo;
    fo.compute_covariance = false;
    hs3fit::fit::FitResult r = hs3fit::fit::minimize([&ev](const double* x, double* g) { return g ? ev.nll_and_gradient(x, g) : ev.nll(x); },
                                                     lm.model.parameters, fo);
    CHECK(r.converged);
    CHECK(r.nll <= c.min + 1e-6);
    CHECK(r.nll >= c.min - 1e-4);
  }
}

// Every HS3 file in shared/workspaces/hs3 loads: its document is listed and every distribution
// and function checked without a problem (hs3fit inspect), its selected likelihood evaluates to
// a finite −ln L; a file without likelihoods is refused by fit/eval saying so. Only the legacy
// ROOT < 6.30 layout (root/rf515_hfJSON.json) is refused, with an explanation.
TEST_CASE("Every HS3 workspace in the shared folder loads or is refused clearly", "[hs3][unbinned]") {
  int loaded = 0, listed_only = 0, legacy = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(kDir)) {
    const std::string p = e.path().string();
    if (e.path().extension() != ".json" || e.path().filename() == "expected.json" || p.find("_hifa") != std::string::npos) continue;
    if (p.find("yield1000x") != std::string::npos || p.find("yield500x") != std::string::npos) continue;  // size only; covered elsewhere
    INFO(p);
    hs3fit::json::Document doc = hs3fit::json::parse_file(p);
    const hs3fit::hs3::DocumentSummary summary = hs3fit::hs3::summarize_document(doc.root());
    if (p.find("rf515_hfJSON") != std::string::npos) {
      REQUIRE(summary.problems.size() == 1);
      CHECK(summary.problems[0].find("legacy HS3 layout") != std::string::npos);
      CHECK_THROWS_WITH(load(p), Catch::Contains("legacy HS3 layout") && Catch::Contains("ROOT >= 6.30"));
      ++legacy;
      continue;
    }
    for (const auto& prob : summary.problems) FAIL_CHECK(prob);
    CHECK(summary.checked == summary.distributions.size() + summary.functions.size());
    if (summary.likelihoods.empty()) {
      CHECK(summary.domains.size() + summary.distributions.size() + summary.parameter_points.size() > 0);
      CHECK_THROWS_WITH(load(p), Catch::Contains("nothing to fit") && Catch::Contains("hs3fit inspect"));
      ++listed_only;
      continue;
    }
    hs3fit::LoadedModel lm = load(p);
    const std::vector<double> x = lm.model.initial_values();
    double v;
    if (lm.objective) {
      v = nll(lm, x);
    } else {
      hs3fit::tape::Tape tp = hs3fit::tape::compile(lm.model);
      v = hs3fit::eval::Evaluator(tp).nll(x.data());
    }
    CHECK(std::isfinite(v));
    ++loaded;
  }
  CHECK(loaded >= 38);
  CHECK(listed_only == 4);
  CHECK(legacy == 1);
}

// SPEC §9.1: ROOT's frozen scan for hierarchical_calibration_model is identically 0 because the
// reference backend ignored aux_distributions; with the priors included (the standard), the NLL
// does depend on globalScale.
TEST_CASE("hierarchical_calibration_model: aux distributions count (ROOT's all-zero reference is wrong)", "[hs3][unbinned]") {
  hs3fit::LoadedModel lm = load(kDir + "HS3TestSuite/hierarchical_calibration_model/hs3.json");
  std::vector<double> x = lm.model.initial_values();
  REQUIRE(lm.model.find_parameter("globalScale"));
  set(lm, x, "globalScale", 1.0);
  const double n0 = nll(lm, x);
  set(lm, x, "globalScale", 1.05);
  CHECK(std::fabs(2 * (nll(lm, x) - n0)) > 1e-3);
  check_gradient(lm, x);
}

namespace {
// −ln L of a document whose only likelihood observes a Poisson at k = 7 with mean `mean_ref`
// (a function under test), at the default point with `params` overridden.
struct PoissonProbe {
  std::string path;
  explicit PoissonProbe(const std::string& functions, const std::string& params, const std::string& tag) {
    path = "/tmp/hs3fit_test_probe_" + tag + ".json";
    std::ofstream(path) << R"J({"metadata": {"hs3_version": "0.2"}, "functions": [)J" + functions +
                               R"J(], "distributions": [{"name": "p", "type": "poisson_dist", "x": "k", "mean": "f"}],
      "likelihoods": [{"name": "L", "distributions": ["p"], "data": [7]}],
      "parameter_points": [{"name": "default_values", "parameters": [)J" + params + "]}]}";
  }
};
double poisson7(double lam) { return -(7 * std::log(lam) - lam - std::lgamma(8.0)); }
}  // namespace

TEST_CASE("General HS3: double-sided crystalball, bernstein, histogram_dist vs direct integration", "[hs3][unbinned]") {
  const double m0 = 0.3, sL = 0.6, sR = 1.1, aL = 1.2, nL = 3.0, aR = 0.9, nR = 5.0;
  auto f = [&](double m) {
    if (m <= m0) {
      const double t = (m - m0) / sL;
      if (t >= -aL) return std::exp(-0.5 * t * t);
      return std::pow(nL / aL, nL) * std::exp(-0.5 * aL * aL) * std::pow(nL / aL - aL - t, -nL);
    }
    const double t = (m - m0) / sR;
    if (t <= aR) return std::exp(-0.5 * t * t);
    return std::pow(nR / aR, nR) * std::exp(-0.5 * aR * aR) * std::pow(nR / aR - aR + t, -nR);
  };
  const std::string params = R"J({"name": "m0", "value": 0.3}, {"name": "sL", "value": 0.6}, {"name": "sR", "value": 1.1}, {"name": "aL", "value": 1.2},
      {"name": "nL", "value": 3.0}, {"name": "aR", "value": 0.9}, {"name": "nR", "value": 5.0})J";
  for (auto [lo, hi] : {std::pair{-5.0, 6.0}, {0.5, 6.0}, {-5.0, 0.1}, {-0.2, 0.9}}) {
    for (double x : {-3.0, -0.2, 0.05, 0.8, 3.5}) {
      if (x < lo || x > hi) continue;
      INFO("axis [" << lo << ", " << hi << "], m = " << x);
      const double expected = -std::log(f(x) / simpson(f, lo, hi));
      CHECK(single_event_nll(R"J({"name": "p", "type": "crystalball_doublesided_dist", "m": "x", "m0": "m0", "sigma_L": "sL", "sigma_R": "sR",
              "alpha_L": "aL", "n_L": "nL", "alpha_R": "aR", "n_R": "nR"})J", x, lo, hi, params) == Approx(expected).epsilon(1e-9));
      // The standard's crystalball_dist with split fields is the same shape.
      CHECK(single_event_nll(R"J({"name": "p", "type": "crystalball_dist", "m": "x", "m0": "m0", "sigma_L": "sL", "sigma_R": "sR",
              "alpha_L": "aL", "n_L": "nL", "alpha_R": "aR", "n_R": "nR"})J", x, lo, hi, params) == Approx(expected).epsilon(1e-9));
    }
  }
  SECTION("bernstein_poly_dist on [1, 4]") {
    auto b = [](double x) {
      const double u = (x - 1) / 3, v = 1 - u;
      return 0.5 * v * v * v + 0.8 * 3 * u * v * v + 2.0 * 3 * u * u * v + 0.7 * u * u * u;
    };
    for (double x : {1.2, 2.9, 3.95}) {
      const double expected = -std::log(b(x) / simpson(b, 1, 4));
      CHECK(single_event_nll(R"J({"name": "p", "type": "bernstein_poly_dist", "x": "x", "coefficients": [0.5, "c1", 2.0, 0.7]})J", x, 1, 4,
                             R"J({"name": "c1", "value": 0.8})J") == Approx(expected).epsilon(1e-10));
    }
  }
  SECTION("histogram_dist: content / (bin width · total)") {
    const std::string h = R"J({"name": "p", "type": "histogram_dist", "data": {"axes": [{"name": "x", "edges": [0, 1, 3, 4]}], "contents": [2, 6, 4]}})J";
    CHECK(single_event_nll(h, 0.5, 0, 4, "") == Approx(-std::log(2.0 / (1 * 12))).epsilon(1e-14));
    CHECK(single_event_nll(h, 2.5, 0, 4, "") == Approx(-std::log(6.0 / (2 * 12))).epsilon(1e-14));
    CHECK(single_event_nll(h, 3.5, 0, 4, "") == Approx(-std::log(4.0 / (1 * 12))).epsilon(1e-14));
  }
}

TEST_CASE("General HS3: 2-D generic_dist normalized over the box of its axes", "[hs3][unbinned]") {
  const std::string path = "/tmp/hs3fit_test_generic2d.json";
  std::ofstream(path) << R"J({"metadata": {"hs3_version": "0.2"},
    "distributions": [{"name": "p", "type": "generic_dist", "expression": "exp(-0.5*((x-a)/s)^2) * (1 + b*y)"}],
    "data": [{"name": "d", "type": "unbinned", "axes": [{"name": "x", "min": 0, "max": 3}, {"name": "y", "min": 0, "max": 1}],
              "entries": [[1.1, 0.2], [2.5, 0.9]]}],
    "likelihoods": [{"name": "L", "distributions": ["p"], "data": ["d"]}],
    "parameter_points": [{"name": "default_values", "parameters": [{"name": "a", "value": 1.4}, {"name": "s", "value": 0.9}, {"name": "b", "value": 0.6}]}]})J";
  hs3fit::LoadedModel lm = load(path);
  const double a = 1.4, s = 0.9, b = 0.6;
  const double nx = s * std::sqrt(M_PI / 2) * (std::erf((3 - a) / (s * M_SQRT2)) - std::erf((0 - a) / (s * M_SQRT2)));
  const double norm = nx * (1 + b / 2);
  double expected = 0;
  for (auto [x, y] : {std::pair{1.1, 0.2}, {2.5, 0.9}}) expected -= std::log(std::exp(-0.5 * std::pow((x - a) / s, 2)) * (1 + b * y) / norm);
  CHECK(nll(lm, lm.model.initial_values()) == Approx(expected).epsilon(1e-11));
  check_gradient(lm, lm.model.initial_values());
}

TEST_CASE("General HS3: barlow_beeston_lite_poisson_constraint_dist is Π Pois(τ | γτ)", "[hs3][unbinned]") {
  const std::string path = "/tmp/hs3fit_test_bblite.json";
  std::ofstream(path) << R"J({"metadata": {"hs3_version": "0.2"},
    "distributions": [{"name": "g", "type": "gaussian_dist", "x": "x", "mean": "m", "sigma": 1},
                      {"name": "bb", "type": "barlow_beeston_lite_poisson_constraint_dist", "x": ["g1", "g2"], "expected": [25, 100]}],
    "data": [{"name": "d", "type": "unbinned", "axes": [{"name": "x", "min": -10, "max": 10}], "entries": [[0.3]]}],
    "likelihoods": [{"name": "L", "distributions": ["g"], "data": ["d"], "aux_distributions": ["bb"]}],
    "parameter_points": [{"name": "default_values", "parameters": [{"name": "m", "value": 0.1}, {"name": "g1", "value": 1.1}, {"name": "g2", "value": 0.95}]}]})J";
  hs3fit::LoadedModel lm = load(path);
  auto pois = [](double k, double lam) { return k * std::log(lam) - lam - std::lgamma(k + 1); };
  const double gauss = 0.5 * 0.2 * 0.2 + 0.5 * std::log(2 * M_PI) + std::log(0.5 * (std::erf(9.9 / M_SQRT2) - std::erf(-10.1 / M_SQRT2)));
  CHECK(nll(lm, lm.model.initial_values()) == Approx(gauss - pois(25, 1.1 * 25) - pois(100, 0.95 * 100)).epsilon(1e-13));
  check_gradient(lm, lm.model.initial_values());
}

TEST_CASE("General HS3: interpolation function, codes 0-6, vs ROOT's formulas", "[hs3][unbinned]") {
  // Independent transcription of SPEC §7.4 (ROOT MathFuncs::flexibleInterpSingle).
  const double y0 = 5, yp = 6.5, ym = 4.2;
  auto ref = [&](int code, double th) {
    const double rp = yp / y0, rm = ym / y0;
    switch (code) {
      case 0: return y0 + (th > 0 ? th * (yp - y0) : th * (y0 - ym));
      case 1: return y0 * (th >= 0 ? std::pow(rp, th) : std::pow(rm, -th));
      case 2: {
        const double a = 0.5 * (yp + ym) - y0, b = 0.5 * (yp - ym);
        if (th > 1) return y0 + (2 * a + b) * (th - 1) + yp - y0;
        if (th < -1) return y0 - (2 * a - b) * (th + 1) + ym - y0;
        return y0 + a * th * th + b * th;
      }
      case 4: case 6: {
        const double Y0 = code == 4 ? y0 : 1, P = code == 4 ? yp : rp, M = code == 4 ? ym : rm;
        const double ep = P - Y0, em = Y0 - M, S = 0.5 * (ep + em), A = (ep - em) / 16;
        const double d = th >= 1 ? th * ep : th <= -1 ? th * em : th * (S + th * A * (15 + th * th * (3 * th * th - 10)));
        return code == 4 ? y0 + d : y0 * (1 + d);
      }
      default: {  // 5
        if (th >= 1) return y0 * std::pow(rp, th);
        if (th <= -1) return y0 * std::pow(rm, -th);
        const double lp = std::log(rp), lm = std::log(rm);
        const double S0 = 0.5 * (rp + rm), A0 = 0.5 * (rp - rm), S1 = 0.5 * (rp * lp - rm * lm), A1 = 0.5 * (rp * lp + rm * lm);
        const double S2 = 0.5 * (rp * lp * lp + rm * lm * lm), A2 = 0.5 * (rp * lp * lp - rm * lm * lm);
        const double c[] = {(15 * A0 - 7 * S1 + A2) / 8, (-24 + 24 * S0 - 9 * A1 + S2) / 8, (-5 * A0 + 5 * S1 - A2) / 4,
                            (12 - 12 * S0 + 7 * A1 - S2) / 4, (3 * A0 - 3 * S1 + A2) / 8, (-8 + 8 * S0 - 5 * A1 + S2) / 8};
        double F = 1;
        for (int k = 0; k < 6; ++k) F += c[k] * std::pow(th, k + 1);
        return y0 * F;
      }
    }
  };
  for (int code : {0, 1, 2, 4, 5, 6}) {
    PoissonProbe probe(R"J({"name": "f", "type": "interpolation", "nom": "y0", "high": ["yp"], "low": ["ym"], "vars": ["th"], "interpolationCodes": [)J" +
                           std::to_string(code) + R"J(], "positiveDefinite": true})J",
                       R"J({"name": "y0", "value": 5, "const": true}, {"name": "yp", "value": 6.5, "const": true}, {"name": "ym", "value": 4.2, "const": true}, {"name": "th", "value": 0})J",
                       "interp" + std::to_string(code));
    hs3fit::LoadedModel lm = load(probe.path);
    std::vector<double> x = lm.model.initial_values();
    const size_t th = *lm.model.find_parameter("th");
    for (double t : {-1.7, -1.0, -0.4, 0.0, 0.3, 1.0, 2.2}) {
      INFO("code " << code << ", theta " << t);
      x[th] = t;
      CHECK(nll(lm, x) == Approx(poisson7(ref(code, t))).epsilon(1e-12));
      if (std::fabs(std::fabs(t) - 1) > 1e-9 && t != 0) check_gradient(lm, x);
    }
  }
  // Two variables: additive deltas against the nominal, then multiplicative factors, in order.
  PoissonProbe two(R"J({"name": "f", "type": "interpolation", "nom": 5, "high": [6.5, 5.5], "low": [4.2, 4.0], "vars": ["t1", "t2"], "interpolationCodes": [0, 1]})J",
                   R"J({"name": "t1", "value": 0.5}, {"name": "t2", "value": -0.7})J", "interp_two");
  hs3fit::LoadedModel lm = load(two.path);
  CHECK(nll(lm, lm.model.initial_values()) == Approx(poisson7((5 + 0.5 * 1.5) * std::pow(4.0 / 5, 0.7))).epsilon(1e-12));
}

TEST_CASE("General HS3: step and histogram functions pick the bin containing their variable", "[hs3][unbinned]") {
  PoissonProbe step(R"J({"name": "f", "type": "step", "variables": ["v"], "parameters": ["p0", "p1", 9.0], "axes": [{"name": "v", "edges": [0, 1, 2.5, 4]}]})J",
                    R"J({"name": "v", "value": 0, "const": true}, {"name": "p0", "value": 3.0}, {"name": "p1", "value": 6.0})J", "step");
  hs3fit::LoadedModel lm = load(step.path);
  std::vector<double> x = lm.model.initial_values();
  const size_t v = *lm.model.find_parameter("v");
  for (auto [at, lam] : {std::pair{0.5, 3.0}, {1.0, 6.0}, {2.0, 6.0}, {3.0, 9.0}}) {
    x[v] = at;
    CHECK(nll(lm, x) == Approx(poisson7(lam)).epsilon(1e-14));
  }
  x[v] = 2.0;
  check_gradient(lm, x);  // d/dp1 only
  PoissonProbe hist(R"J({"name": "f", "type": "histogram", "data": {"axes": [{"name": "v", "min": 0, "max": 4, "nbins": 2}, {"name": "w", "edges": [0, 1, 2]}],
                         "contents": [1.5, 2.5, 3.5, 4.5]}})J",
                    R"J({"name": "v", "value": 2.5, "const": true}, {"name": "w", "value": 0.5, "const": true})J", "hist");
  hs3fit::LoadedModel lh = load(hist.path);
  CHECK(nll(lh, lh.model.initial_values()) == Approx(poisson7(3.5)).epsilon(1e-14));  // bin (1, 0), C order
}

TEST_CASE("General HS3: chebychev and bifurcated Gaussian vs direct integration; asympow and interpolation0d", "[hs3][unbinned]") {
  SECTION("chebychev_dist on [2, 5]") {
    auto f = [](double x) {
      const double z = 2 * (x - 2) / 3 - 1;
      return 1 + 0.3 * z + (-0.2) * (2 * z * z - 1) + 0.1 * (4 * z * z * z - 3 * z) + 0.05 * (8 * z * z * z * z - 8 * z * z + 1);
    };
    for (double x : {2.1, 3.3, 4.9}) {
      const double expected = -std::log(f(x) / simpson(f, 2, 5));
      CHECK(single_event_nll(R"J({"name": "p", "type": "chebychev_dist", "x": "x", "coefficients": ["a1", -0.2, 0.1, 0.05]})J", x, 2, 5,
                             R"J({"name": "a1", "value": 0.3})J") == Approx(expected).epsilon(1e-10));
    }
  }
  SECTION("bifurkated_gaussian_dist") {
    auto f = [](double x) { return x < 1.0 ? std::exp(-0.5 * std::pow((x - 1.0) / 0.4, 2)) : std::exp(-0.5 * std::pow((x - 1.0) / 1.3, 2)); };
    for (auto [lo, hi] : {std::pair{-2.0, 5.0}, {1.5, 5.0}, {-2.0, 0.7}}) {
      for (double x : {-1.0, 0.6, 1.7, 4.0}) {
        if (x < lo || x > hi) continue;
        INFO(lo << " " << hi << " " << x);
        const double expected = -std::log(f(x) / simpson(f, lo, hi));
        CHECK(single_event_nll(R"J({"name": "p", "type": "bifurkated_gaussian_dist", "x": "x", "mean": "m", "sigmaL": "sl", "sigmaR": "sr"})J", x, lo, hi,
                               R"J({"name": "m", "value": 1.0}, {"name": "sl", "value": 0.4}, {"name": "sr", "value": 1.3})J") == Approx(expected).epsilon(1e-9));
      }
    }
  }
  SECTION("CMS::asympow") {
    PoissonProbe probe(R"J({"name": "f", "type": "CMS::asympow", "kappaLow": 0.8, "kappaHigh": 1.3, "theta": "th"})J", R"J({"name": "th", "value": 0})J", "asympow");
    hs3fit::LoadedModel lm = load(probe.path);
    std::vector<double> x = lm.model.initial_values();
    for (double t : {-1.5, -0.2, 0.4, 2.0}) {
      x[0] = t;
      CHECK(nll(lm, x) == Approx(poisson7(t < 0 ? std::pow(0.8, -t) : std::pow(1.3, t))).epsilon(1e-13));
      check_gradient(lm, x);
    }
  }
  SECTION("interpolation0d (FlexibleInterpVar): code 4 is code 5, additive and multiplicative in order") {
    PoissonProbe probe(R"J({"name": "f", "type": "interpolation0d", "nom": 6, "high": [7.2, 6.6], "low": [5.1, 5.7], "vars": ["t1", "t2"], "interpolationCodes": [0, 1]})J",
                       R"J({"name": "t1", "value": -0.6}, {"name": "t2", "value": 1.4})J", "interp0d");
    hs3fit::LoadedModel lm = load(probe.path);
    CHECK(nll(lm, lm.model.initial_values()) == Approx(poisson7((6 - 0.6 * 0.9) * std::pow(6.6 / 6, 1.4))).epsilon(1e-13));
    PoissonProbe p4(R"J({"name": "f", "type": "interpolation0d", "nom": 1, "high": [1.2], "low": [0.9], "vars": ["t"], "interpolationCodes": [4]})J",
                    R"J({"name": "t", "value": 1.5})J", "interp0d4");
    hs3fit::LoadedModel l4 = load(p4.path);
    CHECK(nll(l4, l4.model.initial_values()) == Approx(poisson7(std::pow(1.2, 1.5))).epsilon(1e-13));  // outside |θ| < 1: exponential
  }
}

// The fused per-event ops (GaussLog, LinLog, two-component LogMix) with the observable in
// every argument position: the Gaussian's mean as the observable (response_model's truth
// data), and a mixture whose components swap order of magnitude across the events.
TEST_CASE("Fused per-event ops: gradients vs finite differences in every argument position", "[hs3][unbinned]") {
  hs3fit::LoadedModel rm = load(kDir + "HS3TestSuite/response_model/hs3.json", {"simTruthObs"});
  check_gradient(rm, rm.model.initial_values());
  const std::string path = "/tmp/hs3fit_test_fused.json";
  std::ofstream(path) << R"J({"metadata": {"hs3_version": "0.2"},
    "distributions": [{"name": "g", "type": "gaussian_dist", "x": "x", "mean": "m", "sigma": "s"},
                      {"name": "e", "type": "exponential_dist", "x": "x", "c": "c"},
                      {"name": "mix", "type": "mixture_dist", "summands": ["g", "e"], "coefficients": ["f"]}],
    "data": [{"name": "d", "type": "unbinned", "axes": [{"name": "x", "min": 0, "max": 10}],
              "entries": [[0.1], [0.5], [1.9], [2.0], [2.1], [3.3], [5.0], [7.7], [9.9]]}],
    "likelihoods": [{"name": "L", "distributions": ["mix"], "data": ["d"]}],
    "parameter_points": [{"name": "default_values", "parameters": [{"name": "m", "value": 2.0}, {"name": "s", "value": 0.05},
      {"name": "c", "value": 0.4}, {"name": "f", "value": 0.3}]}]})J";
  hs3fit::LoadedModel lm = load(path);
  std::vector<double> x = lm.model.initial_values();
  // Independent scalar evaluation.
  const double m = 2.0, s = 0.05, c = 0.4, f = 0.3;
  const double gn = 0.5 * (std::erf((10 - m) / (s * M_SQRT2)) - std::erf((0 - m) / (s * M_SQRT2)));
  double expected = 0;
  for (double v : {0.1, 0.5, 1.9, 2.0, 2.1, 3.3, 5.0, 7.7, 9.9}) {
    const double pg = std::exp(-0.5 * std::pow((v - m) / s, 2)) / (s * std::sqrt(2 * M_PI) * gn);
    const double pe = c * std::exp(-c * v) / (1 - std::exp(-10 * c));
    expected -= std::log(f * pg + (1 - f) * pe);
  }
  CHECK(nll(lm, x) == Approx(expected).epsilon(1e-13));
  check_gradient(lm, x);
}

TEST_CASE("General HS3: rate_extended_dist and multivariate_normal_dist equal their closed forms", "[hs3][unbinned]") {
  // ext = Pois(n | nu) Π gauss(x_j) on [1, 4] (standard fields dist/rate; ROOT's pdf/norm below);
  // mvn = N2((a, b) | (0.3, −0.2), Σ) as a constraint factor, counted once.
  auto workspace = [](const std::string& ext_fields, const std::string& cov_fields) {
    return R"J({
    "metadata": {"hs3_version": "0.2"},
    "distributions": [
      {"name": "sig", "type": "gaussian_dist", "x": "x", "mean": "m", "sigma": 0.8},
      {"name": "ext", "type": "rate_extended_dist", )J" + ext_fields + R"J(},
      {"name": "mvn", "type": "multivariate_normal_dist", "x": ["a", "b"], "mean": [0.3, -0.2], )J" + cov_fields + R"J(},
      {"name": "model", "type": "product_dist", "factors": ["ext", "mvn"]}
    ],
    "functions": [{"name": "nu", "type": "product", "factors": ["mu", "n0"]}],
    "data": [{"name": "d", "type": "unbinned", "axes": [{"name": "x", "min": 1, "max": 4}], "entries": [[1.5], [2.0], [3.7], [2.6]]}],
    "likelihoods": [{"name": "L", "distributions": ["model"], "data": ["d"]}],
    "parameter_points": [{"name": "default_values", "parameters": [
      {"name": "m", "value": 2.2}, {"name": "mu", "value": 1.3}, {"name": "n0", "value": 3.0, "const": true},
      {"name": "a", "value": 0.9}, {"name": "b", "value": 0.4}]}]
  })J";
  };
  const double m = 2.2, s = 0.8, nu = 1.3 * 3.0, lo = 1, hi = 4, a = 0.9 - 0.3, b = 0.4 + 0.2;
  const double s11 = 1.0, s12 = 0.3, s22 = 2.0, det = s11 * s22 - s12 * s12;
  double expected = nu - 4 * std::log(nu);  // HS3: no ln n!
  const double M = 0.5 * (std::erf((hi - m) / (s * M_SQRT2)) - std::erf((lo - m) / (s * M_SQRT2)));
  for (double v : {1.5, 2.0, 3.7, 2.6}) expected -= -0.5 * std::pow((v - m) / s, 2) - std::log(s * std::sqrt(2 * M_PI) * M);
  expected += 0.5 * (s22 * a * a - 2 * s12 * a * b + s11 * b * b) / det + 0.5 * std::log(det) + std::log(2 * M_PI);

  const std::string cov = R"("covariances": [[1.0, 0.3], [0.3, 2.0]])";
  // the same Σ as correlations and standard deviations (ROOT's spelling)
  const std::string corr = R"("correlations": [[1.0, 0.21213203435596426], [0.21213203435596426, 1.0]], "standard_deviations": [1.0, 1.4142135623730951])";
  for (const auto& [ext, c] : {std::make_pair(std::string(R"("dist": "sig", "rate": "nu")"), cov), std::make_pair(std::string(R"("pdf": "sig", "norm": "nu")"), corr)}) {
    hs3test::TempFile f(workspace(ext, c));
    hs3fit::LoadedModel lm = load(f.path());
    const std::vector<double> x = lm.model.initial_values();
    CHECK(nll(lm, x) == Approx(expected).epsilon(1e-12));
    check_gradient(lm, x);
  }
  // Bad covariance matrices are refused with their pointer.
  hs3test::TempFile bad(workspace(R"("dist": "sig", "rate": "nu")", R"("covariances": [[1.0, 2.0], [2.0, 1.0]])"));
  CHECK_THROWS_WITH(load(bad.path()), Catch::Contains("/distributions/2/covariances") && Catch::Contains("not positive definite"));
  hs3test::TempFile twice(workspace(R"("dist": "model", "rate": "nu")", cov));
  CHECK_THROWS(load(twice.path()));  // a cycle (ext → model → ext) is refused
}
