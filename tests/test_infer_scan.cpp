// Profile scans (1D, 2D) and MINOS intervals: closed forms for counting experiments, pyhf's
// profile_scan on every reference case, and MINOS against the crossing points of a fine scan.
#include <cmath>
#include <fmt/format.h>
#include <iostream>

#include "infer/asymptotics.h"
#include "infer/minos.h"
#include "infer/profile_scan.h"
#include "test_infer_support.h"

using namespace hs3fit;

namespace {

model::Model load_text(const std::string& text) {
  infertest::ScratchFile f(".json", text);
  return load_model(f.path()).model;
}

// Two signal regions with their own signal strengths and a control region fixing the
// background normalisation k (shared by all three regions).
const char* kThreeRegions = R"({"channels": [
  {"name": "SR1", "samples": [
     {"name": "sig", "data": [6.0], "modifiers": [{"name": "mu1", "type": "normfactor", "data": null}]},
     {"name": "bkg", "data": [10.0], "modifiers": [{"name": "k", "type": "normfactor", "data": null}]}]},
  {"name": "SR2", "samples": [
     {"name": "sig", "data": [4.0], "modifiers": [{"name": "mu2", "type": "normfactor", "data": null}]},
     {"name": "bkg", "data": [5.0], "modifiers": [{"name": "k", "type": "normfactor", "data": null}]}]},
  {"name": "CR", "samples": [
     {"name": "bkg", "data": [100.0], "modifiers": [{"name": "k", "type": "normfactor", "data": null}]}]}],
 "observations": [{"name": "SR1", "data": [19]}, {"name": "SR2", "data": [8]}, {"name": "CR", "data": [110]}],
 "measurements": [{"name": "m", "config": {"poi": "mu1", "parameters": []}}], "version": "1.0.0"})";

double pois(double n, double nu) { return nu - n * std::log(nu); }

// −ln L(mu1, mu2, k) up to a constant
double three_region_nll(double mu1, double mu2, double k) {
  return pois(19, 6 * mu1 + 10 * k) + pois(8, 4 * mu2 + 5 * k) + pois(110, 100 * k);
}

// min over k by golden-section search (independent of the library's minimizer)
double profiled_over_k(double mu1, double mu2) {
  double a = 0.2, b = 5.0;
  const double phi = (std::sqrt(5.0) - 1) / 2;
  double c = b - phi * (b - a), d = a + phi * (b - a);
  for (int i = 0; i < 200; ++i) {
    if (three_region_nll(mu1, mu2, c) < three_region_nll(mu1, mu2, d)) b = d; else a = c;
    c = b - phi * (b - a);
    d = a + phi * (b - a);
  }
  return three_region_nll(mu1, mu2, 0.5 * (a + b));
}

}  // namespace

TEST_CASE("a 2D profile scan matches the closed-form profile of a three-region model", "[infer]") {
  infer::Likelihood l(load_text(kThreeRegions));
  const fit::FitResult best = l.minimize();
  REQUIRE(best.converged);
  const uint32_t mu1 = l.model().parameter_index("mu1", "test"), mu2 = l.model().parameter_index("mu2", "test");
  const infer::ScanResult s =
      infer::profile_scan(l, {{mu1, infer::linspace(0.5, 2.5, 5)}, {mu2, infer::linspace(0.0, 2.0, 4)}}, best);
  REQUIRE(s.points.size() == 20);
  CHECK(s.failed_fits == 0);
  CHECK(s.intervals.empty());
  // global minimum: golden-section over k at the free fit's mu's is the reference minimum
  const double nll_min = profiled_over_k(best.values[mu1], best.values[mu2]);
  for (const infer::ScanPoint& p : s.points) {
    INFO("mu1 = " << p.coords[0] << ", mu2 = " << p.coords[1]);
    CHECK(p.delta_twice_nll == Approx(2 * (profiled_over_k(p.coords[0], p.coords[1]) - nll_min)).margin(2e-6));
  }
  CHECK(s.points[1 * 4 + 2].coords == std::vector<double>{1.0, 2.0 * 2 / 3});  // first axis slowest
}

