// Inference on general HS3 likelihoods (unbinned data, continuous pdfs): the objective-only
// infer::Likelihood drives MINOS, profile scans and the observed discovery significance, checked
// against the closed forms of a Gaussian sample (mean free; width fixed or free).
#include <catch2/catch.hpp>

#include <cmath>
#include <fmt/format.h>
#include <numeric>

#include "fit/minimizer.h"
#include "hs3/hs3_unbinned.h"
#include "infer/calculator.h"
#include "infer/likelihood.h"
#include "infer/minos.h"
#include "infer/profile_scan.h"
#include "test_support.h"

using namespace hs3fit;
using namespace hs3test;

namespace {

const std::vector<double> kEvents = {1.31, 0.42, 1.07, -0.55, 0.88, 2.13, -0.04, 0.61, -1.72, 0.29, 0.95, 1.46};

// gaussian_dist(x | mu, sigma) on unbinned data; the data axis is wide enough ([-60, 60], sigma
// <= 10 on a sample within ±2.2) that the truncated normalization is 1 to double precision.
std::string gauss_workspace(bool sigma_fixed) {
  std::string entries;
  for (double x : kEvents) entries += fmt::format("{}[{}]", entries.empty() ? "" : ",", x);
  return fmt::format(R"({{
  "metadata": {{"hs3_version": "0.2.0"}},
  "distributions": [{{"name": "gauss", "type": "gaussian_dist", "x": "x", "mean": "mu", "sigma": "sigma"}}],
  "data": [{{"name": "obs", "type": "unbinned", "axes": [{{"name": "x", "min": -60, "max": 60}}], "entries": [{}]}}],
  "likelihoods": [{{"name": "L", "distributions": ["gauss"], "data": ["obs"]}}],
  "domains": [{{"name": "dom", "type": "product_domain",
               "axes": [{{"name": "mu", "min": -10, "max": 10}}, {{"name": "sigma", "min": 0.1, "max": 10}}]}}],
  "parameter_points": [{{"name": "init", "parameters": [{{"name": "mu", "value": 0.2}}, {{"name": "sigma", "value": 1.5{}}}]}}],
  "analyses": [{{"name": "A", "likelihood": "L", "parameters_of_interest": ["mu"], "domain": "dom", "init": "init"}}]
}})",
                     entries, sigma_fixed ? R"(, "const": true)" : "");
}

struct Sample {
  double n, mean, s2;  // s2 = Σ(x − x̄)²/n (the ML variance)
};
Sample sample() {
  Sample s{static_cast<double>(kEvents.size()), 0, 0};
  s.mean = std::accumulate(kEvents.begin(), kEvents.end(), 0.0) / s.n;
  for (double x : kEvents) s.s2 += (x - s.mean) * (x - s.mean) / s.n;
  return s;
}

struct General {
  TempFile file;
  LoadedModel lm;
  explicit General(bool sigma_fixed) : file(gauss_workspace(sigma_fixed)) {
    LoadOptions o;
    o.general_hs3 = true;
    lm = load_model(file.path(), o);
    REQUIRE(lm.objective);
  }
  infer::Likelihood likelihood() const {
    return infer::Likelihood(lm.model, lm.objective, infer::inference_fit_options(1e-6), "no datasets in this test");
  }
  uint32_t index(const std::string& name) const { return lm.model.parameter_index(name, "test"); }
};

}  // namespace

TEST_CASE("general HS3: MINOS, scan and q0 of a Gaussian mean with known width equal the closed forms", "[infer][hs3]") {
  General g(true);
  const Sample s = sample();
  const double sigma = 1.5;
  infer::Likelihood l = g.likelihood();
  CHECK_FALSE(l.has_datasets());
  const uint32_t mu = g.index("mu");
  const fit::FitResult best = l.minimize();
  REQUIRE(best.converged);
  CHECK(best.values[mu] == Approx(s.mean).margin(1e-6));

  // MINOS: x̄ ± σ/√n exactly (the profile is a parabola).
  const infer::MinosInterval iv = infer::minos(l, best, mu, sigma / std::sqrt(s.n));
  CHECK(iv.lower_valid);
  CHECK(iv.upper_valid);
  CHECK(iv.lower == Approx(-sigma / std::sqrt(s.n)).margin(1e-4));  // MINOS' tolerance: 1e-4 of the step
  CHECK(iv.upper == Approx(sigma / std::sqrt(s.n)).margin(1e-4));

  // Scan: 2ΔNLL(μ) = n (μ − x̄)² / σ².
  const infer::ScanResult scan = infer::profile_scan(l, {{mu, infer::linspace(-0.5, 1.5, 9)}}, best);
  REQUIRE(scan.points.size() == 9);
  for (const auto& pt : scan.points) {
    const double m = pt.coords[0];
    CHECK(pt.delta_twice_nll == Approx(s.n * (m - s.mean) * (m - s.mean) / (sigma * sigma)).margin(1e-6));
  }

  // Observed discovery significance: q0 = n x̄²/σ², Z0 = √q0; no expected part without an Asimov dataset.
  const infer::Significance z = infer::observed_significance(l);
  REQUIRE(s.mean > 0);
  CHECK(z.q0 == Approx(s.n * s.mean * s.mean / (sigma * sigma)).epsilon(1e-6));
  CHECK(z.z0 == Approx(std::sqrt(s.n) * s.mean / sigma).epsilon(1e-6));
  CHECK(z.p0 == Approx(0.5 * std::erfc(z.z0 / std::sqrt(2.0))).epsilon(1e-9));
  CHECK_FALSE(z.has_expected);
  CHECK(std::isnan(z.z0_exp));
  CHECK(z.converged);

  // Asimov and toy datasets are refused with the reason given.
  CHECK_THROWS_WITH(l.expected(best.values), Catch::Contains("no datasets in this test"));
}

