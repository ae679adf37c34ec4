// Asymptotic hypothesis tests (CLs, CLsb, CLb, expected band) and the discovery significance
// against closed forms for a counting experiment and against pyhf 0.7.6's hypotest.
#include <cmath>
#include <fmt/format.h>
#include <iostream>

#include "infer/calculator.h"
#include "test_infer_support.h"

using namespace hs3fit;

namespace {

// One bin, signal s scaled by mu, background b known exactly, n observed.
std::string counting_workspace(double s, double b, double n) {
  return fmt::format(
      R"({{"channels": [{{"name": "SR", "samples": [
           {{"name": "signal", "data": [{}], "modifiers": [{{"name": "mu", "type": "normfactor", "data": null}}]}},
           {{"name": "background", "data": [{}], "modifiers": []}}]}}],
         "observations": [{{"name": "SR", "data": [{}]}}],
         "measurements": [{{"name": "m", "config": {{"poi": "mu", "parameters": []}}}}],
         "version": "1.0.0"}})",
      s, b, n);
}

model::Model load_text(const std::string& text) {
  infertest::ScratchFile f(".json", text);
  return load_model(f.path()).model;
}

// −ln L of the counting experiment up to a constant, and its closed-form pieces.
double counting_nll(double mu, double s, double b, double n) { return mu * s + b - n * std::log(mu * s + b); }

}  // namespace

TEST_CASE("normal quantiles and chi2 thresholds match tabulated values", "[infer]") {
  // Abramowitz & Stegun 26.2 / any statistics table
  CHECK(infer::normal_quantile(0.975) == Approx(1.959963984540054).epsilon(1e-14));
  CHECK(infer::normal_quantile(0.5) == Approx(0.0).margin(1e-15));
  CHECK(infer::normal_quantile(0.8413447460685429) == Approx(1.0).epsilon(1e-13));
  CHECK(infer::normal_quantile(2.866515718791939e-07) == Approx(-5.0).epsilon(1e-12));
  CHECK(infer::normal_quantile(1 - 1e-10) == Approx(6.361340902404056).epsilon(1e-6));
  CHECK(infer::chi2_threshold(0.95, 1) == Approx(3.841458820694124).epsilon(1e-13));
  CHECK(infer::chi2_threshold(0.6826894921370859, 1) == Approx(1.0).epsilon(1e-12));
  CHECK(infer::chi2_threshold(0.95, 2) == Approx(5.991464547107979).epsilon(1e-13));
  CHECK(infer::normal_cdf(-1.0) == Approx(0.15865525393145707).epsilon(1e-14));
}

TEST_CASE("test statistics follow the piecewise definitions of arXiv:1007.1727", "[infer]") {
  using infer::TestStat;
  // nll_cond − nll_free = 1.5 ⇒ −2 ln λ = 3
  CHECK(infer::test_statistic(TestStat::Tmu, 1.0, 11.5, 10.0, 2.0) == 3.0);
  CHECK(infer::test_statistic(TestStat::Qmu, 1.0, 11.5, 10.0, 2.0) == 0.0);  // μ̂ > μ
  CHECK(infer::test_statistic(TestStat::QmuTilde, 1.0, 11.5, 10.0, 0.5) == 3.0);
  CHECK(infer::test_statistic(TestStat::Q0, 0.0, 11.5, 10.0, -0.1) == 0.0);  // μ̂ < 0
  CHECK(infer::test_statistic(TestStat::Q0, 0.0, 11.5, 10.0, 0.1) == 3.0);
  CHECK(infer::test_statistic(TestStat::Tmu, 1.0, 10.0 - 1e-9, 10.0, 2.0) == 0.0);  // clipped at 0
}

TEST_CASE("discovery significance of a counting experiment matches the closed forms", "[infer]") {
  const double s = 10, b = 20, n = 32;
  const infer::Significance z = infer::discovery_significance(load_text(counting_workspace(s, b, n)));
  // observed: q0 = 2 (n ln(n/b) − (n − b)); expected (Asimov n = s + b, arXiv:1007.1727 eq. 97):
  // Z_A = sqrt(2 ((s + b) ln(1 + s/b) − s))
  const double q0 = 2 * (n * std::log(n / b) - (n - b));
  const double za = std::sqrt(2 * ((s + b) * std::log(1 + s / b) - s));
  CHECK(z.converged);
  CHECK(z.poi_hat == Approx((n - b) / s).epsilon(1e-6));
  CHECK(z.q0 == Approx(q0).epsilon(1e-7));
  CHECK(z.z0 == Approx(std::sqrt(q0)).epsilon(1e-7));
  CHECK(z.p0 == Approx(0.5 * std::erfc(std::sqrt(q0) / std::sqrt(2.0))).epsilon(1e-6));
  CHECK(z.z0_exp == Approx(za).epsilon(1e-7));
  CHECK(z.p0_exp == Approx(0.5 * std::erfc(za / std::sqrt(2.0))).epsilon(1e-6));
}