TEST_CASE("1D scan intervals and MINOS match the closed-form interval of a counting experiment", "[infer]") {
  // one bin, s = 10 · mu over b = 5 known, n = 18: 2ΔNLL(mu) = 2[pois(n, 10mu+5) − pois(n, n)]
  const std::string ws = R"({"channels": [{"name": "SR", "samples": [
      {"name": "sig", "data": [10.0], "modifiers": [{"name": "mu", "type": "normfactor", "data": null}]},
      {"name": "bkg", "data": [5.0], "modifiers": []}]}],
    "observations": [{"name": "SR", "data": [18]}],
    "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": []}}], "version": "1.0.0"})";
  infer::Likelihood l(load_text(ws));
  const fit::FitResult best = l.minimize();
  const uint32_t mu = *l.model().poi;
  auto d2nll = [](double m) { return 2 * (pois(18, 10 * m + 5) - pois(18, 18)); };
  // bisection for the crossings (independent reference)
  auto crossing = [&](double inside, double outside, double thr) {
    for (int i = 0; i < 200; ++i) {
      const double mid = 0.5 * (inside + outside);
      (d2nll(mid) < thr ? inside : outside) = mid;
    }
    return 0.5 * (inside + outside);
  };
  const double mu_hat = 1.3;
  for (double cl : {0.6826894921370859, 0.95}) {
    const double thr = infer::chi2_threshold(cl, 1);
    const double lo = crossing(mu_hat, 0.0, thr), hi = crossing(mu_hat, 5.0, thr);
    infer::MinosOptions mo;
    mo.threshold = thr;
    const infer::MinosInterval m = infer::minos(l, best, mu, 0.4, mo);
    CHECK(m.lower_valid);
    CHECK(m.upper_valid);
    CHECK(m.value + m.lower == Approx(lo).margin(1e-5));
    CHECK(m.value + m.upper == Approx(hi).margin(1e-5));
    // a scan with 41 points: interpolated crossings
    const infer::ScanResult s = infer::profile_scan(l, {{mu, infer::linspace(0.0, 3.0, 41)}}, best);
    const infer::ScanInterval si = infer::scan_interval(s, cl);
    CHECK(si.lo_found);
    CHECK(si.hi_found);
    CHECK(si.lo == Approx(lo).margin(2e-3));
    CHECK(si.hi == Approx(hi).margin(2e-3));
    for (const infer::ScanPoint& p : s.points) CHECK(p.delta_twice_nll == Approx(d2nll(p.coords[0])).margin(1e-6));
  }
}

TEST_CASE("MINOS stops at a bound the profile does not cross", "[infer]") {
  // n = 4 on b = 5: mu_hat = 0 at its lower bound
  const std::string ws = R"({"channels": [{"name": "SR", "samples": [
      {"name": "sig", "data": [3.0], "modifiers": [{"name": "mu", "type": "normfactor", "data": null}]},
      {"name": "bkg", "data": [5.0], "modifiers": []}]}],
    "observations": [{"name": "SR", "data": [4]}],
    "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": []}}], "version": "1.0.0"})";
  infer::Likelihood l(load_text(ws));
  const fit::FitResult best = l.minimize();
  const infer::MinosInterval m = infer::minos(l, best, *l.model().poi, 1.0);
  CHECK(m.value == Approx(0.0).margin(1e-6));
  CHECK(m.lower_at_limit);
  CHECK_FALSE(m.lower_valid);
  CHECK(m.lower == Approx(0.0).margin(1e-6));
  CHECK(m.upper_valid);
  CHECK(m.upper > 0.5);
}

