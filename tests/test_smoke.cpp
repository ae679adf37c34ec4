#include <catch2/catch.hpp>

#include "eval/evaluator.h"
#include "tape/compiler.h"
#include "workspace.h"

TEST_CASE("simple-2bin NLL at pyhf's suggested init equals pyhf's", "[smoke]") {
  hs3fit::LoadedModel lm = hs3fit::load_model(HS3FIT_SOURCE_DIR "/workspaces/simple-2bin.json");
  hs3fit::tape::Tape tape = hs3fit::tape::compile(lm.model);
  hs3fit::eval::Evaluator ev(tape);
  std::vector<double> x = lm.model.initial_values();
  // shared/reference/pyhf/simple-2bin.json: nll_at_init.twice_nll
  CHECK(2 * ev.nll(x.data()) == Approx(25.167266297778653).epsilon(1e-12));
}
