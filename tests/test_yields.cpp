// The model-level yield computation and the compiled tape are two independent routes to the
// expected yields; they must agree on every corpus workspace at random points.
#include <catch2/catch.hpp>

#include <filesystem>
#include <random>

#include "eval/evaluator.h"
#include "model/yields.h"
#include "tape/compiler.h"
#include "workspace.h"

TEST_CASE("expected yields from the model equal the tape's channel yields", "[yields]") {
  namespace fs = std::filesystem;
  std::mt19937_64 rng(7);
  int checked = 0;
  for (const auto& dir : fs::directory_iterator(HS3FIT_SHARED_DIR "/workspaces/pyhf")) {
    const fs::path ws = dir.path() / "workspace.json";
    if (!fs::exists(ws)) continue;
    INFO(ws.string());
    hs3fit::LoadedModel lm = hs3fit::load_model(ws.string());
    hs3fit::tape::Tape tape = hs3fit::tape::compile(lm.model);
    hs3fit::eval::Evaluator ev(tape);
    std::vector<double> x = lm.model.initial_values();
    for (size_t i = 0; i < x.size(); ++i) {
      const auto& p = lm.model.parameters[i];
      std::uniform_real_distribution<double> u(std::max(p.lo, x[i] - 0.5), std::min(p.hi, x[i] + 0.5));
      if (!p.fixed) x[i] = u(rng);
    }
    ev.nll(x.data());
    auto yields = hs3fit::model::expected_yields(lm.model, x);
    REQUIRE(yields.size() == tape.channels.size());
    for (size_t c = 0; c < yields.size(); ++c) {
      auto tape_yields = ev.channel_yields(c);
      for (size_t b = 0; b < tape_yields.size(); ++b)
        CHECK(yields[c].expected[b] == Approx(tape_yields[b]).epsilon(1e-12).margin(1e-300));
    }
    ++checked;
  }
  CHECK(checked >= 25);
}
