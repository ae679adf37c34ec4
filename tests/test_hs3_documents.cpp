// HS3 documents as a whole: `hs3fit inspect` lists and checks any HS3 file (also without
// likelihoods), fit/eval refuse a file with nothing to fit saying what it holds, HS3TestSuite's
// structure_import check, CMS::process_normalization (CMS Combine's ProcessNormalization), and
// --likelihood all refusing likelihoods that share a distribution.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <set>

#include "hs3/hs3_inspect.h"
#include "test_support.h"

namespace {

const std::string kDir = HS3FIT_SHARED_DIR "/workspaces/hs3/";

hs3fit::LoadedModel load_general(const std::string& path, std::vector<std::string> likelihoods = {}) {
  hs3fit::LoadOptions lo;
  lo.general_hs3 = true;
  lo.hs3.likelihoods = std::move(likelihoods);
  return hs3fit::load_model(path, lo);
}

// Central finite differences vs the exact gradient.
void check_gradient(const hs3fit::LoadedModel& lm, const std::vector<double>& x) {
  std::vector<double> g(x.size());
  lm.objective(x.data(), g.data());
  for (size_t i = 0; i < x.size(); ++i) {
    INFO(lm.model.parameters[i].name);
    const double h = 1e-5 * std::max(1.0, std::fabs(x[i]));
    auto at = [&](double d) {
      std::vector<double> xs = x;
      xs[i] += d;
      return lm.objective(xs.data(), nullptr);
    };
    const double fd = (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h);
    CHECK(g[i] == Approx(fd).epsilon(1e-6).margin(1e-8));
  }
}

}  // namespace

TEST_CASE("HS3TestSuite time_per_toy_morefit: structure_import lists the expected pdfs", "[hs3][inspect]") {
  const std::string dir = kDir + "HS3TestSuite/time_per_toy_morefit/";
  hs3fit::json::Document expected = hs3fit::json::parse_file(dir + "expected.json");
  hs3fit::json::Document doc = hs3fit::json::parse_file(dir + "hs3.json");
  const hs3fit::hs3::DocumentSummary s = hs3fit::hs3::summarize_document(doc.root());
  CHECK(s.problems.empty());
  int checks = 0;
  for (const auto& check : expected.root().at("checks").elements()) {
    if (check.at("kind").as_string() != "structure_import") continue;
    const auto target = check.at("target");
    // ROOT imports every distribution, every function not tagged roofit_skip (its own helper
    // objects) and every data set: the same sets, as sorted name lists.
    std::vector<std::string> pdfs, functions, data;
    for (const auto& d : s.distributions) pdfs.push_back(d.name);
    for (const auto& f : s.functions)
      if (std::find(f.tags.begin(), f.tags.end(), "roofit_skip") == f.tags.end()) functions.push_back(f.name);
    for (const auto& d : s.data) data.push_back(d.name);
    for (auto* v : {&pdfs, &functions, &data}) std::sort(v->begin(), v->end());
    auto sorted = [](std::vector<std::string> v) {
      std::sort(v.begin(), v.end());
      return v;
    };
    CHECK(pdfs == sorted(target.at("pdfs").as_strings()));
    CHECK(functions == sorted(target.at("functions").as_strings()));
    CHECK(data == sorted(target.at("data").as_strings()));
    ++checks;
  }
  CHECK(checks == 1);
  // The types are the file's.
  for (const auto& d : s.distributions) {
    if (d.name == "model") CHECK(d.type == "mixture_dist");
    if (d.name == "signal") CHECK(d.type == "gaussian_dist");
    if (d.name == "background") CHECK(d.type == "exponential_dist");
  }
}

