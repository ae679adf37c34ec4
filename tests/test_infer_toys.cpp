// Toys: the samplers against their distributions, reproducibility (seeds, thread counts), and
// toy-based CLs against the asymptotic CLs on a high-statistics model.
#include <chrono>
#include <cmath>
#include <fmt/format.h>
#include <iostream>
#include <map>

#include "infer/calculator.h"
#include "infer/random.h"
#include "infer/toys.h"
#include "test_infer_support.h"

using namespace hs3fit;

namespace {

model::Model load_text(const std::string& text) {
  infertest::ScratchFile f(".json", text);
  return load_model(f.path()).model;
}

// pmf of Poisson(mean) at k, closed form
double poisson_pmf(double k, double mean) { return std::exp(k * std::log(mean) - mean - std::lgamma(k + 1)); }

// χ² of sampled counts against the Poisson pmf, bins with expectation ≥ 5 (tail bins merged)
double poisson_chi2(double mean, int n, uint64_t seed, int* dof) {
  infer::Rng rng(seed);
  std::map<int, int> counts;
  for (int i = 0; i < n; ++i) ++counts[static_cast<int>(infer::poisson(rng, mean))];
  double chi2 = 0, below = 0, below_expected = 0;
  *dof = -1;
  const int kmax = static_cast<int>(mean + 12 * std::sqrt(mean) + 20);
  for (int k = 0; k <= kmax; ++k) {
    const double e = n * poisson_pmf(k, mean);
    below += counts.count(k) ? counts[k] : 0;
    below_expected += e;
    if (below_expected >= 5) {
      chi2 += (below - below_expected) * (below - below_expected) / below_expected;
      ++*dof;
      below = below_expected = 0;
    }
  }
  return chi2;
}

// A counting experiment with enough events for the asymptotic formulae: signal 40·mu on a
// background of 400 with a 5 % normalisation uncertainty, 410 events observed.
const char* kHighStatistics = R"({"channels": [{"name": "SR", "samples": [
   {"name": "signal", "data": [40.0], "modifiers": [{"name": "mu", "type": "normfactor", "data": null}]},
   {"name": "background", "data": [400.0], "modifiers": [{"name": "bkg_norm", "type": "normsys", "data": {"hi": 1.05, "lo": 0.95}}]}]}],
 "observations": [{"name": "SR", "data": [410]}],
 "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": []}}], "version": "1.0.0"})";

}  // namespace

TEST_CASE("the Poisson sampler follows the Poisson distribution on both of its algorithms", "[infer][toys]") {
  for (double mean : {0.3, 3.0, 9.5, 10.0, 25.0, 400.0}) {
    INFO("mean " << mean);
    int dof = 0;
    const double chi2 = poisson_chi2(mean, 100000, 42 + static_cast<uint64_t>(mean * 10), &dof);
    REQUIRE(dof >= 1);
    // χ² with dof degrees of freedom: mean dof, sd √(2 dof); 5 sd is far in the tail
    CHECK(chi2 < dof + 5 * std::sqrt(2.0 * dof));
  }
  infer::Rng rng(7);
  double sum = 0, sum2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double k = infer::poisson(rng, 1e5);
    sum += k;
    sum2 += k * k;
  }
  const double m = sum / n, var = sum2 / n - m * m;
  CHECK(std::fabs(m - 1e5) < 5 * std::sqrt(1e5 / n));
  CHECK(var == Approx(1e5).epsilon(0.02));
  CHECK(infer::poisson(rng, 0.0) == 0.0);
  CHECK(infer::poisson(rng, -1.0) == 0.0);
}

TEST_CASE("the Gaussian sampler has mean 0, variance 1 and normal tail fractions", "[infer][toys]") {
  infer::Rng rng(2024);
  const int n = 400000;
  double sum = 0, sum2 = 0;
  int within1 = 0, beyond2 = 0;
  for (int i = 0; i < n; ++i) {
    const double z = infer::standard_normal(rng);
    sum += z;
    sum2 += z * z;
    within1 += std::fabs(z) < 1;
    beyond2 += std::fabs(z) > 2;
  }
  CHECK(std::fabs(sum / n) < 5 / std::sqrt(double(n)));
  CHECK(sum2 / n == Approx(1.0).margin(5 * std::sqrt(2.0 / n)));
  const double p1 = 0.6826894921370859, p2 = 0.04550026389635842;  // P(|z| < 1), P(|z| > 2)
  CHECK(within1 / double(n) == Approx(p1).margin(5 * std::sqrt(p1 * (1 - p1) / n)));
  CHECK(beyond2 / double(n) == Approx(p2).margin(5 * std::sqrt(p2 * (1 - p2) / n)));
}

TEST_CASE("toy random streams depend only on seed, sample and index", "[infer][toys]") {
  infer::Rng a = infer::Rng::for_toy(7, 0, 12), b = infer::Rng::for_toy(7, 0, 12);
  for (int i = 0; i < 10; ++i) CHECK(a.next() == b.next());
  CHECK(infer::Rng::for_toy(7, 0, 12).next() != infer::Rng::for_toy(7, 0, 13).next());
  CHECK(infer::Rng::for_toy(7, 0, 12).next() != infer::Rng::for_toy(7, 1, 12).next());
  CHECK(infer::Rng::for_toy(7, 0, 12).next() != infer::Rng::for_toy(8, 0, 12).next());
}

