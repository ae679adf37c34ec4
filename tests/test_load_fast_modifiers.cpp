// The pyhf reader reads valid modifiers straight from simdjson's DOM and hands everything else
// to the Node-based reader: values read either way are the JSON's numbers, and every problem is
// still reported at its own JSON pointer with its own message.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "core/error.h"
#include "json/diagnostics.h"
#include "json/json_reader.h"
#include "pyhf/pyhf_spec.h"

using namespace hs3fit;

namespace {

// A one-channel, two-bin workspace whose sample carries `modifiers` (JSON array members).
std::string workspace(const std::string& modifiers) {
  return R"({"channels": [{"name": "ch", "samples": [{"name": "s", "data": [10.0, 20.0], "modifiers": [)" + modifiers +
         R"(]}]}], "observations": [{"name": "ch", "data": [11, 19]}],
            "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": []}}], "version": "1.0.0"})";
}

std::vector<Error> problems_of(const std::string& modifiers) {
  json::Document doc = json::parse(workspace(modifiers), "t.json");
  json::ErrorCollector problems(json::ErrorCollector::Mode::CollectAll);
  pyhf::read_workspace(doc.root(), problems);
  return problems.problems();
}

}  // namespace

TEST_CASE("valid modifiers of every type are read with the JSON's values, integers included", "[load]") {
  json::Document doc = json::parse(
      workspace(R"({"name": "mu", "type": "normfactor", "data": null},
                   {"data": {"lo": 1, "hi": 1.25}, "type": "normsys", "name": "n1"},
                   {"name": "h1", "type": "histosys", "data": {"lo_data": [9, 19.5], "hi_data": [11.5, 21]}},
                   {"name": "stat", "type": "staterror", "data": [1, 0.5]},
                   {"name": "sh", "type": "shapesys", "data": [0, 2.5]},
                   {"name": "sf", "type": "shapefactor", "data": null},
                   {"name": "lumi", "type": "lumi", "data": null},
                   {"name": "caf\u00e9 \u00a0x", "type": "normfactor", "data": null})"),
      "t.json");
  const pyhf::Workspace ws = pyhf::read_workspace(doc.root());
  const auto& mods = ws.channels.at(0).samples.at(0).modifiers;
  REQUIRE(mods.size() == 8);
  CHECK(mods[0].type == pyhf::ModifierType::NormFactor);
  CHECK(mods[1].type == pyhf::ModifierType::NormSys);
  CHECK(mods[1].hi == 1.25);
  CHECK(mods[1].lo == 1.0);
  CHECK(mods[2].type == pyhf::ModifierType::HistoSys);
  CHECK(mods[2].hi_data == std::vector<double>{11.5, 21.0});
  CHECK(mods[2].lo_data == std::vector<double>{9.0, 19.5});
  CHECK(mods[3].type == pyhf::ModifierType::StatError);
  CHECK(mods[3].uncertainties == std::vector<double>{1.0, 0.5});
  CHECK(mods[4].type == pyhf::ModifierType::ShapeSys);
  CHECK(mods[4].uncertainties == std::vector<double>{0.0, 2.5});
  CHECK(mods[5].type == pyhf::ModifierType::ShapeFactor);
  CHECK(mods[6].type == pyhf::ModifierType::Lumi);
  CHECK(mods[7].name == "caf\xc3\xa9 \xc2\xa0x");  // é and U+00A0 (no-break space) are not control characters
  for (size_t i = 0; i < mods.size(); ++i) CHECK(mods[i].pointer() == "/channels/0/samples/0/modifiers/" + std::to_string(i));
}

TEST_CASE("problems in modifiers are reported at their pointers after valid ones", "[load]") {
  struct Case {
    const char* modifier;
    const char* where;
    const char* message_part;
  };
  const Case cases[] = {
      {R"({"name": "a", "type": "normsys", "data": {"hi": 1.1, "lo": 0}})", "/1/data/lo", "must be > 0"},
      {R"({"name": "a", "type": "normsys", "data": {"hi": 1.1}})", "/1/data", "missing required field 'lo'"},
      {R"({"name": "a", "type": "normsys", "data": {"hi": 1.1, "lo": 0.9, "mid": 1}})", "/1/data/mid", "unknown key 'mid'"},
      {R"({"name": "a", "type": "histosys", "data": {"hi_data": [1, 2, 3], "lo_data": [1, 2]}})", "/1/data/hi_data",
       "3 values, but the sample has 2 bins"},
      {R"({"name": "a", "type": "histosys", "data": {"hi_data": [1, "x"], "lo_data": [1, 2]}})", "/1/data/hi_data/1",
       "expected number"},
      {R"({"name": "a", "type": "staterror", "data": [1, -0.5]})", "/1/data/1", "must be >= 0"},
      {R"({"name": "a", "type": "shapesys", "data": [1]})", "/1/data", "1 value, but the sample has 2 bins"},
      {R"({"name": "a", "type": "normfactor", "data": [1]})", "/1/data", "expected null data"},
      {R"({"name": "a", "type": "normfactr", "data": null})", "/1/type", "unknown modifier type"},
      {R"({"name": "", "type": "normfactor", "data": null})", "/1/name", "non-empty name"},
      {R"({"name": 7, "type": "normfactor", "data": null})", "/1/name", "expected string"},
      {R"({"name": "abcdefghij\u0001", "type": "normfactor", "data": null})", "/1/name", "control characters"},
      {R"({"name": "abcdefg\u0080", "type": "normfactor", "data": null})", "/1/name", "control characters"},
      {R"({"name": "abc\u007f", "type": "normfactor", "data": null})", "/1/name", "control characters"},
      {R"({"name": "a", "type": "normfactor"})", "/1", "missing required field 'data'"},
      {R"({"name": "a", "type": "normfactor", "data": null, "extra": 1})", "/1/extra", "unknown key 'extra'"},
      {R"({"name": "mu", "type": "normfactor", "data": null})", "/1", "duplicate normfactor modifier 'mu'"},
      {R"([1, 2])", "/1", "expected a modifier (an object)"},
  };
  for (const Case& c : cases) {
    INFO(c.modifier);
    const std::vector<Error> problems = problems_of(R"({"name": "mu", "type": "normfactor", "data": null}, )" + std::string(c.modifier) +
                                                    R"(, {"name": "b", "type": "normsys", "data": {"hi": 1.2, "lo": 0.8}})");
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].where() == std::string("/channels/0/samples/0/modifiers") + c.where);
    CHECK(problems[0].message().find(c.message_part) != std::string::npos);
  }
}