TEST_CASE("hs3fit inspect lists an HS3 file without likelihoods; fit and eval say there is nothing to fit", "[hs3][inspect][cli]") {
  const std::string path = kDir + "HS3TestSuite/time_per_toy_morefit/hs3.json";
  auto r = hs3test::run_hs3fit("inspect " + hs3test::quote(path));
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("mixture_dist") != std::string::npos);
  CHECK(r.out.find("alpha_exponential_inverted") != std::string::npos);
  CHECK(r.out.find("default_domain") != std::string::npos);
  CHECK(r.out.find("no problems") != std::string::npos);
  auto j = hs3test::run_hs3fit("inspect --json " + hs3test::quote(path));
  REQUIRE(j.exit_code == 0);
  hs3fit::json::Document doc = hs3test::parse_json(j.out);
  const auto d = doc.root().at("document");
  std::set<std::string> types;
  for (const auto& x : d.at("distributions").elements()) types.insert(x.at("name").as_string() + ":" + x.at("type").as_string());
  CHECK(types == std::set<std::string>{"model:mixture_dist", "signal:gaussian_dist", "background:exponential_dist"});
  CHECK(d.at("functions").size() == 1);
  CHECK(d.at("domains").size() == 1);
  CHECK(d.at("parameter_points").size() == 1);
  CHECK(d.at("likelihoods").size() == 0);
  CHECK(d.at("problems").size() == 0);
  CHECK(!doc.root().at("likelihood_loaded").as_bool());
  for (const char* cmd : {"fit", "eval"}) {
    auto f = hs3test::run_hs3fit(std::string(cmd) + " " + hs3test::quote(path));
    CHECK(f.exit_code == 2);
    CHECK(f.err.find("nothing to fit") != std::string::npos);
    CHECK(f.err.find("3 distributions (model, background, signal)") != std::string::npos);
  }
  // A file with likelihoods: the document listing and the selected likelihood's parameters.
  auto b = hs3test::run_hs3fit("inspect " + hs3test::quote(kDir + "pyhs3-benchmarks/1ch_bkgRooExp_sigGauss_shapeFloat_npOn_constrGauss_yield1x.json"));
  CHECK(b.exit_code == 0);
  CHECK(b.out.find("selected      analysis L_ch0") != std::string::npos);
  CHECK(b.out.find("mu_sig") != std::string::npos);
}

TEST_CASE("hs3fit inspect reports unsupported types and bad references with their JSON pointer", "[hs3][inspect][cli]") {
  hs3test::TempFile f(R"J({"metadata": {"hs3_version": "0.2"},
    "distributions": [
      {"name": "m", "type": "mixture_dist", "summands": ["g", "nosuch"], "coefficients": ["f"]},
      {"name": "g", "type": "gaussian_dist", "x": "x", "mean": "mu", "sigma": "s"},
      {"name": "w", "type": "gausian_dist", "x": "x"},
      {"name": "e", "type": "generic_dist", "expression": "exp(-x*"}],
    "functions": [{"name": "a", "type": "sum", "summands": ["b"]}, {"name": "b", "type": "product", "factors": ["a"]},
                  {"name": "ok", "type": "generic_function", "expression": "2*mu"}]})J");
  hs3fit::json::Document doc = hs3fit::json::parse_file(f.path());
  const auto s = hs3fit::hs3::summarize_document(doc.root());
  CHECK(s.checked == 7);
  auto has = [&](const std::string& a, const std::string& b) {
    for (const auto& p : s.problems)
      if (p.find(a) != std::string::npos && p.find(b) != std::string::npos) return true;
    return false;
  };
  CHECK(has("/distributions/0/summands/1", "unknown distribution 'nosuch'"));
  CHECK(has("/distributions/2/type", "gausian_dist"));
  CHECK(has("/distributions/3/expression", "end of expression"));
  CHECK(has("/functions/", "circular reference"));
  CHECK(s.distributions[1].problem.empty());
  CHECK(s.functions[2].problem.empty());
  auto r = hs3test::run_hs3fit("inspect " + hs3test::quote(f.path()));
  CHECK(r.exit_code == 2);
  CHECK(r.out.find("! /distributions/2/type") != std::string::npos);
  CHECK(r.err.find("problem(s) found") != std::string::npos);
}

