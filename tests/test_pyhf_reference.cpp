// hs3fit against pyhf 0.7.6's own results (shared/reference/pyhf/*.json, produced with
// iminuit MIGRAD + HESSE at tolerance 1e-5): −ln L at pyhf's points, the best fit, its errors,
// and fits with the POI fixed at 0 and 1.
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>

#include "test_support.h"

namespace {

using namespace hs3test;
namespace fs = std::filesystem;

struct RefParameter {
  std::string name;
  double value = 0, error = 0;
};

struct Reference {
  std::string id;         // file stem
  std::string file;       // reference file
  std::string workspace;  // workspace file
  std::string measurement, poi;
  bool poi_bounds_override = false;
  double poi_lo = 0, poi_hi = 0;
  double bestfit_twice_nll = 0, init_twice_nll = 0;
  bool accurate_covariance = false;
  std::vector<RefParameter> bestfit;
  std::vector<std::pair<double, double>> fixed_poi;  // POI value → twice_nll

  hs3fit::LoadOptions load_options() const {
    hs3fit::LoadOptions o;
    o.build.measurement = measurement;
    o.build.poi = poi;
    if (poi_bounds_override) o.overrides.bounds.push_back({poi, poi_lo, poi_hi});
    return o;
  }
  // The same as CLI options.
  std::string cli_options() const {
    std::ostringstream s;
    s.precision(17);
    s << "-m " << quote(measurement) << " --poi " << quote(poi);
    if (poi_bounds_override) {
      std::ostringstream b;
      b.precision(17);
      b << poi << "=" << poi_lo << ":" << poi_hi;
      s << " --bounds " << quote(b.str());
    }
    return s.str();
  }
};

Reference read_reference(const std::string& path) {
  hs3fit::json::Document doc = hs3fit::json::parse_file(path);
  hs3fit::json::Node root = doc.root();
  Reference r;
  r.file = path;
  r.id = fs::path(path).stem().string();
  hs3fit::json::Node ws = root.at("workspace");
  const std::string rel = ws.at("path").as_string();
  REQUIRE(rel.rfind("workspaces/", 0) == 0);
  r.workspace = shared_path(rel);
  r.measurement = ws.at("measurement").as_string();
  r.poi = ws.at("poi").as_string();
  if (!ws.at("poi_bounds_override").is_null()) {
    r.poi_bounds_override = true;
    std::vector<double> b = ws.at("poi_bounds").as_numbers();
    REQUIRE(b.size() == 2);
    r.poi_lo = b[0];
    r.poi_hi = b[1];
  }
  REQUIRE(ws.at("patch").is_null());  // no reference uses a patch today; handle it here if one does
  hs3fit::json::Node best = root.at("bestfit");
  r.bestfit_twice_nll = best.at("twice_nll").as_number();
  r.accurate_covariance = best.at("fit").at("accurate_covariance").as_bool();
  for (const auto& [name, value] : best.at("parameters").members()) {
    std::vector<double> ve = value.as_numbers();
    REQUIRE(ve.size() == 2);
    r.bestfit.push_back({name, ve[0], ve[1]});
  }
  r.init_twice_nll = root.at("nll_at_init").at("twice_nll").as_number();
  for (const auto& [key, value] : root.at("fixed_poi_fits").members())
    r.fixed_poi.emplace_back(std::stod(key), value.at("twice_nll").as_number());
  return r;
}

const std::vector<Reference>& references() {
  static const std::vector<Reference> refs = [] {
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(shared_path("reference/pyhf")))
      if (e.path().extension() == ".json") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    std::vector<Reference> out;
    for (const auto& f : files) out.push_back(read_reference(f));
    return out;
  }();
  return refs;
}

std::vector<double> point_of(const Compiled& c, const Reference& ref) {
  std::vector<double> x = c.model().initial_values();
  for (const RefParameter& p : ref.bestfit) x[c.index(p.name)] = p.value;
  return x;
}

double rel_diff(double a, double b) { return std::fabs(a - b) / std::max(std::fabs(b), 1e-300); }

}  // namespace