TEST_CASE("profile scans match pyhf's profile_scan on every reference case", "[infer][pyhf]") {
  double worst = 0;
  for (const infertest::PyhfReference& ref : infertest::pyhf_references()) {
    INFO(ref.id);
    LoadedModel lm = load_model(ref.workspace, ref.load_options());
    infer::Likelihood l(lm.model);
    const fit::FitResult best = l.minimize();
    CHECK(best.converged);
    const infer::ScanResult s = infer::profile_scan(l, {{*lm.model.poi, ref.scan_grid}}, best);
    CHECK(s.failed_fits == 0);
    double dev = 0;
    for (size_t i = 0; i < ref.scan_grid.size(); ++i) {
      INFO("POI = " << ref.scan_grid[i]);
      CHECK(s.points[i].delta_twice_nll == Approx(ref.scan_delta_twice_nll[i]).margin(1e-4));
      CHECK(2 * s.points[i].nll == Approx(ref.scan_twice_nll[i]).margin(1e-4));
      dev = std::max(dev, std::fabs(s.points[i].delta_twice_nll - ref.scan_delta_twice_nll[i]));
    }
    worst = std::max(worst, dev);
    std::cout << fmt::format("scan {:40s} {} points, max |d(2dNLL)| {:.1e}\n", ref.id, ref.scan_grid.size(), dev);
  }
  std::cout << fmt::format("profile scans: max |2dNLL - pyhf| = {:.2e}\n", worst);
}

TEST_CASE("MINOS intervals agree with the crossing points of a fine profile scan", "[infer][pyhf]") {
  // reference cases whose POI minimum is inside its bounds, and one nuisance parameter
  struct Case { const char* id; const char* param; };
  for (const Case c : {Case{"bayes-SH4b-toy", "mu"}, Case{"c2p-one-bin-sys-normsys-uncorr", "r_sig"},
                       Case{"atlas-mbj-Gtt-0L-B", "mu_ttbar_Gtt_0L_B"}, Case{"histfactory-example", "SigXsecOverSM"}}) {
    INFO(c.id << " " << c.param);
    const infertest::PyhfReference ref = infertest::read_pyhf_reference(infertest::shared(std::string("reference/pyhf/") + c.id + ".json"));
    LoadedModel lm = load_model(ref.workspace, ref.load_options());
    fit::FitOptions fo = infer::inference_fit_options();
    fo.compute_covariance = true;
    infer::Likelihood l(lm.model, fo);
    const fit::FitResult best = l.minimize();
    REQUIRE(best.converged);
    const uint32_t par = lm.model.parameter_index(c.param, "test");
    const double sigma = best.errors[par];
    const infer::MinosInterval m = infer::minos(l, best, par, sigma);
    CHECK(m.fits_converged);
    const model::Parameter& p = lm.model.parameters[par];
    const double lo = std::max(p.lo, best.values[par] - 2.5 * sigma), hi = std::min(p.hi, best.values[par] + 2.5 * sigma);
    const infer::ScanResult s = infer::profile_scan(l, {{par, infer::linspace(lo, hi, 51)}}, best);
    const infer::ScanInterval si = s.intervals.at(0);
    CHECK(si.threshold == Approx(1.0));
    const double step = (hi - lo) / 50;
    CHECK(m.lower_valid == si.lo_found);
    CHECK(m.upper_valid == si.hi_found);
    if (si.lo_found) CHECK(m.value + m.lower == Approx(si.lo).margin(1e-3 * step + 1e-4 * sigma));
    if (si.hi_found) CHECK(m.value + m.upper == Approx(si.hi).margin(1e-3 * step + 1e-4 * sigma));
    std::cout << fmt::format("minos {:34s} {:20s} {:.6g} {:+.6g} {:+.6g} (scan {:+.6g} {:+.6g}; hesse {:.6g}), {} fits\n", c.id,
                             c.param, m.value, m.lower, m.upper, si.lo - m.value, si.hi - m.value, sigma, m.fits);
  }
}
