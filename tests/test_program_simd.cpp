// The per-event evaluator of general HS3 likelihoods (hs3/program.h) on every instruction set:
// the fused mixture kernel and the SIMD block kernels against the scalar op table (apply and
// partials, event by event), on every general HS3 workspace of shared/workspaces/hs3 and on
// synthetic mixtures that exercise tails, weights and lanes outside the fast range.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "hs3/graph_simd.h"
#include "test_support.h"
#include "workspace.h"

using hs3fit::hs3::Program;

namespace {

struct Eval {
  double value = 0;
  std::vector<double> gradient;
};

Eval evaluate(Program& p, const std::vector<double>& x, Program::Mode mode) {
  p.set_mode(mode);
  Eval e;
  e.gradient.assign(x.size(), 0.0);
  const double v = p.value(x.data());
  e.value = p.value_and_gradient(x.data(), e.gradient.data());
  // −ln L alone and with the gradient are the same number.
  if (std::isfinite(v) || std::isfinite(e.value)) CHECK(v == Approx(e.value).epsilon(1e-14).margin(1e-300));
  p.set_mode(Program::Mode::Fast);
  return e;
}

// a agrees with the reference b: the value to `rel` relative, every gradient component to
// rel·√events relative to the largest component. A gradient component is a sum over events of
// terms that largely cancel (Σ_i r_i x_i against the normalization's derivative); summing them
// in another order (8 lanes × 4 accumulators vs one after the other) changes it by ~ε·√N·|term|
// in either direction, so neither order is the more accurate one.
void agree(const Eval& a, const Eval& b, double rel, size_t events) {
  if (std::isnan(b.value)) {
    CHECK(std::isnan(a.value));
    return;
  }
  CHECK(a.value == Approx(b.value).epsilon(rel).margin(rel));
  double scale = 1e-300;
  for (double g : b.gradient) scale = std::max(scale, std::abs(g));
  for (size_t i = 0; i < b.gradient.size(); ++i) {
    INFO("gradient component " << i);
    CHECK(std::abs(a.gradient[i] - b.gradient[i]) <= rel * scale * std::sqrt(static_cast<double>(std::max<size_t>(events, 1))));
  }
}

// Every SIMD target (and both fast modes) against the scalar reference at x.
void check_all_targets(Program& p, const std::vector<double>& x, double rel = 1e-12) {
  const size_t events = p.events();
  const Eval ref = evaluate(p, x, Program::Mode::Scalar);
  for (const std::string& t : hs3fit::hs3::simd::targets()) {
    INFO("target " << t);
    REQUIRE(hs3fit::hs3::simd::force_target(t));
    for (Program::Mode m : {Program::Mode::Fast, Program::Mode::Blocks}) {
      INFO("mode " << (m == Program::Mode::Fast ? "fast" : "blocks"));
      agree(evaluate(p, x, m), ref, rel, events);
    }
  }
  hs3fit::hs3::simd::force_target("");
}

hs3fit::LoadedModel load_general(const std::string& path, std::vector<std::string> likelihoods = {}) {
  hs3fit::LoadOptions o;
  o.general_hs3 = true;
  o.hs3.likelihoods = std::move(likelihoods);
  return hs3fit::load_model(path, o);
}

// A mixture of a Gaussian (mean, sigma) and an exponential (slope c) on x ∈ [10, 20], with n
// events (optionally weighted, every fifth weight 0), extended or with a fraction.
std::string mixture_workspace(size_t n, bool weighted, bool extended, double sigma, double c, double fsig) {
  std::string entries, weights;
  for (size_t i = 0; i < n; ++i) {
    const double x = 10.0 + std::fmod(0.6180339887 * static_cast<double>(i + 1) * 10.0, 10.0);
    entries += (i ? "," : "") + std::string("[") + std::to_string(x) + "]";
    weights += (i ? "," : "") + std::to_string(i % 5 == 4 ? 0.0 : 0.5 + 0.1 * static_cast<double>(i % 7));
  }
  const std::string coefs = extended ? R"(["nsig", "nbkg"], "extended": true)" : R"(["fsig"])";
  return std::string(R"({"metadata": {"hs3_version": "0.2"},
  "distributions": [
    {"name": "model", "type": "mixture_dist", "summands": ["sig", "bkg"], "coefficients": )") + coefs + R"(},
    {"name": "sig", "type": "gaussian_dist", "x": "x", "mean": "mean", "sigma": "sigma"},
    {"name": "bkg", "type": "exponential_dist", "x": "x", "c": "c"}],
  "data": [{"name": "d", "type": "unbinned", "axes": [{"name": "x", "min": 10, "max": 20}], "entries": [)" + entries + "]" +
         (weighted ? ", \"weights\": [" + weights + "]" : std::string()) + R"(}],
  "likelihoods": [{"name": "L", "distributions": ["model"], "data": ["d"]}],
  "parameter_points": [{"name": "init", "parameters": [
    {"name": "mean", "value": 15.2}, {"name": "sigma", "value": )" + std::to_string(sigma) + R"(},
    {"name": "c", "value": )" + std::to_string(c) + R"(}, {"name": "nsig", "value": 7}, {"name": "nbkg", "value": 23},
    {"name": "fsig", "value": )" + std::to_string(fsig) + R"(}]}],
  "analyses": [{"name": "A", "likelihood": "L", "init": "init", "parameters_of_interest": ["mean"]}]})";
}

}  // namespace

