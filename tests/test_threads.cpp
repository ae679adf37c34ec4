// Shards on threads: the same −ln L and gradient, bit for bit, for any number of threads, and
// the same as a tape that is not split into shards (up to rounding).
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "eval/evaluator.h"
#include "fit/minimizer.h"
#include "tape/compiler.h"
#include "test_scaling_support.h"
#include "workspace.h"

namespace {
std::vector<double> perturbed(const hs3fit::model::Model& m) {
  std::vector<double> x = m.initial_values();
  for (size_t i = 0; i < x.size(); ++i)
    if (!m.parameters[i].fixed) x[i] += 0.1 * m.parameters[i].step * std::sin(3.0 * static_cast<double>(i) + 1.0);
  return x;
}
}  // namespace

TEST_CASE("NLL and its gradient are bit-identical for 1, 2, 3 and 4 threads", "[threads]") {
  hs3fit::LoadedModel lm = hs3fit::load_model(std::string(HS3FIT_SHARED_DIR) + "/workspaces/pyhf/combo-atlas-7ana/workspace.json");
  hs3fit::tape::CompileOptions co;
  co.shard_units = 1;  // every channel its own shard (up to max_shards)
  const hs3fit::tape::Tape tape = hs3fit::tape::compile(lm.model, co);
  REQUIRE(tape.shards.size() > 8);
  const std::vector<double> x = perturbed(lm.model);
  std::vector<double> g1(x.size());
  hs3fit::eval::Evaluator one(tape);
  const double f1 = one.nll_and_gradient(x.data(), g1.data());
  for (int threads : {2, 3, 4}) {
    hs3fit::eval::EvaluatorOptions o;
    o.threads = threads;
    hs3fit::eval::Evaluator ev(tape, o);
    CHECK(ev.threads() == threads);
    for (int repeat = 0; repeat < 20; ++repeat) {
      std::vector<double> g(x.size());
      const double f = ev.nll_and_gradient(x.data(), g.data());
      CHECK(f == f1);
      CHECK(g == g1);
      CHECK(ev.nll(x.data()) == f1);
    }
  }
}

TEST_CASE("a sharded tape equals the one-shard tape up to rounding", "[threads]") {
  hs3fit::LoadedModel lm = hs3fit::load_model(std::string(HS3FIT_SHARED_DIR) + "/workspaces/pyhf/combo-atlas-7ana/workspace.json");
  hs3fit::tape::CompileOptions many, single;
  many.shard_units = 1;
  single.shard_units = uint64_t(1) << 62;
  const hs3fit::tape::Tape a = hs3fit::tape::compile(lm.model, many), b = hs3fit::tape::compile(lm.model, single);
  REQUIRE(b.shards.size() == 2);  // the channels and the constraints
  hs3fit::eval::Evaluator ea(a), eb(b);
  const std::vector<double> x = perturbed(lm.model);
  std::vector<double> ga(x.size()), gb(x.size());
  const double fa = ea.nll_and_gradient(x.data(), ga.data()), fb = eb.nll_and_gradient(x.data(), gb.data());
  CHECK(fa == Approx(fb).epsilon(1e-13));
  for (size_t i = 0; i < x.size(); ++i) CHECK(ga[i] == Approx(gb[i]).epsilon(1e-12).margin(1e-10));
  // Shards share normsys products differently (CSE within a shard), so yields agree to rounding.
  for (size_t c = 0; c < a.channels.size(); ++c) {
    const std::vector<double> ya = ea.channel_yields(c), yb = eb.channel_yields(c);
    REQUIRE(ya.size() == yb.size());
    for (size_t k = 0; k < ya.size(); ++k) CHECK(ya[k] == Approx(yb[k]).epsilon(1e-14).margin(1e-300));
  }
}

TEST_CASE("a fit on 2 threads is bit-identical to the fit on one", "[threads]") {
  hs3test::GeneratedSize z;
  z.channels = 24;
  const hs3fit::model::Model m = hs3test::generated_model(z);
  hs3fit::tape::CompileOptions co;
  co.shard_units = 1;
  const hs3fit::tape::Tape tape = hs3fit::tape::compile(m, co);
  hs3fit::fit::FitOptions fo;
  fo.hessian_structure = tape.parameter_coupling();
  std::vector<hs3fit::fit::FitResult> results;
  for (int threads : {1, 2}) {
    hs3fit::eval::EvaluatorOptions o;
    o.threads = threads;
    hs3fit::eval::Evaluator ev(tape, o);
    hs3fit::fit::Objective f = [&ev](const double* x, double* g) { return g ? ev.nll_and_gradient(x, g) : ev.nll(x); };
    results.push_back(hs3fit::fit::minimize(f, m.parameters, fo));
  }
  REQUIRE(results[0].converged);
  CHECK(results[1].nll == results[0].nll);
  CHECK(results[1].values == results[0].values);
  CHECK(results[1].errors == results[0].errors);
}
