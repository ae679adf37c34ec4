// Fuzz target: bytes → JSON reader → pyhf workspace (fail-fast and collect-all) → model → tape
// → −ln L and gradient at the initial point.
#include "fuzz_common.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  hs3fit::fuzz::quiet_logging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hs3fit;
  try {
    json::Document doc = json::parse(std::string(reinterpret_cast<const char*>(data), size), "fuzz.json");
    fuzz::workspace_pipeline(doc.root());
  } catch (const Error& e) {
    fuzz::check_error(e);
  }
  return 0;
}