TEST_CASE("general HS3: profiling the width gives the Student-like profile n ln(1 + (mu - xbar)^2 / s^2)", "[infer][hs3]") {
  General g(false);
  const Sample s = sample();
  infer::Likelihood l = g.likelihood();
  const uint32_t mu = g.index("mu"), sigma = g.index("sigma");
  const fit::FitResult best = l.minimize();
  REQUIRE(best.converged);
  CHECK(best.values[mu] == Approx(s.mean).margin(1e-6));
  CHECK(best.values[sigma] == Approx(std::sqrt(s.s2)).epsilon(1e-6));

  const infer::ScanResult scan = infer::profile_scan(l, {{mu, infer::linspace(-1.0, 2.0, 7)}}, best);
  for (const auto& pt : scan.points) {
    const double d = pt.coords[0] - s.mean;
    CHECK(pt.delta_twice_nll == Approx(s.n * std::log1p(d * d / s.s2)).margin(1e-6));
  }
  // MINOS: 2ΔNLL = 1 at d = ± s √(e^{1/n} − 1).
  const double d1 = std::sqrt(s.s2 * std::expm1(1.0 / s.n));
  const infer::MinosInterval iv = infer::minos(l, best, mu, 0.3);
  CHECK(iv.lower == Approx(-d1).margin(1e-4));
  CHECK(iv.upper == Approx(d1).margin(1e-4));
}

TEST_CASE("general HS3 from the command line: scan, fit --minos --significance, limit on the Asimov dataset", "[infer][hs3][cli]") {
  TempFile ws(gauss_workspace(true));
  const Sample s = sample();
  const double sigma = 1.5;

  const RunResult scan = run_hs3fit("scan " + quote(ws.path()) + " --range -0.5:1.5 --points 5 --json");
  INFO(scan.err);
  REQUIRE(scan.exit_code == 0);
  const auto doc = parse_json(scan.out);
  const auto points = doc.root().at("points").elements();
  REQUIRE(points.size() == 5);
  for (const auto& pt : points) {
    const double m = pt.at("values").at("mu").as_number();
    CHECK(pt.at("delta_twice_nll").as_number() == Approx(s.n * (m - s.mean) * (m - s.mean) / (sigma * sigma)).margin(1e-5));
  }

  // Expected significance from the Asimov dataset at mu = 1: Z0 = sqrt(n) / sigma (the Asimov
  // sample's weighted mean is 1 and its profile a parabola of curvature n / sigma^2).
  const RunResult fit = run_hs3fit("fit " + quote(ws.path()) + " --minos mu --significance --json");
  INFO(fit.err);
  REQUIRE(fit.exit_code == 0);
  const auto f = parse_json(fit.out);
  CHECK(f.root().at("minos").at("mu").at("upper").as_number() == Approx(sigma / std::sqrt(s.n)).margin(1e-4));
  CHECK(f.root().at("significance").at("Z0").as_number() == Approx(std::sqrt(s.n) * s.mean / sigma).epsilon(1e-5));
  CHECK(f.root().at("significance").at("Z0_exp").as_number() == Approx(std::sqrt(s.n) / sigma).epsilon(1e-5));

  // CLs limit (qtilde): the median expected limit of a Gaussian mean is Phi^-1(0.975) sigma/sqrt(n);
  // the observed one solves CLs = 0.05 with q = n(mu - xbar)^2/sigma^2, q_A = n mu^2/sigma^2.
  const RunResult limit = run_hs3fit("limit " + quote(ws.path()) + " --json");
  INFO(limit.err);
  REQUIRE(limit.exit_code == 0);
  const auto l = parse_json(limit.out);
  const double sigma_mu = sigma / std::sqrt(s.n);
  CHECK(l.root().at("exp_limits").elements()[2].as_number() == Approx(1.959963984540054 * sigma_mu).epsilon(2e-4));
  // observed: CLs(mu) = Phi(-(mu - xbar)/sigma_mu) / Phi(xbar/sigma_mu) (0 <= xbar <= mu), solved by bisection here
  auto cls = [&](double mu) {
    const double phi_sb = 0.5 * std::erfc((mu - s.mean) / sigma_mu / std::sqrt(2.0));
    const double phi_b = 0.5 * std::erfc(-s.mean / sigma_mu / std::sqrt(2.0));
    return phi_sb / phi_b;
  };
  double lo = s.mean, hi = 10;
  for (int i = 0; i < 200; ++i) ((cls(0.5 * (lo + hi)) > 0.05) ? lo : hi) = 0.5 * (lo + hi);
  CHECK(l.root().at("obs_limit").as_number() == Approx(0.5 * (lo + hi)).epsilon(2e-4));

  // toys are refused for these likelihoods
  const RunResult toys = run_hs3fit("limit " + quote(ws.path()) + " --toys 100");
  CHECK(toys.exit_code == 2);
  CHECK(toys.err.find("toys") != std::string::npos);
}