TEST_CASE("the pyhf reference corpus is there and complete", "[pyhf-reference]") {
  // 17 cases today; every one has a best fit, an initial-point NLL and POI-fixed fits at 0 and 1.
  REQUIRE(references().size() >= 17);
  for (const Reference& ref : references()) {
    INFO(ref.id);
    CHECK(file_exists(ref.workspace));
    CHECK(!ref.bestfit.empty());
    REQUIRE(ref.fixed_poi.size() == 2);
    CHECK(ref.fixed_poi[0].first == 0.0);
    CHECK(ref.fixed_poi[1].first == 1.0);
  }
}

TEST_CASE("parameters have pyhf's names, order, initial values and bounds", "[pyhf-reference]") {
  for (const Reference& ref : references()) {
    INFO(ref.id);
    auto c = compile_file(ref.workspace, ref.load_options());
    // The reference lists the parameters in pyhf's par_order.
    REQUIRE(c->n() == ref.bestfit.size());
    for (size_t i = 0; i < c->n(); ++i) CHECK(c->params()[i].name == ref.bestfit[i].name);
    REQUIRE(c->model().poi);
    CHECK(c->params()[*c->model().poi].name == ref.poi);
    // Parameters pyhf reports with error 0 are the fixed ones.
    for (const RefParameter& p : ref.bestfit) {
      INFO(p.name);
      CHECK(c->params()[c->index(p.name)].fixed == (p.error == 0.0));
    }
  }
}

TEST_CASE("twice_nll at pyhf's best-fit point and initial point equals pyhf's to 1e-9", "[pyhf-reference]") {
  for (const Reference& ref : references()) {
    INFO(ref.id);
    auto c = compile_file(ref.workspace, ref.load_options());
    const double at_best = 2 * c->nll(point_of(*c, ref));
    const double at_init = 2 * c->nll(c->model().initial_values());
    CHECK(rel_diff(at_best, ref.bestfit_twice_nll) <= 1e-9);
    CHECK(rel_diff(at_init, ref.init_twice_nll) <= 1e-9);
  }
}

TEST_CASE("hs3fit eval --point <reference> prints pyhf's best-fit twice_nll", "[pyhf-reference][cli]") {
  for (const Reference& ref : references()) {
    INFO(ref.id);
    RunResult r = run_hs3fit("-q eval " + quote(ref.workspace) + " --point " + quote(ref.file) + " --json " + ref.cli_options());
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    auto doc = parse_json(r.out);
    CHECK(rel_diff(doc.root().at("twice_nll").as_number(), ref.bestfit_twice_nll) <= 1e-9);
    CHECK(rel_diff(2 * doc.root().at("nll").as_number(), ref.bestfit_twice_nll) <= 1e-9);
    RunResult init = run_hs3fit("-q eval " + quote(ref.workspace) + " --json " + ref.cli_options());
    REQUIRE(init.exit_code == 0);
    CHECK(rel_diff(parse_json(init.out).root().at("twice_nll").as_number(), ref.init_twice_nll) <= 1e-9);
  }
}

TEST_CASE("hs3fit fit --json on every reference reaches pyhf's minimum", "[pyhf-reference][cli][fit]") {
  for (const Reference& ref : references()) {
    INFO(ref.id);
    RunResult r = run_hs3fit("-q fit " + quote(ref.workspace) + " --json " + ref.cli_options());
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    auto doc = parse_json(r.out);
    hs3fit::json::Node root = doc.root();
    CHECK(root.at("status").as_string() == "Valid Minimum");
    const double twice_nll = root.at("twice_nll").as_number();
    CHECK(twice_nll <= ref.bestfit_twice_nll + 1e-6);
    CHECK(twice_nll >= ref.bestfit_twice_nll - 1e-4);
    const bool at_limit = root.at("parameters_at_limit").size() > 0;
    std::vector<hs3fit::json::Node> params = root.at("parameters").elements();
    REQUIRE(params.size() == ref.bestfit.size());
    for (size_t i = 0; i < params.size(); ++i) {
      const RefParameter& p = ref.bestfit[i];
      INFO(p.name);
      CHECK(params[i].at("name").as_string() == p.name);
      const double v = params[i].at("value").as_number(), e = params[i].at("error").as_number();
      if (p.error == 0) {
        CHECK(v == p.value);
        continue;
      }
      CHECK(std::fabs(v - p.value) <= 0.02 * p.error);
      if (!at_limit) CHECK(rel_diff(e, p.error) <= 0.02);  // see the library test below
    }
  }
}

