// The load path's reuse of memory: build_from_pyhf(Workspace&&) moves names and bins out of the
// spec instead of copying them and gives the same model as the copying overload; simdjson
// parsers are pooled per thread and reused, and documents that are alive at the same time keep
// their own parser (a reused parser never overwrites a live document).
#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "json/json_reader.h"
#include "json/json_tree.h"
#include "model/histfactory_builder.h"
#include "pyhf/pyhf_spec.h"
#include "test_support.h"

using namespace hs3fit;

namespace {

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

// Every field of two models, bit for bit.
void check_same_model(const model::Model& a, const model::Model& b) {
  REQUIRE(a.parameters.size() == b.parameters.size());
  for (size_t i = 0; i < a.parameters.size(); ++i) {
    const auto &p = a.parameters[i], &q = b.parameters[i];
    CHECK(p.name == q.name);
    CHECK(same_bits({p.init, p.lo, p.hi, p.step}, {q.init, q.lo, q.hi, q.step}));
    CHECK(p.fixed == q.fixed);
  }
  CHECK(a.poi == b.poi);
  REQUIRE(a.constraints.size() == b.constraints.size());
  for (size_t i = 0; i < a.constraints.size(); ++i) {
    const auto &c = a.constraints[i], &d = b.constraints[i];
    CHECK(c.kind == d.kind);
    CHECK(c.param == d.param);
    CHECK(same_bits({c.aux, c.sigma, c.tau}, {d.aux, d.sigma, d.tau}));
  }
  REQUIRE(a.channels.size() == b.channels.size());
  for (size_t c = 0; c < a.channels.size(); ++c) {
    const auto &x = a.channels[c], &y = b.channels[c];
    CHECK(x.name == y.name);
    CHECK(same_bits(x.observed, y.observed));
    REQUIRE(x.samples.size() == y.samples.size());
    for (size_t s = 0; s < x.samples.size(); ++s) {
      const auto &u = x.samples[s], &v = y.samples[s];
      CHECK(u.name == v.name);
      CHECK(same_bits(u.nominal, v.nominal));
      REQUIRE(u.modifiers.size() == v.modifiers.size());
      for (size_t k = 0; k < u.modifiers.size(); ++k) {
        const auto &m = u.modifiers[k], &n = v.modifiers[k];
        CHECK(m.kind == n.kind);
        CHECK(m.name == n.name);
        CHECK(m.param == n.param);
        CHECK(m.bin_params == n.bin_params);
        CHECK(m.interp == n.interp);
        CHECK(same_bits({m.hi, m.lo}, {n.hi, n.lo}));
        CHECK(same_bits(m.hi_data, n.hi_data));
        CHECK(same_bits(m.lo_data, n.lo_data));
      }
    }
  }
}

}  // namespace

TEST_CASE("build_from_pyhf moving out of the workspace gives the copying build's model", "[load]") {
  for (const char* ws : {"simple-2bin/workspace.json", "histfactory-example/BkgOnly.json", "atlas-sbottom-SUSY-2018-31-RegionC/workspace.json",
                         "atlas-ttZ-3l/workspace.json", "cms-ttgamma-2l/workspace.json", "c2p-multi-bin-stat-full/workspace.json"}) {
    INFO(ws);
    const json::Document doc = json::parse_file(hs3test::shared_path(std::string("workspaces/pyhf/") + ws));
    const pyhf::Workspace spec = pyhf::read_workspace(doc.root());
    for (const auto& meas : spec.measurements) {
      model::BuildOptions bo;
      bo.measurement = meas.name;
      const model::Model copied = model::build_from_pyhf(spec, bo);
      pyhf::Workspace scratch = spec;
      const model::Model moved = model::build_from_pyhf(std::move(scratch), bo);
      check_same_model(copied, moved);
    }
  }
}

TEST_CASE("pooled JSON parsers: documents alive at the same time stay intact, reuse gives the same values", "[load][json]") {
  const std::string small = R"({"a": [1, 2.5, 3], "name": "first"})";
  const std::string other = R"({"b": {"c": "second", "d": [4, 5]}})";
  std::string big = "[";
  for (int i = 0; i < 20000; ++i) big += (i ? "," : "") + std::to_string(i) + ".25";
  big += "]";
  for (int round = 0; round < 3; ++round) {  // later rounds take parsers from the pool
    INFO("round " << round);
    json::Document d1 = json::parse(small, "small");
    json::Document d2 = json::parse(other, "other");
    json::Document d3 = json::parse(big, "big");
    // Each document still reads its own values after the others were parsed.
    CHECK(d1.root().at("a").as_numbers() == std::vector<double>{1, 2.5, 3});
    CHECK(d1.root().at("name").as_string() == "first");
    CHECK(d2.root().at("b").at("c").as_string() == "second");
    const std::vector<double> v = d3.root().as_numbers();
    REQUIRE(v.size() == 20000);
    CHECK(v[19999] == 19999.25);
    // Moving a document onto another returns the overwritten one's parser and keeps the values.
    d1 = std::move(d2);
    CHECK(d1.root().at("b").at("d").as_numbers() == std::vector<double>{4, 5});
    // A failed parse leaves a usable parser behind.
    CHECK_THROWS(json::parse("{\"x\": [1, 2,]}", "bad"));
    CHECK(json::parse(small, "again").root().at("a").as_numbers()[1] == 2.5);
  }
}