TEST_CASE("CLs of a counting experiment matches the closed-form qtilde formulas", "[infer]") {
  const double s = 8, b = 15, n = 17;
  infer::AsymptoticCalculator calc(load_text(counting_workspace(s, b, n)));
  const double mu_hat = (n - b) / s;
  CHECK(calc.free_fit().values[calc.poi()] == Approx(mu_hat).epsilon(1e-6));
  for (double mu : {0.5, 1.0, 2.0}) {
    const infer::HypotestResult h = calc.hypotest(mu);
    // q̃μ on the data and on the Asimov data n_A = b (μ̂_A = 0)
    const double q = mu_hat > mu ? 0 : 2 * (counting_nll(mu, s, b, n) - counting_nll(mu_hat, s, b, n));
    const double qa = 2 * (counting_nll(mu, s, b, b) - counting_nll(0, s, b, b));
    CHECK(h.q_obs == Approx(q).epsilon(1e-7));
    CHECK(h.q_asimov == Approx(qa).epsilon(1e-7));
    // CCGV eq. 66 (q̃μ ≤ q_A branch here): CLsb = 1 − Φ(√q̃), CLb = Φ(√q_A − √q̃)
    REQUIRE(q <= qa);
    const double clsb = 0.5 * std::erfc(std::sqrt(q) / std::sqrt(2.0));
    const double clb = 0.5 * std::erfc(-(std::sqrt(qa) - std::sqrt(q)) / std::sqrt(2.0));
    CHECK(h.obs.clsb == Approx(clsb).epsilon(1e-6));
    CHECK(h.obs.clb == Approx(clb).epsilon(1e-6));
    CHECK(h.obs.cls == Approx(clsb / clb).epsilon(1e-6));
    // median expected: CLs = (1 − Φ(√q_A)) / 0.5
    CHECK(h.exp[2].cls == Approx(2 * 0.5 * std::erfc(std::sqrt(qa) / std::sqrt(2.0))).epsilon(1e-6));
  }
}

TEST_CASE("asymptotic CLs at POI = 1 matches pyhf's hypotest on every reference case", "[infer][pyhf]") {
  double worst_obs = 0, worst_exp = 0;
  for (const infertest::PyhfReference& ref : infertest::pyhf_references()) {
    INFO(ref.id);
    LoadedModel lm = load_model(ref.workspace, ref.load_options());
    infer::AsymptoticCalculator calc(lm.model);
    const infer::HypotestResult h = calc.hypotest(1.0);
    CHECK(h.converged);
    CHECK(h.obs.cls == Approx(ref.cls_obs).margin(1e-4));
    worst_obs = std::max(worst_obs, std::fabs(h.obs.cls - ref.cls_obs));
    for (size_t k = 0; k < 5; ++k) {
      INFO("expected band " << infer::kBandNames[k]);
      CHECK(h.exp[k].cls == Approx(ref.cls_exp[k]).margin(1e-4));
      worst_exp = std::max(worst_exp, std::fabs(h.exp[k].cls - ref.cls_exp[k]));
    }
    std::cout << fmt::format("hypotest {:40s} CLs_obs {:.8f} (pyhf {:.8f})  max |dCLs_exp| {:.2e}\n", ref.id, h.obs.cls,
                             ref.cls_obs, [&] { double m = 0; for (size_t k = 0; k < 5; ++k) m = std::max(m, std::fabs(h.exp[k].cls - ref.cls_exp[k])); return m; }());
  }
  std::cout << fmt::format("hypotest: max |CLs_obs - pyhf| = {:.2e}, max |CLs_exp - pyhf| = {:.2e}\n", worst_obs, worst_exp);
}