TEST_CASE("the fit reaches pyhf's minimum: twice_nll, values within 0.02 sigma, errors within 2 %", "[pyhf-reference][fit]") {
  for (const Reference& ref : references()) {
    INFO(ref.id);
    auto c = compile_file(ref.workspace, ref.load_options());
    hs3fit::fit::FitResult r = c->fit();
    CHECK(r.converged);
    CHECK(r.status == "Valid Minimum");
    CHECK(2 * r.nll <= ref.bestfit_twice_nll + 1e-6);
    // pyhf's MIGRAD stopped at EDM ~1e-11..1e-6; a minimum far below pyhf's would mean a
    // different function, not a better minimizer.
    CHECK(2 * r.nll >= ref.bestfit_twice_nll - 1e-4);
    for (const RefParameter& p : ref.bestfit) {
      INFO(p.name << ": pyhf " << p.value << " +- " << p.error << ", hs3fit " << r.values[c->index(p.name)] << " +- "
                  << r.errors[c->index(p.name)]);
      const uint32_t i = c->index(p.name);
      if (p.error == 0) {  // fixed
        CHECK(r.values[i] == p.value);
        CHECK(r.errors[i] == 0);
        continue;
      }
      CHECK(std::fabs(r.values[i] - p.value) <= 0.02 * p.error);
      // pyhf's errors are Minuit's HESSE errors in internal (sin-transformed) coordinates. For a
      // parameter on its bound they depend on exactly where the minimizer stopped (pyhf stopped
      // at simple-2bin's mu = 3.6e-5, hs3fit closer to 0), so the direct comparison is skipped
      // for fits with parameters at a limit; the next test compares HESSE at pyhf's own point.
      if (r.at_limit.empty()) CHECK(rel_diff(r.errors[i], p.error) <= 0.02);
    }
    if (ref.accurate_covariance && r.at_limit.empty()) CHECK(r.covariance_valid);
  }
}

namespace {
// Minuit's HESSE takes finite steps in internal coordinates: d_i = sqrt(2·aimsag/g2_i) (capped at
// 0.5 for bounded parameters), second derivatives 2·sag/d² and off-diagonal forward differences
// with those steps. Away from bounds that is the Hessian; but pyhf stopped simple-2bin's mu at
// 3.6e-5, whose internal coordinate is only 0.004 rad from the bound while Minuit's step is
// ~0.1-0.4 rad, so Minuit effectively sees the sin transform's secant (dx/dt ≈ 0.3-0.6), not its
// derivative at the point (0.019) that fit::hesse uses. Re-running Minuit2's MnHesse algorithm
// by hand at pyhf's point (in Python, on pyhf's twice_nll) gives mu's error anywhere from 6.0 to 9.0
// depending on the initial step MIGRAD left behind (pyhf: 7.36; fit::hesse: 10.0), so no
// point-wise formula can reproduce pyhf's numbers for this case.
bool minuit_step_artifact(const Reference& ref) { return ref.id == "simple-2bin"; }

void check_hesse_at_pyhf_point(const Reference& ref) {
  INFO(ref.id);
  auto c = compile_file(ref.workspace, ref.load_options());
  hs3fit::fit::HesseResult h = hs3fit::fit::hesse(c->objective(), c->params(), point_of(*c, ref));
  CHECK(h.valid == ref.accurate_covariance);
  for (const RefParameter& p : ref.bestfit) {
    INFO(p.name << ": pyhf " << p.value << " +- " << p.error << ", HESSE at pyhf's point " << h.errors[c->index(p.name)]);
    if (p.error == 0) CHECK(h.errors[c->index(p.name)] == 0);
    else CHECK(rel_diff(h.errors[c->index(p.name)], p.error) <= 0.02);
  }
}
}  // namespace

