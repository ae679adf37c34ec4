// Combination at scale (issue 9): `hs3fit combine` of generated workspaces into a model of
// more than 10 000 parameters, and of every region of one published analysis (sbottom A/B/C),
// each fitted. References: −ln L of the combination at the initial point equals the sum of the
// parts' −ln L (the parts share only the unconstrained POI), and the combined best fit is a
// stationary point of every part: each part's gradient with respect to its own nuisance
// parameters vanishes there and the parts' POI derivatives cancel.
#include <sys/resource.h>
#include <sys/time.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "eval/evaluator.h"
#include "json/json_reader.h"
#include "json/json_tree.h"
#include "tape/compiler.h"
#include "test_support.h"
#include "tools/pyhf_tools.h"
#include "workspace.h"

using namespace hs3test;
namespace fs = std::filesystem;

namespace {

// A pyhf workspace like scripts/make-workspace's (which needs Python, not available in CI):
// per channel a signal with the normfactor `mu` and two backgrounds; `globals` normsys on every
// background of every channel, `locals` per channel on one background (every fourth a
// histosys); observed counts a Poisson draw around the prediction. Nuisance parameter names
// start with `prefix`; channels are named ch0, ch1, ... in every workspace (they clash).
std::string generated_workspace(const std::string& prefix, int channels, int bins, int globals, int locals, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  auto num = [](double v) { return fmt::format("{:.6g}", v); };
  auto normsys = [&](const std::string& name) {
    return fmt::format(R"({{"name":"{}","type":"normsys","data":{{"hi":{},"lo":{}}}}})", name, num(1.01 + 0.1 * u(rng)), num(0.99 - 0.1 * u(rng)));
  };
  auto histosys = [&](const std::string& name, const std::vector<double>& nom) {
    std::string hi, lo;
    for (size_t b = 0; b < nom.size(); ++b) {
      hi += (b ? "," : "") + num(nom[b] * (1.02 + 0.06 * u(rng)));
      lo += (b ? "," : "") + num(nom[b] * (0.98 - 0.06 * u(rng)));
    }
    return fmt::format(R"({{"name":"{}","type":"histosys","data":{{"hi_data":[{}],"lo_data":[{}]}}}})", name, hi, lo);
  };
  auto list = [&](const std::vector<double>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + num(v[i]);
    return "[" + s + "]";
  };
  std::string chans, obs;
  for (int c = 0; c < channels; ++c) {
    const double scale = 50 + 450 * u(rng);
    std::vector<double> sig(bins), b1(bins), b2(bins), total(bins);
    for (int b = 0; b < bins; ++b) {
      sig[b] = std::stod(num(0.1 * scale * std::exp(-0.5 * std::pow((b - 0.5 * bins) / std::max(1.0, 0.15 * bins), 2)) + 0.01));
      b1[b] = std::stod(num(scale * std::exp(-1.5 * b / bins) + 1.0));
      b2[b] = std::stod(num(0.5 * scale * std::exp(-0.7 * b / bins) + 1.0));
    }
    std::vector<std::string> m1, m2;
    for (int g = 0; g < globals; ++g) {
      m1.push_back(normsys(fmt::format("{}alpha_global_{}", prefix, g)));
      m2.push_back(normsys(fmt::format("{}alpha_global_{}", prefix, g)));
    }
    for (int l = 0; l < locals; ++l) {
      const std::string name = fmt::format("{}alpha_ch{}_{}", prefix, c, l);
      const bool first = u(rng) < 0.5;
      const std::vector<double>& nom = first ? b1 : b2;
      (first ? m1 : m2).push_back(l % 4 == 3 ? histosys(name, nom) : normsys(name));
    }
    auto join = [](const std::vector<std::string>& v) {
      std::string s;
      for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + v[i];
      return s;
    };
    chans += fmt::format(R"({}{{"name":"ch{}","samples":[{{"name":"signal","data":{},"modifiers":[{{"name":"mu","type":"normfactor","data":null}}]}},)"
                         R"({{"name":"bkg1","data":{},"modifiers":[{}]}},{{"name":"bkg2","data":{},"modifiers":[{}]}}]}})",
                         c ? "," : "", c, list(sig), list(b1), join(m1), list(b2), join(m2));
    std::vector<double> data(bins);
    for (int b = 0; b < bins; ++b) data[b] = static_cast<double>(std::poisson_distribution<long>(sig[b] + b1[b] + b2[b])(rng));
    obs += fmt::format(R"({}{{"name":"ch{}","data":{}}})", c ? "," : "", c, list(data));
  }
  return R"({"channels":[)" + chans + R"(],"observations":[)" + obs +
         R"(],"measurements":[{"name":"meas","config":{"poi":"mu","parameters":[]}}],"version":"1.0.0"})";
}

struct Part {
  hs3fit::LoadedModel lm;
  hs3fit::tape::Tape tape;
  std::unique_ptr<hs3fit::eval::Evaluator> ev;
  explicit Part(const std::string& path, const hs3fit::LoadOptions& lo = {}) : lm(hs3fit::load_model(path, lo)), tape(hs3fit::tape::compile(lm.model)) {
    ev = std::make_unique<hs3fit::eval::Evaluator>(tape);
  }
  double nll(const std::vector<double>& x) const { return ev->nll(x.data()); }
  std::vector<double> gradient(const std::vector<double>& x) const {
    std::vector<double> g(x.size());
    ev->nll_and_gradient(x.data(), g.data());
    return g;
  }
  // This part's parameters at the values named in `values` (the combined fit).
  std::vector<double> point(const std::map<std::string, double>& values) const {
    std::vector<double> x = lm.model.initial_values();
    for (size_t i = 0; i < x.size(); ++i) {
      auto it = values.find(lm.model.parameters[i].name);
      if (it == values.end() && lm.model.parameters[i].fixed) continue;  // fixed: at its value in every model
      REQUIRE(it != values.end());
      x[i] = it->second;
    }
    return x;
  }
};

struct Timed {
  RunResult r;
  double seconds = 0;
  long max_rss_kib = 0;  // of every child so far (getrusage(RUSAGE_CHILDREN)): the largest process
};
Timed timed(const std::string& args) {
  const auto t0 = std::chrono::steady_clock::now();
  Timed t;
  t.r = run_hs3fit(args);
  t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  struct rusage ru {};
  getrusage(RUSAGE_CHILDREN, &ru);
  t.max_rss_kib = ru.ru_maxrss;
  return t;
}

// The combined fit (hs3fit fit --json): Valid Minimum; returns every parameter's value.
std::map<std::string, double> fit_values(const Timed& t, double& poi_hat, double& poi_error) {
  INFO(t.r.err);
  REQUIRE(t.r.exit_code == 0);
  const auto doc = parse_json(t.r.out);
  CHECK(doc.root().at("status").as_string() == "Valid Minimum");
  poi_hat = doc.root().at("poi_hat").as_number();
  const auto e = doc.root().at("poi_error");
  poi_error = e.is_number() ? e.as_number() : std::nan("");
  std::map<std::string, double> out;
  for (const auto& [name, v] : doc.root().at("mle_parameters").members()) out[name] = v.as_number();
  return out;
}

// At the combined minimum each part's gradient in its own nuisance parameters vanishes and the
// parts' derivatives in the shared POI cancel (relative to the size of the POI terms).
void check_stationary(const std::vector<const Part*>& parts, const std::map<std::string, double>& values, const std::string& poi, double tol) {
  double poi_sum = 0, poi_scale = 0, worst = 0;
  std::string worst_name;
  for (const Part* p : parts) {
    const std::vector<double> x = p->point(values);
    const std::vector<double> g = p->gradient(x);
    for (size_t i = 0; i < g.size(); ++i) {
      const auto& par = p->lm.model.parameters[i];
      if (par.fixed) continue;
      const bool at_bound = x[i] <= par.lo + 1e-9 * (1 + std::abs(par.lo)) || x[i] >= par.hi - 1e-9 * (1 + std::abs(par.hi));
      if (par.name == poi) {
        poi_sum += g[i];
        poi_scale = std::max(poi_scale, std::abs(g[i]));
      } else if (!at_bound && std::abs(g[i]) > worst) {
        worst = std::abs(g[i]);
        worst_name = par.name;
      }
    }
  }
  INFO("largest nuisance-parameter gradient " << worst << " (" << worst_name << "), POI derivatives sum " << poi_sum << " of " << poi_scale);
  CHECK(worst < tol);
  CHECK(std::abs(poi_sum) < tol * std::max(1.0, poi_scale));
}

}  // namespace