TEST_CASE("general HS3: the Asimov dataset at the best fit is fitted back to the best fit", "[infer][hs3]") {
  // Extended Gaussian signal + exponential background on [10, 20] with a Gaussian-constrained
  // nuisance parameter (a pyhs3 benchmark file): the Asimov dataset at theta-hat (weighted events on
  // 400 cells, global observable at alpha-hat) has its own maximum at theta-hat.
  LoadOptions o;
  o.general_hs3 = true;
  o.hs3.likelihoods = {"L_ch0"};
  const LoadedModel lm = load_model(shared_path("workspaces/hs3/pyhs3-benchmarks/1ch_bkgRooExp_sigGauss_shapeFloat_npOn_constrGauss_yield10x.json"), o);
  REQUIRE(lm.general);
  fit::FitOptions fo;
  fo.tolerance = 1e-6;
  const fit::FitResult best = fit::minimize(lm.objective, lm.model.parameters, fo);
  REQUIRE(best.converged);
  const hs3::GeneralModel a = lm.general->asimov(best.values);
  std::vector<model::Parameter> params = a.parameters;
  for (size_t i = 0; i < params.size(); ++i)
    if (!params[i].fixed) params[i].init = best.values[i];
  fit::Objective f = [&a](const double* x, double* g) { return g ? a.nll_and_gradient(x, g) : a.nll(x); };
  const fit::FitResult back = fit::minimize(f, params, fo);
  REQUIRE(back.converged);
  for (size_t i = 0; i < params.size(); ++i) {
    if (params[i].fixed) continue;
    INFO(params[i].name);
    CHECK(std::fabs(back.values[i] - best.values[i]) < 0.02 * best.errors[i]);  // cell discretization only
  }
}

TEST_CASE("likelihoods chosen by name take the POI their analyses agree on; scan and MINOS run on them", "[infer][hs3][cli]") {
  // Three channels, one analysis per channel, each with POI mu_sig (a pyhs3 benchmark file).
  const std::string ws = shared_path("workspaces/hs3/pyhs3-benchmarks/3ch_bkgRooExp_sigGauss_shapeFloat_npOn_constrGauss_yield1x.json");
  const RunResult fit = run_hs3fit("fit " + quote(ws) + " --likelihood all --minos mu_sig --json");
  INFO(fit.err);
  REQUIRE(fit.exit_code == 0);
  const auto f = parse_json(fit.out);
  CHECK(f.root().at("poi").as_string() == "mu_sig");
  const double mu_hat = f.root().at("poi_hat").as_number();
  const double up = f.root().at("minos").at("mu_sig").at("upper").as_number();
  const double lo = f.root().at("minos").at("mu_sig").at("lower").as_number();
  REQUIRE(up > 0);
  REQUIRE(lo < 0);
  // The MINOS ends are where the profile scan crosses 2ΔNLL = 1.
  const RunResult scan = run_hs3fit("scan " + quote(ws) + " --likelihood all --grid " + fmt::format("{}:{}:2", mu_hat + lo, mu_hat + up) +
                                    " --params mu_sig --json");
  INFO(scan.err);
  REQUIRE(scan.exit_code == 0);
  for (const auto& pt : parse_json(scan.out).root().at("points").elements())
    CHECK(pt.at("delta_twice_nll").as_number() == Approx(1.0).margin(2e-3));
}