TEST_CASE("percentiles interpolate linearly as numpy's", "[infer]") {
  CHECK(infer::percentile_linear({4, 1, 3, 2}, 50) == 2.5);  // numpy.percentile([1,2,3,4], 50)
  CHECK(infer::percentile_linear({5, 4, 3, 2, 1}, 2.275) == Approx(1.091));
  CHECK(infer::percentile_linear({1, 2}, 100) == 2);
  CHECK(infer::percentile_linear({1, 2}, 0) == 1);
}

TEST_CASE("toy datasets sample main counts and auxiliary data around the generating point", "[infer][toys]") {
  const model::Model m = load_text(kHighStatistics);
  infer::Likelihood l(m);
  std::vector<double> x = m.initial_values();
  x[m.parameter_index("bkg_norm", "test")] = 0.5;
  const infer::Dataset expected = l.expected(x);
  infer::Rng rng(3);
  double sum_n = 0, sum_aux = 0, sum_aux2 = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const infer::Dataset d = infer::sample_dataset(m, expected, x, rng);
    sum_n += d.observed[0][0];
    sum_aux += d.aux[0];
    sum_aux2 += d.aux[0] * d.aux[0];
  }
  // ν = 40·1 + 400·(1.05^0.5 interpolated, code4 inside |α|<1) — use the library's expectation
  const double nu = expected.observed[0][0];
  CHECK(nu > 440);
  CHECK(std::fabs(sum_n / n - nu) < 5 * std::sqrt(nu / n));
  CHECK(std::fabs(sum_aux / n - 0.5) < 5 / std::sqrt(double(n)));  // Gaussian aux ~ N(θ = 0.5, 1)
  CHECK(sum_aux2 / n - std::pow(sum_aux / n, 2) == Approx(1.0).margin(0.05));
}

TEST_CASE("toy CLs is bit-identical for any number of threads", "[infer][toys]") {
  const model::Model m = load_text(kHighStatistics);
  std::vector<infer::ToyHypotest> results;
  for (int threads : {1, 3}) {
    infer::ToyOptions o;
    o.ntoys = 60;
    o.seed = 11;
    o.threads = threads;
    infer::ToyCalculator calc(m, o);
    results.push_back(calc.hypotest(1.2));
  }
  const infer::ToyHypotest &a = results[0], &b = results[1];
  REQUIRE(a.q_sb.size() == 60);
  CHECK(a.q_sb == b.q_sb);
  CHECK(a.q_b == b.q_b);
  CHECK(a.result.obs.cls == b.result.obs.cls);
  for (size_t k = 0; k < 5; ++k) CHECK(a.result.exp[k].cls == b.result.exp[k].cls);
  // another seed gives other toys
  infer::ToyOptions o;
  o.ntoys = 60;
  o.seed = 12;
  o.threads = 2;
  infer::ToyCalculator other(m, o);
  CHECK(other.hypotest(1.2).q_sb != a.q_sb);
}

TEST_CASE("toy-based CLs agrees with the asymptotic CLs on a high-statistics model", "[infer][toys][slow]") {
  const model::Model m = load_text(kHighStatistics);
  infer::AsymptoticCalculator asym(m);
  infer::ToyOptions o;
  o.ntoys = 5000;
  o.seed = 1;
  o.threads = 2;
  const auto t0 = std::chrono::steady_clock::now();
  infer::ToyCalculator toys(m, o);
  for (double mu : {1.0, 2.0}) {
    INFO("mu = " << mu);
    const infer::HypotestResult a = asym.hypotest(mu);
    const infer::ToyHypotest t = toys.hypotest(mu);
    CHECK(t.failed_toys == 0);
    CHECK(t.result.q_obs == Approx(a.q_obs).epsilon(1e-6));
    // within 3 standard errors of the toys
    CHECK(std::fabs(t.result.obs.cls - a.obs.cls) < 3 * t.obs_error.cls);
    CHECK(std::fabs(t.result.obs.clsb - a.obs.clsb) < 3 * t.obs_error.clsb);
    CHECK(std::fabs(t.result.obs.clb - a.obs.clb) < 3 * t.obs_error.clb);
    // median expected CLs: its standard error from the binomial error of CLsb at that point
    const double e = a.exp[2].cls, clsb = a.exp[2].clsb;
    const double err = e * std::sqrt(clsb * (1 - clsb) / o.ntoys) / clsb + std::sqrt(0.25 / o.ntoys);
    CHECK(std::fabs(t.result.exp[2].cls - e) < 3 * err);
    std::cout << fmt::format("toys mu={}: CLs {:.4f} ± {:.4f} (asymptotic {:.4f}), CLsb {:.4f} (asymptotic {:.4f}), "
                             "CLb {:.4f} (asymptotic {:.4f}), median expected CLs {:.4f} (asymptotic {:.4f})\n",
                             mu, t.result.obs.cls, t.obs_error.cls, a.obs.cls, t.result.obs.clsb, a.obs.clsb, t.result.obs.clb,
                             a.obs.clb, t.result.exp[2].cls, e);
  }
  std::cout << fmt::format("toys: 2 x {} toys at 2 POI values in {:.2f} s ({} fits)\n", o.ntoys,
                           std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), toys.fits());
}