TEST_CASE("general HS3 evaluator: every SIMD target and the fused kernels agree with the scalar op table to 1e-12 on every workspace", "[simd][hs3]") {
  const std::string dir = hs3test::shared_path("workspaces/hs3");
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.path().extension() == ".json" && e.path().filename() != "expected.json") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  size_t general = 0, fused = 0;
  for (const std::string& f : files) {
    hs3fit::LoadedModel lm;
    try {
      lm = load_general(f);
    } catch (const hs3fit::Error&) {
      continue;  // no likelihood to evaluate, or the legacy layout (tests/test_hs3_documents.cpp)
    }
    if (!lm.general) continue;  // histfactory_dist only: the binned tape (tests/test_simd.cpp)
    INFO(f);
    ++general;
    Program& p = *lm.general->program;
    std::vector<double> x = lm.model.initial_values();
    check_all_targets(p, x);
    // A second point: every free parameter moved by 3 % of its value (or 0.03), inside its bounds.
    for (size_t i = 0; i < x.size(); ++i) {
      const auto& par = lm.model.parameters[i];
      if (par.fixed) continue;
      x[i] = std::clamp(x[i] + 0.03 * std::max(1.0, std::abs(x[i])), par.lo, par.hi);
    }
    check_all_targets(p, x);
    if (p.fused_sources() > 0) ++fused;
    if (f.find("RooExp_sigGauss") != std::string::npos) CHECK(p.fused_sources() > 0);
  }
  CHECK(general >= 35);
  CHECK(fused >= 17);  // the pyhs3 benchmarks' Gaussian-plus-exponential mixtures
}

TEST_CASE("fused mixture kernel: tails, weights, fractions and out-of-range lanes match the scalar op table", "[simd][hs3]") {
  for (size_t n : {1, 2, 3, 7, 8, 9, 15, 31, 32, 33, 40, 257, 300}) {
    for (bool weighted : {false, true}) {
      for (bool extended : {true, false}) {
        INFO("n " << n << " weighted " << weighted << " extended " << extended);
        hs3test::TempFile ws(mixture_workspace(n, weighted, extended, 1.0, 0.3, 0.2));
        hs3fit::LoadedModel lm = load_general(ws.path());
        REQUIRE(lm.general);
        check_all_targets(*lm.general->program, lm.model.initial_values());
      }
    }
  }
  // A narrow Gaussian (|l0 − l1| > 700 for most events: those lanes take the exact scalar path),
  // a negative fraction (the mixture is negative somewhere: NaN, as the op table gives) and a
  // vanishing exponential slope.
  struct Odd {
    double sigma, c, fsig;
  };
  for (const Odd& o : {Odd{0.01, 0.3, 0.2}, Odd{1.0, 0.3, -0.5}, Odd{1.0, 1e-12, 0.2}, Odd{2.0, -0.4, 0.9}}) {
    INFO("sigma " << o.sigma << " c " << o.c << " fsig " << o.fsig);
    hs3test::TempFile ws(mixture_workspace(45, true, false, o.sigma, o.c, o.fsig));
    hs3fit::LoadedModel lm = load_general(ws.path());
    check_all_targets(*lm.general->program, lm.model.initial_values());
  }
}

TEST_CASE("fused mixture kernel: the gradient is the finite-difference derivative", "[hs3]") {
  hs3test::TempFile ws(mixture_workspace(101, true, true, 1.3, 0.25, 0.2));
  hs3fit::LoadedModel lm = load_general(ws.path());
  Program& p = *lm.general->program;
  const std::vector<double> x = lm.model.initial_values();
  hs3test::check_gradient([&p](const double* y, double* g) { return g ? p.value_and_gradient(y, g) : p.value(y); }, lm.model.parameters, x,
                          1e-7, 1e-8);
}

TEST_CASE("SIMD targets detected without libhwy match the CPU flags the kernel reports", "[simd]") {
  std::string flags_line;
  {
    std::ifstream in("/proc/cpuinfo");
    for (std::string line; std::getline(in, line);)
      if (line.rfind("flags", 0) == 0) {
        flags_line = " " + line.substr(line.find(':') + 1) + " ";
        break;
      }
  }
  if (flags_line.empty()) return;  // not Linux on x86: nothing to compare with
  auto has = [&](const char* f) { return flags_line.find(" " + std::string(f) + " ") != std::string::npos; };
  const bool ssse3 = has("sse2") && has("ssse3");
  const bool sse4 = ssse3 && has("sse4_1") && has("sse4_2") && has("pclmulqdq") && has("aes");
  const bool avx2 = sse4 && has("avx") && has("avx2") && has("bmi1") && has("bmi2") && has("fma") && has("f16c") && has("abm");
  const bool avx3 = avx2 && has("avx512f") && has("avx512vl") && has("avx512dq") && has("avx512bw");
  const std::vector<std::string> t = hs3fit::hs3::simd::targets();
  auto in = [&](const char* name) { return std::find(t.begin(), t.end(), name) != t.end(); };
  CHECK(in("avx3") == avx3);
  CHECK(in("avx2") == avx2);
  CHECK(in("sse4") == sse4);
  CHECK(in("ssse3") == ssse3);
  CHECK(in("scalar"));  // Highway names its portable EMU128 target "Scalar"
  // The best one is what the kernels run with.
  CHECK(hs3fit::hs3::simd::target() == std::string(avx3 ? "AVX3" : avx2 ? "AVX2" : sse4 ? "SSE4" : ssse3 ? "SSSE3" : "Scalar"));
}
