// combine / prune / rename against pyhf 0.7.6's own Workspace.combine/prune/rename
// (tests/data/pyhf_workspace_tools_reference.json was produced by pyhf, see its
// "generated_by"), compared through the resulting models' −2 ln L at pyhf's initial point.
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>

#include "eval/evaluator.h"
#include "json/json_reader.h"
#include "json/json_tree.h"
#include "tape/compiler.h"
#include "tools/pyhf_tools.h"
#include "workspace.h"

namespace {

const std::string kPyhf = HS3FIT_SHARED_DIR "/workspaces/pyhf/";

hs3fit::json::Value tree_of(const std::string& path) { return hs3fit::json::to_tree(hs3fit::json::parse_file(path).root()); }

std::string write_temp(const hs3fit::json::Value& v, const std::string& name) {
  std::string path = "/tmp/hs3fit_test_tools_" + std::to_string(getpid()) + "_" + name + ".json";
  std::ofstream(path) << hs3fit::json::serialize(v);
  return path;
}

double twice_nll_at_init(const std::string& path, const std::string& measurement) {
  hs3fit::LoadOptions lo;
  lo.build.measurement = measurement;
  hs3fit::LoadedModel lm = hs3fit::load_model(path, lo);
  hs3fit::tape::Tape tape = hs3fit::tape::compile(lm.model);
  hs3fit::eval::Evaluator ev(tape);
  auto x = lm.model.initial_values();
  return 2 * ev.nll(x.data());
}

std::vector<std::string> names(const hs3fit::LoadedModel& lm) {
  std::vector<std::string> out;
  for (const auto& p : lm.model.parameters) out.push_back(p.name);
  return out;
}

}  // namespace

using hs3fit::json::Value;
namespace tools = hs3fit::tools;

TEST_CASE("combine, prune and rename agree with pyhf's Workspace operations", "[tools]") {
  hs3fit::json::Document ref_doc = hs3fit::json::parse_file(HS3FIT_SOURCE_DIR "/tests/data/pyhf_workspace_tools_reference.json");
  hs3fit::json::Node ref = ref_doc.root();

  SECTION("combine with join none") {
    auto pair = ref.at("pair").as_strings();
    Value combined = tools::combine(tree_of(kPyhf + pair[0]), tree_of(kPyhf + pair[1]), tools::Join::None, false);
    const std::string path = write_temp(combined, "combined");
    for (const auto& [mname, mref] : ref.at("models").members()) {
      CHECK(twice_nll_at_init(path, mname) == Approx(mref.at("twice_nll_at_init").as_number()).epsilon(1e-12));
      hs3fit::LoadOptions lo;
      lo.build.measurement = mname;
      auto lm = hs3fit::load_model(path, lo);
      CHECK(lm.model.parameters[*lm.model.poi].name == mref.at("poi").as_string());
      CHECK(names(lm) == mref.at("par_names").as_strings());
    }
    // The same pair again clashes on every name: join none refuses, outer keeps one copy.
    CHECK_THROWS_WITH(tools::combine(combined, combined, tools::Join::None, false), Catch::Contains("both workspaces have"));
    Value outer = tools::combine(combined, combined, tools::Join::Outer, false);
    CHECK(hs3fit::json::serialize(outer) == hs3fit::json::serialize(combined));
  }

  SECTION("prune") {
    hs3fit::json::Node p = ref.at("prune");
    tools::PruneSpec spec;
    spec.modifier_types = p.at("modifier_types").as_strings();
    spec.samples = p.at("samples").as_strings();
    Value pruned = tools::prune(tree_of(kPyhf + p.at("workspace").as_string()), spec);
    const std::string path = write_temp(pruned, "pruned");
    CHECK(twice_nll_at_init(path, p.at("measurement").as_string()) == Approx(p.at("twice_nll_at_init").as_number()).epsilon(1e-12));
    hs3fit::LoadOptions lo;
    lo.build.measurement = p.at("measurement").as_string();
    CHECK(names(hs3fit::load_model(path, lo)) == p.at("par_names").as_strings());
  }

  SECTION("rename") {
    hs3fit::json::Node r = ref.at("rename");
    tools::RenameSpec spec;
    spec.modifiers = {{"syst2", "renamed_syst2"}, {"SigXsecOverSM", "mu"}};
    spec.samples = {{"signal", "sig"}};
    spec.channels = {{"channel1", "SR"}};
    spec.measurements = {{"GaussExample", "G"}};
    Value renamed = tools::rename(tree_of(kPyhf + "histfactory-example/workspace.json"), spec);
    const std::string path = write_temp(renamed, "renamed");
    CHECK(twice_nll_at_init(path, "G") == Approx(r.at("twice_nll_at_init").as_number()).epsilon(1e-12));
    hs3fit::LoadOptions lo;
    lo.build.measurement = "G";
    auto lm = hs3fit::load_model(path, lo);
    CHECK(names(lm) == r.at("par_names").as_strings());
    CHECK(lm.model.parameters[*lm.model.poi].name == r.at("poi").as_string());
    CHECK(lm.model.channels.at(0).name == "SR");
  }
}