TEST_CASE("discovery significance matches pyhf's q0 hypotest", "[infer][pyhf]") {
  // pyhf 0.7.6: hypotest(0.0, data, model, test_stat="q0", return_expected_set=True) with
  // scipy_optimizer(tolerance=1e-12); c2p-* with the POI bounds [0, 10] of its reference file.
  struct Case { const char* id; double p0; std::array<double, 5> p0_exp; };
  const Case cases[] = {
      {"histfactory-example", 0.029423318601989948,
       {0.00010134691576050089, 0.0033074378743502236, 0.04311441409666983, 0.23710831035533902, 0.6119345768651219}},
      {"bayes-SH4b-toy", 0.12514909084278458,
       {1.9979531576309188e-05, 0.0009426950432013175, 0.017527771491618892, 0.13399219492826958, 0.45711039924981006}},
      {"c2p-one-bin-sys-normsys-uncorr", 6.224314684323526e-32,
       {2.0608423659185422e-34, 2.6423348134874675e-29, 1.2559380335744054e-24, 2.216354138926899e-20, 1.454997488012489e-16}},
      {"atlas-mbj-Gtt-0L-B", 0.4658536421685366,
       {0.00014943315356848356, 0.0044446725419620605, 0.05301682079188013, 0.2688546432352809, 0.6494067535241658}},
  };
  for (const Case& c : cases) {
    INFO(c.id);
    const infertest::PyhfReference ref = infertest::read_pyhf_reference(infertest::shared(std::string("reference/pyhf/") + c.id + ".json"));
    const infer::Significance s = infer::discovery_significance(load_model(ref.workspace, ref.load_options()).model);
    CHECK(s.converged);
    // compared as significances Z = Φ⁻¹(1 − p), so that tiny p-values are compared sensibly
    auto z = [](double p) { return -infer::normal_quantile(p); };
    CHECK(z(s.p0) == Approx(z(c.p0)).margin(1e-4));
    CHECK(s.z0 == Approx(z(c.p0)).margin(1e-4));
    for (size_t k = 0; k < 5; ++k) CHECK(z(s.p0_exp_band[k]) == Approx(z(c.p0_exp[k])).margin(1e-4));
    CHECK(s.z0_exp == Approx(z(c.p0_exp[2])).margin(1e-4));
  }
}

TEST_CASE("the q test statistic matches pyhf's hypotest(test_stat='q'), also with a POI bounded below 0", "[infer][pyhf]") {
  // pyhf 0.7.6 hypotest(mu, ..., test_stat="q", return_tail_probs=True, return_expected_set=True),
  // scipy_optimizer(tolerance=1e-12), the workspaces' own POI bounds (c2p: [-10, 10]).
  struct Case { const char* id; double mu, cls, clsb, clb; std::array<double, 5> exp; };
  const Case cases[] = {
      {"c2p-one-bin-sys-normsys-uncorr", 1.5, 0.14873317365112956, 0.1487331736511288, 0.999999999999995,
       {9.382414104011625e-26, 4.315139137176118e-22, 1.6316730032993828e-18, 4.302832355811547e-15, 6.139675688305434e-12}},
      {"histfactory-example", 2.0, 0.12188566532127722, 0.11517661639998755, 0.94495621036645,
       {3.535353976447152e-05, 0.00046109650771108474, 0.005153978609434646, 0.04296460479836616, 0.21760371207489126}},
  };
  for (const Case& c : cases) {
    INFO(c.id);
    const infertest::PyhfReference ref = infertest::read_pyhf_reference(infertest::shared(std::string("reference/pyhf/") + c.id + ".json"));
    LoadOptions lo;
    lo.build.measurement = ref.measurement;
    infer::AsymptoticCalculator calc(load_model(ref.workspace, lo).model, {infer::TestStat::Qmu, infer::inference_fit_options()});
    const infer::HypotestResult h = calc.hypotest(c.mu);
    CHECK(h.obs.cls == Approx(c.cls).margin(1e-4));
    CHECK(h.obs.clsb == Approx(c.clsb).margin(1e-4));
    CHECK(h.obs.clb == Approx(c.clb).margin(1e-4));
    auto z = [](double p) { return -infer::normal_quantile(p); };
    for (size_t k = 0; k < 5; ++k) CHECK(z(h.exp[k].cls) == Approx(z(c.exp[k])).margin(1e-4));
  }
}

TEST_CASE("qtilde raises a negative POI lower bound to 0, matching pyhf with the bound at 0", "[infer][pyhf]") {
  // c2p workspaces bound their POI to [-10, 10]; pyhf's reference used [0, 10]
  const infertest::PyhfReference ref =
      infertest::read_pyhf_reference(infertest::shared("reference/pyhf/c2p-one-bin-sys-histosys-uncorr.json"));
  REQUIRE(ref.poi_bounds);
  LoadOptions lo;
  lo.build.measurement = ref.measurement;
  const model::Model m = load_model(ref.workspace, lo).model;
  REQUIRE(m.parameters[*m.poi].lo == -10);
  CHECK(infer::model_for_test_stat(m, infer::TestStat::QmuTilde).parameters[*m.poi].lo == 0);
  CHECK(infer::model_for_test_stat(m, infer::TestStat::Qmu).parameters[*m.poi].lo == -10);
  infer::AsymptoticCalculator calc(m);
  const infer::HypotestResult h = calc.hypotest(1.0);
  CHECK(h.obs.cls == Approx(ref.cls_obs).margin(1e-4));
  for (size_t k = 0; k < 5; ++k) CHECK(h.exp[k].cls == Approx(ref.cls_exp[k]).margin(1e-4));
}
