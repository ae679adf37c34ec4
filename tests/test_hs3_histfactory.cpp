// HS3 histfactory_dist front end: the same model as pyhf JSON, on the same tape.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <unistd.h>

#include "eval/evaluator.h"
#include "json/json_reader.h"
#include "pyhf/pyhf_spec.h"
#include "tape/compiler.h"
#include "tools/convert_hs3.h"
#include "workspace.h"

namespace {

namespace fs = std::filesystem;

struct Loaded {
  hs3fit::LoadedModel lm;
  hs3fit::tape::Tape tape;
};

Loaded load(const std::string& path, const std::string& analysis = "") {
  hs3fit::LoadOptions lo;
  lo.hs3.analysis = analysis;
  Loaded l{hs3fit::load_model(path, lo), {}};
  l.tape = hs3fit::tape::compile(l.lm.model);
  return l;
}

double nll_at(const Loaded& l, const std::vector<double>& x) {
  hs3fit::eval::Evaluator ev(l.tape);
  return ev.nll(x.data());
}

}  // namespace

TEST_CASE("pyhs3's HistFactory-in-HS3 files give their pyhf originals' NLL", "[hs3]") {
  const std::string dir = HS3FIT_SHARED_DIR "/workspaces/hs3/pyhs3/";
  for (const std::string model : {"simplemodel_uncorrelated-background", "simplemodel_correlated-background"}) {
    INFO(model);
    Loaded hs3 = load(dir + model + "_hs3.json", "simPdf_obsData");
    Loaded hifa = load(dir + model + "_hifa.json");
    REQUIRE(hs3.lm.format == "hs3");
    // Map parameters by position of role: the HS3 file names per-bin parameters <name>_<i>,
    // pyhf <name>[i]; Lumi is a constant 1 in the HS3 file and absent from pyhf.
    auto hs3_name = [](std::string n) {
      auto b = n.find('[');
      if (b != std::string::npos) n = n.substr(0, b) + "_" + n.substr(b + 1, n.size() - b - 2);
      return n;
    };
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<double> u(-0.3, 0.3);
    for (int trial = 0; trial < 5; ++trial) {
      std::vector<double> xp = hifa.lm.model.initial_values();
      std::vector<double> xh = hs3.lm.model.initial_values();
      for (size_t i = 0; i < xp.size(); ++i) {
        if (trial > 0) xp[i] += u(rng);
        const std::string n = hs3_name(hifa.lm.model.parameters[i].name);
        auto j = hs3.lm.model.find_parameter(n);
        if (!j) j = hs3.lm.model.find_parameter("alpha_" + n);  // histosys parameter, ROOT-style name
        REQUIRE(j);
        xh[*j] = xp[i];
      }
      CHECK(nll_at(hs3, xh) == Approx(nll_at(hifa, xp)).epsilon(1e-13));
    }
  }
}

TEST_CASE("HS3 reader refuses what it cannot evaluate, naming the place", "[hs3]") {
  const std::string dir = HS3FIT_SHARED_DIR "/workspaces/hs3/";
  CHECK_THROWS_WITH(load(dir + "HS3TestSuite/simplest_gauss/hs3.json"),
                    Catch::Contains("/distributions/0/type") && Catch::Contains("not supported"));
  CHECK_THROWS_WITH(load(dir + "root/rf515_hfJSON.json"), Catch::Contains("legacy HS3 layout"));
}

// pyhf → HS3 → model gives the pyhf model's −ln L, on every pyhf workspace of the corpus.
TEST_CASE("convert round-trips every pyhf workspace with equal NLL", "[hs3][convert]") {
  const fs::path root = HS3FIT_SHARED_DIR "/workspaces/pyhf";
  int checked = 0;
  for (const auto& dir : fs::directory_iterator(root)) {
    if (!dir.is_directory()) continue;
    for (const auto& f : fs::directory_iterator(dir.path())) {
      const std::string name = f.path().filename().string();
      if (name.rfind("workspace", 0) != 0 || f.path().extension() != ".json") continue;
      const std::string path = f.path().string();
      INFO(path);
      hs3fit::json::Document doc = hs3fit::json::parse_file(path);
      hs3fit::pyhf::Workspace ws = hs3fit::pyhf::read_workspace(doc.root());
      // per process: several test runs (Release, sanitizer, other builds) may share /tmp
      const std::string out = "/tmp/hs3fit_test_convert_" + std::to_string(getpid()) + "_" + dir.path().filename().string() + "_" + name;
      std::ofstream(out) << hs3fit::tools::convert_pyhf_to_hs3(ws);
      Loaded a = load(path), b = load(out);
      REQUIRE(a.lm.model.parameters.size() == b.lm.model.parameters.size());
      const double na = nll_at(a, a.lm.model.initial_values()), nb = nll_at(b, b.lm.model.initial_values());
      // Including atlas-3L-eRJR (shapesys τ ≈ 2e11; τ = 1/δ² in HS3 vs n²/σ² in pyhf differ in
      // the last bit): the Poisson constraints are evaluated without cancellation.
      INFO(dir.path().filename().string() << ": " << na << " vs " << nb);
      CHECK(std::fabs(na - nb) <= 1e-10 * std::fabs(na));
      ++checked;
    }
  }
  CHECK(checked >= 30);
}
