#include <catch2/catch.hpp>
#include <string>

#include "core/allocator.h"
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

TEST_CASE("the allocator the build chose serves operator new", "[smoke]") {
  const std::string name = hs3fit::allocator_name();
#ifdef HS3FIT_EXPECT_MIMALLOC
  // Release builds link mimalloc (CMake option HS3FIT_MIMALLOC): it must really override new.
  CHECK(name.rfind("mimalloc 2.", 0) == 0);
  CHECK(hs3fit::allocator_owns_new_blocks());
#else
  CHECK(name == "glibc malloc");  // sanitizer builds keep ASan's allocator
  CHECK_FALSE(hs3fit::allocator_owns_new_blocks());
#endif
}