TEST_CASE("HESSE at pyhf's best-fit point reproduces pyhf's errors within 2 %", "[pyhf-reference][fit]") {
  // Independent of where the minimizer stops: the errors are a function of the point only.
  // This covers fits with a parameter at its limit (sbottom's mu_SIG, bayes-SRee's mu_Sig).
  for (const Reference& ref : references())
    if (!minuit_step_artifact(ref)) check_hesse_at_pyhf_point(ref);
}

TEST_CASE("HESSE at pyhf's best-fit point of simple-2bin (mu 3.6e-5 from its bound)", "[pyhf-reference][fit][!mayfail]") {
  // Fails: fit::hesse gives mu 10.0 (pyhf 7.36), uncorr_bkguncrt[0] 0.0870 (0.0930), [1] 0.151
  // (0.190); see minuit_step_artifact for why Minuit's numbers are not a function of the point.
  for (const Reference& ref : references())
    if (minuit_step_artifact(ref)) check_hesse_at_pyhf_point(ref);
}

TEST_CASE("fits with the POI fixed at 0 and at 1 reach pyhf's twice_nll", "[pyhf-reference][fit]") {
  for (const Reference& ref : references()) {
    auto c = compile_file(ref.workspace, ref.load_options());
    for (const auto& [mu, twice_nll] : ref.fixed_poi) {
      INFO(ref.id << ", " << ref.poi << " = " << mu);
      hs3fit::fit::FitOptions fo;
      fo.compute_covariance = false;
      hs3fit::fit::FitResult r = c->fit_fixed({{ref.poi, mu}}, fo);
      CHECK(r.converged);
      CHECK(r.values[c->index(ref.poi)] == mu);
      CHECK(2 * r.nll <= twice_nll + 1e-6);
      CHECK(2 * r.nll >= twice_nll - 1e-4);
    }
  }
}

TEST_CASE("the best fits of the reference workspaces are minima", "[pyhf-reference][fit]") {
  for (const Reference& ref : references()) {
    INFO(ref.id);
    auto c = compile_file(ref.workspace, ref.load_options());
    hs3fit::fit::FitResult r = c->fit();
    REQUIRE(r.converged);
    check_minimum(*c, c->params(), r);
  }
}

// The numbers behind the checks above, for humans: `hs3fit_tests "[.pyhf-reference-report]" -s`.
TEST_CASE("report: hs3fit vs pyhf on the reference corpus", "[.pyhf-reference-report]") {
  std::cout << "case | max |d twice_nll| at pyhf point (rel) | twice_nll(hs3fit fit) - pyhf | max pull (|dθ|/σ_pyhf) | "
               "max |σ/σ_pyhf - 1| (fit) | max |σ/σ_pyhf - 1| (HESSE at pyhf point) | at limit | fit ms\n";
  for (const Reference& ref : references()) {
    auto c = compile_file(ref.workspace, ref.load_options());
    const double at_best = 2 * c->nll(point_of(*c, ref));
    auto t0 = std::chrono::steady_clock::now();
    hs3fit::fit::FitResult r = c->fit();
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    hs3fit::fit::HesseResult h = hs3fit::fit::hesse(c->objective(), c->params(), point_of(*c, ref));
    double pull = 0, err = 0, herr = 0;
    for (const RefParameter& p : ref.bestfit) {
      if (p.error == 0) continue;
      const uint32_t i = c->index(p.name);
      pull = std::max(pull, std::fabs(r.values[i] - p.value) / p.error);
      err = std::max(err, rel_diff(r.errors[i], p.error));
      herr = std::max(herr, rel_diff(h.errors[i], p.error));
    }
    std::string lim;
    for (const auto& n : r.at_limit) lim += n + " ";
    std::cout << ref.id << " | " << rel_diff(at_best, ref.bestfit_twice_nll) << " | " << 2 * r.nll - ref.bestfit_twice_nll << " | "
              << pull << " | " << err << " | " << herr << " | " << lim << " | " << ms << "\n";
  }
}