// ProcessNormalization (CMS Combine; RooFit MathFuncs::processNormalization):
// nominal · exp(Σ θ_i lnκ_i + Σ x_j·logKappaForX(x_j)) · Π others.
TEST_CASE("CMS::process_normalization equals Combine's ProcessNormalization (value and gradient)", "[hs3][unbinned]") {
  hs3test::TempFile f(R"J({"metadata": {"hs3_version": "0.2"},
    "functions": [{"name": "n", "type": "CMS::process_normalization", "nominalValue": 3.5, "thetaList": ["t1", "t2"], "logKappa": [0.1, -0.25],
                   "asymmThetaList": ["a1", "a2", "a3"], "logAsymmKappa": [[-0.2, 0.3], [-0.1, 0.05], [0.15, 0.4]], "otherFactorList": ["r", 2.0]}],
    "distributions": [{"name": "p", "type": "poisson_dist", "x": "k", "mean": "n"}],
    "likelihoods": [{"name": "L", "distributions": ["p"], "data": [7]}],
    "parameter_points": [{"name": "default_values", "parameters": [{"name": "t1", "value": 0.7}, {"name": "t2", "value": -1.3},
      {"name": "a1", "value": 0.2}, {"name": "a2", "value": -0.8}, {"name": "a3", "value": 1.4}, {"name": "r", "value": 1.2}]}]})J");
  hs3fit::LoadedModel lm = load_general(f.path());
  std::vector<double> x = lm.model.initial_values();
  auto value_at = [&](const std::vector<double>& v) {
    auto get = [&](const char* name) { return v[*lm.model.find_parameter(name)]; };
    // Independent transcription of logKappaForX: |x| ≥ ½ → lnκ_hi (x ≥ 0) or −lnκ_lo; else
    // avg + halfdiff·h(2x), h(y) = (3y⁵ − 10y³ + 15y)/8.
    auto lk = [](double t, double lo, double hi) {
      if (std::fabs(t) >= 0.5) return t >= 0 ? hi : -lo;
      const double y = 2 * t, h = (3 * std::pow(y, 5) - 10 * std::pow(y, 3) + 15 * y) / 8;
      return 0.5 * (hi - lo) + h * 0.5 * (hi + lo);
    };
    double logv = 0.1 * get("t1") - 0.25 * get("t2");
    logv += get("a1") * lk(get("a1"), -0.2, 0.3) + get("a2") * lk(get("a2"), -0.1, 0.05) + get("a3") * lk(get("a3"), 0.15, 0.4);
    return 3.5 * std::exp(logv) * get("r") * 2.0;
  };
  const double lam = value_at(x);
  CHECK(lm.objective(x.data(), nullptr) == Approx(-(7 * std::log(lam) - lam - std::lgamma(8.0))).epsilon(1e-13));
  check_gradient(lm, x);
  // Continuity at |x| = ½ (h(±1) = ±1): values just inside and outside agree.
  auto a1 = *lm.model.find_parameter("a1");
  std::vector<double> in = x, out = x;
  in[a1] = 0.5 - 1e-12;
  out[a1] = 0.5;
  CHECK(lm.objective(in.data(), nullptr) == Approx(lm.objective(out.data(), nullptr)).epsilon(1e-10));
  for (double a : {-0.3, 0.45}) {
    x[a1] = a;
    CHECK(lm.objective(x.data(), nullptr) == Approx(-(7 * std::log(value_at(x)) - value_at(x) - std::lgamma(8.0))).epsilon(1e-13));
    check_gradient(lm, x);
  }
}

TEST_CASE("combine_long_exercise: the CMS counting model evaluates once a likelihood pairs it with its data", "[hs3][unbinned]") {
  // The file has no likelihood; add one (model_s on data_obs) and compare with the Poisson
  // counting-measure closed form on the axis [0, 20] (ROOT's normalization of a Poisson over a range).
  std::string text = hs3test::read_file(kDir + "pyhs3/combine_long_exercise_part1_nosys.json");
  const size_t brace = text.rfind('}');
  text = text.substr(0, brace) + R"J(, "likelihoods": [{"name": "L", "distributions": ["model_s"], "data": ["data_obs"]}]})J";
  hs3test::TempFile f(text);
  hs3fit::LoadedModel lm = load_general(f.path());
  std::vector<double> x = lm.model.initial_values();
  const auto r = lm.model.find_parameter("r");
  REQUIRE(r);
  for (double rv : {1.0, 2.5}) {
    x[*r] = rv;
    const double lam = 4.43803 + 3.18309 + 3.7804 + 1.63396 + 0.711064 * rv;
    double norm = 0;
    for (int k = 0; k <= 20; ++k) norm += std::exp(k * std::log(lam) - lam - std::lgamma(k + 1.0));
    CHECK(lm.objective(x.data(), nullptr) == Approx(-(10 * std::log(lam) - lam - std::lgamma(11.0) - std::log(norm))).epsilon(1e-12));
  }
  CHECK(lm.model.parameters[*r].lo == 0);
  CHECK(lm.model.parameters[*r].hi == 20);
}

TEST_CASE("selecting all likelihoods refuses likelihoods that share a distribution, naming both", "[hs3]") {
  // HistFactory front end: obsData and asimovData over the same channel.
  hs3fit::LoadOptions lo;
  lo.hs3.likelihoods = {"all"};
  CHECK_THROWS_WITH(hs3fit::load_model(kDir + "pyhs3/simplemodel_correlated-background_hs3.json", lo),
                    Catch::Contains("'simPdf_obsData'") && Catch::Contains("'simPdf_asimovData'") &&
                        Catch::Contains("share the distribution 'model_singlechannel'") && Catch::Contains("--likelihood"));
  // General front end: response_model pairs one Gaussian with reco and with truth data.
  CHECK_THROWS_WITH(load_general(kDir + "HS3TestSuite/response_model/hs3.json", {"all"}),
                    Catch::Contains("'simRecoObs'") && Catch::Contains("'simTruthObs'") && Catch::Contains("share the distribution 'response'") &&
                        Catch::Contains("--likelihood"));
}
