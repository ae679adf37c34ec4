// `hs3fit bench` as a user runs it: binned (pyhf) and general HS3 workspaces, --json, --compare
// with pyhf's and pyhs3's timing files, and --suite. Timings are not checked (benchmarks, not
// timed tests); what is checked is that every stage is measured and the fit it times reaches the
// peers' minimum.
#include <catch2/catch.hpp>
#include <cmath>
#include <string>

#include "test_support.h"

using hs3test::parse_json;
using hs3test::quote;
using hs3test::run_hs3fit;
using hs3test::shared_path;
using hs3test::source_path;

namespace {
const std::string kQuick = " --budget 0.01 --min-samples 1";
const std::string kBm1x = "workspaces/hs3/pyhs3-benchmarks/1ch_bkgRooExp_sigGauss_shapeFloat_npOn_constrGauss_yield1x.json";

double number(const hs3fit::json::Node& n, const char* key) { return n.at(key).as_number(); }
}  // namespace

TEST_CASE("bench on a pyhf workspace: every stage, per-unit cost and the fit pyhf found", "[bench]") {
  auto r = run_hs3fit("bench " + quote(shared_path("workspaces/pyhf/simple-2bin/workspace.json")) + " --json" + kQuick +
                      " --compare " + quote(shared_path("reference/pyhf/simple-2bin.json")));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto doc = parse_json(r.out);
  auto root = doc.root();
  CHECK(root.at("workspace").at("kind").as_string() == "binned");
  for (const char* st : {"parse", "build", "compile", "nll", "nll_grad", "hessian", "fit"}) {
    INFO(st);
    CHECK(number(root.at("stages").at(st), "min_s") > 0);
  }
  CHECK(std::isfinite(number(root.at("per_unit_ns"), "nll_grad")));
  CHECK(root.at("tape").at("ops").as_number() > 0);
  // pyhf's best fit (shared/reference/pyhf/simple-2bin.json, bestfit.twice_nll).
  auto ref = parse_json(hs3test::read_file(shared_path("reference/pyhf/simple-2bin.json")));
  CHECK(root.at("fit").at("twice_nll").as_number() ==
        Approx(ref.root().at("bestfit").at("twice_nll").as_number()).epsilon(1e-9));
  CHECK(root.at("compare").at("tool").as_string().rfind("pyhf", 0) == 0);
  CHECK(number(root.at("compare").at("stages").at("fit"), "speedup") > 0);
}

TEST_CASE("bench on an unbinned HS3 workspace: per-event cost and the pyhs3 minimum", "[bench][hs3]") {
  auto r = run_hs3fit("bench " + quote(shared_path(kBm1x)) + " --json" + kQuick + " --compare " +
                      quote(source_path("bench/pyhs3-timings/bm_1ch_1x.json")));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto doc = parse_json(r.out);
  auto root = doc.root();
  CHECK(root.at("workspace").at("kind").as_string() == "general");
  CHECK(root.at("workspace").at("events").as_number() == 29);
  CHECK_FALSE(root.get("tape"));
  CHECK_FALSE(root.at("stages").get("compile"));
  for (const char* st : {"parse", "build", "nll", "nll_grad", "hessian", "fit"}) {
    INFO(st);
    CHECK(number(root.at("stages").at(st), "min_s") > 0);
  }
  CHECK(number(root.at("per_event_ns"), "nll") > 0);
  CHECK(number(root.at("per_event_ns"), "nll_grad") > 0);
  // pyhs3's MIGRAD minimum (shared/reference/pyhs3.md, bm_1ch_1x): −3.903458377.
  CHECK(root.at("fit").at("twice_nll").as_number() <= 2 * -3.903458377 + 2e-6);
  CHECK(root.at("fit").at("converged").as_bool());
  CHECK(root.at("compare").at("tool").as_string() == "pyhs3 0.4.3.dev0");
  CHECK(number(root.at("compare").at("stages").at("nll"), "reference_s") == Approx(7.2e-6));

  auto table = run_hs3fit("bench " + quote(shared_path(kBm1x)) + kQuick + " --no-fit");
  REQUIRE(table.exit_code == 0);
  CHECK(table.out.find("general HS3 likelihood: 29 events") != std::string::npos);
  CHECK(table.out.find("ns per event") != std::string::npos);
}

TEST_CASE("bench --suite mixes binned and general cases with --likelihood selections", "[bench][hs3]") {
  hs3test::TempFile suite("# two cases\ntwo-bin " + shared_path("workspaces/pyhf/simple-2bin/workspace.json") + " fit=0\nbm3 " +
                              shared_path("workspaces/hs3/pyhs3-benchmarks/3ch_bkgRooExp_sigGauss_shapeFloat_npOn_constrGauss_yield1x.json") +
                              " likelihood=all ref=" + source_path("bench/pyhs3-timings/bm_3ch.json") + "\n",
                          ".txt");
  auto r = run_hs3fit("bench --suite " + quote(suite.path()) + " --json" + kQuick);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto doc = parse_json(r.out);
  auto cases = doc.root().at("cases").elements();
  REQUIRE(cases.size() == 2);
  CHECK(cases[0].at("workspace").at("kind").as_string() == "binned");
  CHECK_FALSE(cases[0].get("fit"));
  CHECK(cases[1].at("workspace").at("kind").as_string() == "general");
  CHECK(cases[1].at("workspace").at("events").as_number() == 79);  // all three channels (pyhs3's SUM)
  // pyhs3's MIGRAD minimum of the sum over the three likelihoods: −16.26043833.
  CHECK(cases[1].at("fit").at("twice_nll").as_number() <= 2 * -16.26043833 + 2e-6);

  auto unknown = run_hs3fit("bench --suite " + quote(suite.path()) + " --budget 0.01 --min-samples 1 --skip two-bin --no-fit");
  CHECK(unknown.exit_code == 0);
  CHECK(unknown.out.find("| bm3 ") != std::string::npos);
  CHECK(unknown.out.find("two-bin") == std::string::npos);
}
