// Fuzz target: bytes = a JSON Patch or a pyhf patchset, applied to a fixed valid workspace
// (the corpus base), then the patched workspace goes through the whole load path.
#include "fuzz_common.h"
#include "json/json_tree.h"
#include "pyhf/patchset.h"

namespace {
const char* kBase = R"({"channels": [{"name": "SR", "samples": [
  {"name": "signal", "data": [5.0, 10.0], "modifiers": [{"name": "mu", "type": "normfactor", "data": null}]},
  {"name": "background", "data": [50.0, 60.0], "modifiers": [
    {"name": "bkg_norm", "type": "normsys", "data": {"hi": 1.1, "lo": 0.9}},
    {"name": "jes", "type": "histosys", "data": {"hi_data": [55.0, 66.0], "lo_data": [45.0, 54.0]}},
    {"name": "staterror_SR", "type": "staterror", "data": [3.0, 4.0]}]}]},
  {"name": "CR", "samples": [{"name": "background", "data": [100.0], "modifiers": [
    {"name": "bkg_norm", "type": "normsys", "data": {"hi": 1.1, "lo": 0.9}},
    {"name": "cr_shape", "type": "shapesys", "data": [10.0]}]}]}],
 "observations": [{"name": "SR", "data": [53.0, 65.0]}, {"name": "CR", "data": [102.0]}],
 "measurements": [{"name": "meas", "config": {"poi": "mu", "parameters": [{"name": "mu", "bounds": [[0, 20]]}]}}],
 "version": "1.0.0"})";
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  hs3fit::fuzz::quiet_logging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hs3fit;
  static const json::Document base = json::parse(kBase, "base.json");
  try {
    json::Document patch = json::parse(std::string(reinterpret_cast<const char*>(data), size), "patch.json");
    json::Node root = patch.root();
    json::Value tree = json::to_tree(base.root());
    if (root.is_array()) {
      json::apply_json_patch(tree, root);
    } else {
      json::ErrorCollector all(json::ErrorCollector::Mode::CollectAll, 100000);
      try {
        pyhf::check_patchset(root, all);
      } catch (const Error& e) {
        fuzz::check_error(e);
        return 0;
      }
      for (const Error& e : all.problems()) fuzz::check_error(e);
      if (!all.empty()) return 0;
      json::apply_json_patch(tree, root.at("patches").elements().front().at("patch"));
    }
    json::Document patched = json::parse(json::serialize(tree), "patched.json");
    fuzz::workspace_pipeline(patched.root());
  } catch (const Error& e) {
    fuzz::check_error(e);
  }
  return 0;
}