TEST_CASE("combine of two generated workspaces into > 10 000 parameters: -ln L is the sum of the parts, the fit is a minimum of both",
          "[combine][slow]") {
  if (kSanitized) {
    WARN("skipped under sanitizers: the 10k-parameter fit takes minutes there (the Release suite runs it)");
    return;
  }
  TempDir dir;
  const int channels = 100, bins = 8, globals = 50, locals = 50;  // 1 + 50 + 100·50 = 5051 parameters each
  std::ofstream(dir / "a.json") << generated_workspace("a_", channels, bins, globals, locals, 1);
  std::ofstream(dir / "b.json") << generated_workspace("b_", channels, bins, globals, locals, 2);

  // The channels clash (ch0, ch1, ... in both): pyhf's combine refuses, naming them.
  const RunResult clash = run_hs3fit("combine " + quote(dir / "a.json") + " " + quote(dir / "b.json") + " --join outer -o " + quote(dir / "ab.json"));
  CHECK(clash.exit_code == 2);
  CHECK(clash.err.find("ch0") != std::string::npos);
  // Rename them in the second workspace (hs3fit rename, as one does with pyhf), then combine;
  // both measurements are "meas" with the POI mu: the outer join merges them.
  std::string renames;
  for (int c = 0; c < channels; ++c) renames += fmt::format(" --channel ch{0}=b_ch{0}", c);
  const Timed rename = timed("rename " + quote(dir / "b.json") + renames + " -o " + quote(dir / "b2.json"));
  REQUIRE(rename.r.exit_code == 0);
  const Timed combine = timed("combine " + quote(dir / "a.json") + " " + quote(dir / "b2.json") + " --join outer -o " + quote(dir / "ab.json"));
  INFO(combine.r.err);
  REQUIRE(combine.r.exit_code == 0);

  Part a(dir / "a.json"), b(dir / "b2.json"), ab(dir / "ab.json");
  REQUIRE(a.lm.model.parameters.size() == 5051);
  REQUIRE(b.lm.model.parameters.size() == 5051);
  REQUIRE(ab.lm.model.parameters.size() == 10101);  // mu shared, every nuisance parameter distinct
  REQUIRE(ab.lm.model.channels.size() == 200);
  const double nll_ab = ab.nll(ab.lm.model.initial_values());
  const double nll_sum = a.nll(a.lm.model.initial_values()) + b.nll(b.lm.model.initial_values());
  CHECK(nll_ab == Approx(nll_sum).epsilon(1e-12));

  const Timed fit = timed("fit " + quote(dir / "ab.json") + " --no-hesse --json");
  double mu_hat = 0, mu_err = 0;
  const std::map<std::string, double> values = fit_values(fit, mu_hat, mu_err);
  REQUIRE(values.size() == 10101);
  // The data were drawn with mu = 1 (signal ~10% of the background in ~3000 bins).
  CHECK(std::abs(mu_hat - 1.0) < 0.2);
  // −ln L at the minimum is below the initial point's, and is the sum of the parts there too.
  const double nll_min = ab.nll(ab.point(values));
  CHECK(nll_min < nll_ab);
  CHECK(nll_min == Approx(a.nll(a.point(values)) + b.nll(b.point(values))).epsilon(1e-12));
  check_stationary({&a, &b}, values, "mu", 2e-3);
  WARN(fmt::format("10101-parameter combination: combine {:.2f} s, fit (whole process, --no-hesse) {:.2f} s, peak RSS of the largest hs3fit {:.0f} MB",
                   combine.seconds, fit.seconds, static_cast<double>(fit.max_rss_kib) / 1024));
}

TEST_CASE("combine of the sbottom regions A, B, C (renamed apart, sharing the POI): -ln L is the sum, the fit a minimum of each",
          "[combine][slow]") {
  TempDir dir;
  const std::string base = shared_path("workspaces/pyhf/atlas-sbottom-SUSY-2018-31-Region");
  // Regions B and C share channel names (CRtt_cuts, VRtt_cuts) and all three share systematic
  // names: rename every channel and modifier of each region apart except the POI mu_SIG
  // (hs3fit rename), so the only common parameter is the unconstrained POI.
  std::vector<std::string> parts;
  for (const std::string r : {"A", "B", "C"}) {
    const std::string path = base + r + "/workspace.json";
    const auto doc = hs3fit::json::parse_file(path);
    std::set<std::string> modifiers, chans;
    for (const auto& ch : doc.root().at("channels").elements()) {
      chans.insert(ch.at("name").as_string());
      for (const auto& s : ch.at("samples").elements())
        for (const auto& m : s.at("modifiers").elements()) modifiers.insert(m.at("name").as_string());
    }
    std::string args;
    for (const std::string& c : chans) args += " --channel " + quote(c + "=" + r + "_" + c);
    for (const std::string& m : modifiers)
      if (m != "mu_SIG") args += " --modifier " + quote(m + "=" + r + "_" + m);
    const std::string out = dir / (r + ".json");
    const RunResult rr = run_hs3fit("rename " + quote(path) + args + " -o " + quote(out));
    INFO(rr.err);
    REQUIRE(rr.exit_code == 0);
    parts.push_back(out);
  }
  const Timed combine = timed("combine " + quote(parts[0]) + " " + quote(parts[1]) + " " + quote(parts[2]) + " --join outer -o " + quote(dir / "abc.json"));
  INFO(combine.r.err);
  REQUIRE(combine.r.exit_code == 0);
  Part a(parts[0]), b(parts[1]), c(parts[2]), abc(dir / "abc.json");
  REQUIRE(abc.lm.model.channels.size() == a.lm.model.channels.size() + b.lm.model.channels.size() + c.lm.model.channels.size());
  REQUIRE(abc.lm.model.parameters.size() == a.lm.model.parameters.size() + b.lm.model.parameters.size() + c.lm.model.parameters.size() - 2);
  const double nll_abc = abc.nll(abc.lm.model.initial_values());
  CHECK(nll_abc == Approx(a.nll(a.lm.model.initial_values()) + b.nll(b.lm.model.initial_values()) + c.nll(c.lm.model.initial_values())).epsilon(1e-12));
  // The renamed parts are the published regions: same −ln L as the originals.
  for (size_t k = 0; k < 3; ++k) {
    const Part original(base + std::string(1, "ABC"[k]) + "/workspace.json");
    const Part& renamed = k == 0 ? a : k == 1 ? b : c;
    CHECK(renamed.nll(renamed.lm.model.initial_values()) == Approx(original.nll(original.lm.model.initial_values())).epsilon(1e-13));
  }
  // The POI is widened off its bound (mu_SIG fits at 0 in [0, 10]) so the stationarity check holds for it too.
  const Timed fit = timed("fit " + quote(dir / "abc.json") + " --bounds mu_SIG=-10:10 --json");
  double mu_hat = 0, mu_err = 0;
  const std::map<std::string, double> values = fit_values(fit, mu_hat, mu_err);
  CHECK(std::isfinite(mu_err));
  check_stationary({&a, &b, &c}, values, "mu_SIG", 1e-3);
  WARN(fmt::format("sbottom A+B+C ({} parameters): combine {:.2f} s, fit with HESSE (whole process) {:.2f} s, mu_SIG = {:.4g} ± {:.3g}",
                   abc.lm.model.parameters.size(), combine.seconds, fit.seconds, mu_hat, mu_err));
}
