// The hs3fit executable (HS3FIT_BINARY) run as a user runs it: `fit --json` keys and values,
// exit codes and one-line errors, standard input, patches and patchsets, parameter options.
#include <set>

#include "test_support.h"

namespace {

using namespace hs3test;

const std::string kSimple = shared_path("workspaces/pyhf/simple-2bin/workspace.json");
const std::string kHistfactory = shared_path("workspaces/pyhf/histfactory-example/");

// pyhf 0.7.6 (shared/reference/pyhf/simple-2bin.json)
constexpr double kSimpleBest = 23.196365858571696;
constexpr double kSimpleFixed0 = 23.196365857482107;
constexpr double kSimpleFixed1 = 24.034314489436454;
constexpr double kSimpleInit = 25.167266297778653;
// shared/reference/pyhf/histfactory-example.json (measurement GaussExample)
constexpr double kHistfactoryBest = 9.030157840642559;

hs3fit::json::Document parse_output(const RunResult& r) {
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(!r.out.empty());
  return parse_json(r.out, "<hs3fit stdout>");
}

double twice_nll_of(const RunResult& r) {
  INFO("stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  return parse_output(r).root().at("twice_nll").as_number();
}

// Exit code 2 and exactly one line on stderr that contains every one of `needles`.
void expect_bad_input(const RunResult& r, const std::vector<std::string>& needles) {
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.exit_code == 2);
  std::vector<std::string> lines = lines_of(r.err);
  CHECK(lines.size() == 1);
  for (const std::string& n : needles) CHECK(r.err.find(n) != std::string::npos);
  CHECK(r.out.empty());
}

std::string minimal_workspace(const std::string& samples, const std::string& obs = "[11]", const std::string& params = "[]") {
  return R"({"channels": [{"name": "SR", "samples": )" + samples + R"(}], "observations": [{"name": "SR", "data": )" + obs +
         R"(}], "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": )" + params + R"(}}], "version": "1.0.0"})";
}

}  // namespace

TEST_CASE("fit --json prints the documented keys with consistent values", "[cli]") {
  RunResult r = run_hs3fit("fit " + quote(kSimple) + " --json");
  INFO("stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  auto doc = parse_output(r);
  hs3fit::json::Node root = doc.root();
  for (const char* key : {"workspace", "measurement", "poi", "nll", "twice_nll", "status", "converged", "edm", "edm_goal",
                          "covariance_status", "parameters_at_limit", "iterations", "gradient_evaluations", "strategy", "poi_hat",
                          "poi_error", "mle_parameters", "parameters", "correlation", "timing_s"}) {
    INFO(key);
    CHECK(root.get(key).has_value());
  }
  CHECK(root.at("measurement").as_string() == "Measurement");
  CHECK(root.at("poi").as_string() == "mu");
  CHECK(root.at("status").as_string() == "Valid Minimum");
  CHECK(root.at("converged").as_bool());
  CHECK(root.at("covariance_status").as_string() == "accurate");
  CHECK(root.at("edm").as_number() < root.at("edm_goal").as_number());
  CHECK(root.at("edm_goal").as_number() == Approx(0.002 * 1e-4 * 0.5).epsilon(1e-12));  // README: 0.002·T·0.5, T = 1e-4
  const double twice_nll = root.at("twice_nll").as_number();
  CHECK(twice_nll == Approx(2 * root.at("nll").as_number()).epsilon(1e-15));
  CHECK(twice_nll <= kSimpleBest + 1e-6);
  CHECK(twice_nll >= kSimpleBest - 1e-4);
  CHECK(root.at("parameters_at_limit").as_strings() == std::vector<std::string>{"mu"});

  std::vector<hs3fit::json::Node> params = root.at("parameters").elements();
  REQUIRE(params.size() == 3);
  std::vector<std::string> names;
  for (const auto& p : params) {
    for (const char* key : {"name", "value", "error", "init", "bounds", "fixed", "at_limit"}) {
      INFO(key);
      CHECK(p.get(key).has_value());
    }
    names.push_back(p.at("name").as_string());
    // mle_parameters repeats the values (pyhf CLI's key)
    CHECK(root.at("mle_parameters").at(names.back()).as_number() == p.at("value").as_number());
    CHECK(p.at("bounds").as_numbers().size() == 2);
    CHECK(!p.at("fixed").as_bool());
  }
  CHECK(names == std::vector<std::string>{"mu", "uncorr_bkguncrt[0]", "uncorr_bkguncrt[1]"});
  CHECK(params[0].at("at_limit").as_bool());
  CHECK(params[0].at("bounds").as_numbers() == std::vector<double>{0, 10});
  CHECK(params[0].at("init").as_number() == 1.0);
  CHECK(root.at("poi_hat").as_number() == params[0].at("value").as_number());
  CHECK(root.at("poi_error").as_number() == params[0].at("error").as_number());

  // correlation: free parameters, symmetric, unit diagonal, |ρ| ≤ 1
  hs3fit::json::Node corr = root.at("correlation");
  CHECK(corr.at("names").as_strings() == names);
  std::vector<hs3fit::json::Node> rows = corr.at("matrix").elements();
  REQUIRE(rows.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    std::vector<double> row = rows[i].as_numbers();
    REQUIRE(row.size() == 3);
    CHECK(row[i] == Approx(1.0).epsilon(1e-12));
    for (size_t j = 0; j < 3; ++j) {
      CHECK(std::fabs(row[j]) <= 1.0 + 1e-12);
      CHECK(row[j] == Approx(rows[j].as_numbers()[i]).margin(1e-12));
    }
  }
  for (const char* key : {"parse", "build", "compile", "minimize", "hessian", "total"}) {
    INFO(key);
    CHECK(root.at("timing_s").at(key).as_number() >= 0);
  }
  // Logs on stderr only: stdout is exactly one JSON document.
  CHECK(r.err.find("mu") != std::string::npos);  // the at-limit warning
}

TEST_CASE("fit without --json prints the table", "[cli]") {
  RunResult r = run_hs3fit("fit " + quote(kSimple));
  REQUIRE(r.exit_code == 0);
  for (const char* s : {"Valid Minimum", "mu", "uncorr_bkguncrt[0]", "uncorr_bkguncrt[1]", "twice_nll"}) {
    INFO(s);
    CHECK(r.out.find(s) != std::string::npos);
  }
}

TEST_CASE("global -q silences the logs, and -q after the subcommand too (README lists it with fit's options)", "[cli]") {
  RunResult before = run_hs3fit("-q fit " + quote(kSimple) + " --json");
  CHECK(before.exit_code == 0);
  CHECK(before.err.empty());
  // README's option table for `hs3fit fit` lists -v/-vv/-q.
  RunResult after = run_hs3fit("fit " + quote(kSimple) + " --json -q");
  CHECK(after.exit_code == 0);
  CHECK(after.err.empty());
}

TEST_CASE("exit code 2: bad input gives one line on stderr naming the file and the JSON pointer", "[cli]") {
  SECTION("duplicate sample") {
    TempFile ws(minimal_workspace(R"([{"name": "bkg", "data": [10], "modifiers": [{"name": "mu", "type": "normfactor", "data": null}]},
                                      {"name": "bkg", "data": [5], "modifiers": []}])"));
    expect_bad_input(run_hs3fit("fit " + quote(ws.path())), {ws.path(), "/channels/0/samples/1/name", "duplicate", "bkg"});
  }
  SECTION("a signal patch applied to the workspace that already has the signal") {
    const std::string dir = shared_path("workspaces/pyhf/atlas-mbj-Gtt-0L-B/");
    expect_bad_input(run_hs3fit("fit " + quote(dir + "workspace.json") + " -p " + quote(dir + "signal_patch.json")),
                     {"/channels/1/samples/", "duplicate sample 'synthetic_signal'"});
  }
  SECTION("wrong type") {
    TempFile ws(minimal_workspace(R"([{"name": "bkg", "data": "ten", "modifiers": [{"name": "mu", "type": "normfactor", "data": null}]}])"));
    expect_bad_input(run_hs3fit("eval " + quote(ws.path())), {ws.path(), "/channels/0/samples/0/data"});
  }
  SECTION("unknown modifier type") {
    TempFile ws(minimal_workspace(R"([{"name": "bkg", "data": [10], "modifiers": [{"name": "mu", "type": "normfactr", "data": null}]}])"));
    expect_bad_input(run_hs3fit("fit " + quote(ws.path())), {"/channels/0/samples/0/modifiers/0/type", "normfactr"});
  }
  SECTION("malformed JSON") {
    TempFile ws(R"({"channels": [)");
    expect_bad_input(run_hs3fit("fit " + quote(ws.path())), {ws.path()});
  }
  SECTION("missing file") {
    expect_bad_input(run_hs3fit("fit /nonexistent/hs3fit-ws.json"), {"/nonexistent/hs3fit-ws.json"});
  }
  SECTION("unknown measurement") {
    expect_bad_input(run_hs3fit("fit " + quote(kSimple) + " -m NoSuchMeasurement"), {"NoSuchMeasurement"});
  }
  SECTION("unknown interpolation code") {
    expect_bad_input(run_hs3fit("fit " + quote(kSimple) + " --normsys-interp code9"), {"--normsys-interp", "code9"});
  }
  SECTION("unknown option") {
    RunResult r = run_hs3fit("fit " + quote(kSimple) + " --no-such-option");
    CHECK(r.exit_code == 2);
  }
}

TEST_CASE("exit code 1: -ln L not finite at the point, or a fit that does not converge", "[cli]") {
  // A histosys whose down variation is negative: at a = −1 (μ = 0) the yield is −20 with 11 events.
  TempFile ws(minimal_workspace(R"([{"name": "sig", "data": [5], "modifiers": [{"name": "mu", "type": "normfactor", "data": null}]},
      {"name": "bkg", "data": [10], "modifiers": [{"name": "a", "type": "histosys", "data": {"hi_data": [12], "lo_data": [-20]}}]}])"));
  RunResult e = run_hs3fit("-q eval " + quote(ws.path()) + " --set a=-1,mu=0 --json");
  CHECK(e.exit_code == 1);
  RunResult f = run_hs3fit("-q fit " + quote(ws.path()) + " --set a=-1,mu=0 --json");
  CHECK(f.exit_code == 1);
  auto doc = parse_output(f);
  CHECK(!doc.root().at("converged").as_bool());
  CHECK(doc.root().at("status").as_string() != "Valid Minimum");
  // From a valid start the same model fits.
  CHECK(run_hs3fit("-q fit " + quote(ws.path()) + " --json").exit_code == 0);
}

TEST_CASE("a workspace argument '-' reads the workspace from standard input", "[cli]") {
  const double from_file = twice_nll_of(run_hs3fit("-q fit " + quote(kSimple) + " --json"));
  RunResult r = run_hs3fit("-q fit - --json", kSimple);
  const double from_stdin = twice_nll_of(r);
  CHECK(from_stdin == from_file);
  CHECK(parse_output(r).root().at("workspace").as_string() == "<stdin>");
  CHECK(twice_nll_of(run_hs3fit("-q eval - --json", kSimple)) == Approx(kSimpleInit).epsilon(1e-12));
  // errors in standard input name it
  TempFile bad(R"({"channels": 3})");
  expect_bad_input(run_hs3fit("fit -", bad.path()), {"<stdin>", "/channels"});
}

TEST_CASE("fit --patch FILE:NAME of a patchset gives the workspace pyhf derived from it", "[cli][patch]") {
  const std::string bkg = quote(kHistfactory + "BkgOnly.json"), patchset = kHistfactory + "patchset.json";
  const double derived = twice_nll_of(run_hs3fit("-q fit " + quote(kHistfactory + "workspace.json") + " -m GaussExample --json"));
  CHECK(derived <= kHistfactoryBest + 1e-6);
  const double patched =
      twice_nll_of(run_hs3fit("-q fit " + bkg + " -p " + quote(patchset + ":patch_channel1_signal_syst1") + " -m GaussExample --json"));
  CHECK(patched == Approx(derived).epsilon(1e-12));
  const double via_patchset = twice_nll_of(
      run_hs3fit("-q fit " + bkg + " --patchset " + quote(patchset) + " --patch patch_channel1_signal_syst1 -m GaussExample --json"));
  CHECK(via_patchset == Approx(derived).epsilon(1e-12));
  // an unknown patch name is bad input naming it
  RunResult bad = run_hs3fit("fit " + bkg + " -p " + quote(patchset + ":no_such_patch") + " -m GaussExample");
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("no_such_patch") != std::string::npos);
}

TEST_CASE("fit -p signal_patch.json on BkgOnly.json fits like the derived workspace.json", "[cli][patch]") {
  const std::string dir = shared_path("workspaces/pyhf/atlas-sbottom-SUSY-2018-31-RegionB/");
  const double derived = twice_nll_of(run_hs3fit("-q fit " + quote(dir + "workspace.json") + " --json"));
  RunResult r = run_hs3fit("-q fit " + quote(dir + "BkgOnly.json") + " -p " + quote(dir + "signal_patch.json") + " --json");
  CHECK(twice_nll_of(r) == Approx(derived).epsilon(1e-12));
  // shared/reference/pyhf/atlas-sbottom-SUSY-2018-31-RegionB.json: bestfit twice_nll
  CHECK(derived <= 96.31512939562381 + 1e-6);
}

TEST_CASE("options --fix, --set, --bounds and --float act on the named parameters", "[cli]") {
  SECTION("--fix mu=0 / mu=1 reproduce pyhf's fixed-POI fits") {
    RunResult r0 = run_hs3fit("-q fit " + quote(kSimple) + " --fix mu=0 --json");
    const double t0 = twice_nll_of(r0);
    CHECK(t0 <= kSimpleFixed0 + 1e-6);
    CHECK(t0 >= kSimpleFixed0 - 1e-4);
    auto doc = parse_output(r0);
    hs3fit::json::Node mu = doc.root().at("parameters").elements()[0];
    CHECK(mu.at("name").as_string() == "mu");
    CHECK(mu.at("fixed").as_bool());
    CHECK(mu.at("value").as_number() == 0.0);
    CHECK(mu.at("error").as_number() == 0.0);
    CHECK(doc.root().at("correlation").at("names").as_strings() == std::vector<std::string>{"uncorr_bkguncrt[0]", "uncorr_bkguncrt[1]"});
    const double t1 = twice_nll_of(run_hs3fit("-q fit " + quote(kSimple) + " --freezeParameters mu=1 --json"));
    CHECK(t1 <= kSimpleFixed1 + 1e-6);
    CHECK(t1 >= kSimpleFixed1 - 1e-4);
    // --fix NAME fixes at the initial value (1 here), --set then --fix at the set value
    CHECK(twice_nll_of(run_hs3fit("-q fit " + quote(kSimple) + " --fix mu --json")) == Approx(t1).epsilon(1e-9));
    CHECK(twice_nll_of(run_hs3fit("-q fit " + quote(kSimple) + " --set mu=0 --fix mu --json")) == Approx(t0).epsilon(1e-9));
  }
  SECTION("--set moves the initial point: eval at it, and the fit's reported init") {
    // −ln L of simple-2bin at μ = 0.5, γ = 1: Σ pois(n, 0.5 s + b) + shapesys constraints at γ = 1
    // (the pyhf simple model: s = [5, 10], b = [50, 60], σ_b = [5, 12], n = [50, 60]).
    const double want = 2 * (pois_nll(50, 2.5 + 50) + pois_nll(60, 5 + 60) + pois_constraint_nll(100, 1, 100) +
                             pois_constraint_nll(25, 1, 25));
    CHECK(twice_nll_of(run_hs3fit("-q eval " + quote(kSimple) + " --set mu=0.5 --json")) == Approx(want).epsilon(1e-12));
    auto doc = parse_output(run_hs3fit("-q fit " + quote(kSimple) + " --setParameters mu=0.5 --json"));
    CHECK(doc.root().at("parameters").elements()[0].at("init").as_number() == 0.5);
  }
  SECTION("--bounds replaces the bounds (both syntaxes)") {
    auto doc = parse_output(run_hs3fit("-q fit " + quote(kSimple) + " --bounds mu=0:5 --json"));
    CHECK(doc.root().at("parameters").elements()[0].at("bounds").as_numbers() == std::vector<double>{0, 5});
    auto doc2 = parse_output(run_hs3fit("-q fit " + quote(kSimple) + " --setParameterRanges " + quote("mu=0,5:uncorr_bkguncrt[0]=0.5,2") + " --json"));
    CHECK(doc2.root().at("parameters").elements()[0].at("bounds").as_numbers() == std::vector<double>{0, 5});
    CHECK(doc2.root().at("parameters").elements()[1].at("bounds").as_numbers() == std::vector<double>{0.5, 2});
    // bayes-SRee-SRmm-Srem's reference used μ ∈ [0, 50]
    const std::string ws = quote(shared_path("workspaces/pyhf/bayes-SRee-SRmm-Srem/workspace.json"));
    CHECK(twice_nll_of(run_hs3fit("-q fit " + ws + " --bounds mu_Sig=0:50 --json")) <= 15.021389795375029 + 1e-6);
  }
  SECTION("--float releases a parameter the measurement fixes") {
    const std::string ws = quote(kHistfactory + "workspace.json");
    auto fixed = parse_output(run_hs3fit("-q fit " + ws + " -m GaussExample --json"));
    auto floated = parse_output(run_hs3fit("-q fit " + ws + " -m GaussExample --float lumi --json"));
    auto lumi_of = [](const hs3fit::json::Document& d) {
      for (const auto& p : d.root().at("parameters").elements())
        if (p.at("name").as_string() == "lumi") return p;
      FAIL("no lumi");
      return d.root();
    };
    CHECK(lumi_of(fixed).at("fixed").as_bool());
    CHECK(!lumi_of(floated).at("fixed").as_bool());
    CHECK(lumi_of(floated).at("error").as_number() > 0);
    // one more free parameter can only lower the minimum
    CHECK(floated.root().at("twice_nll").as_number() <= fixed.root().at("twice_nll").as_number() + 1e-9);
  }
  SECTION("invalid values are bad input naming the option") {
    expect_bad_input(run_hs3fit("fit " + quote(kSimple) + " --fix nosuch=1"), {"--fix", "nosuch"});
    expect_bad_input(run_hs3fit("fit " + quote(kSimple) + " --set mu=11"), {"--set", "mu"});  // outside [0, 10]
    expect_bad_input(run_hs3fit("fit " + quote(kSimple) + " --set mu=abc"), {"--set", "abc"});
    expect_bad_input(run_hs3fit("fit " + quote(kSimple) + " --bounds mu=5:1"), {"--bounds"});
    expect_bad_input(run_hs3fit("fit " + quote(kSimple) + " --bounds mu"), {"--bounds"});
    expect_bad_input(run_hs3fit("fit " + quote(kSimple) + " --float nosuch"), {"--float", "nosuch"});
    expect_bad_input(run_hs3fit("fit " + quote(kSimple) + " --poi nosuch"), {"--poi", "nosuch"});
  }
}

TEST_CASE("option --setParameterRanges accepts Combine's single range NAME=LO,HI", "[cli][!mayfail]") {
  // README: "--bounds a=0:20,b=-3:3 (--setParameterRanges, Combine's a=0,20:b=-3,3 too)". With one
  // parameter Combine writes r=0,5; model::parse_ranges only detects the Combine form when a ':'
  // separates two ranges, so "mu=0,5" is split at the comma: "expected NAME=LO:HI, got 'mu=0'".
  RunResult r = run_hs3fit("-q fit " + quote(kSimple) + " --setParameterRanges mu=0,5 --json");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(parse_output(r).root().at("parameters").elements()[0].at("bounds").as_numbers() == std::vector<double>{0, 5});
}

TEST_CASE("eval --gradient --json gives the exact gradient by parameter name", "[cli][gradient]") {
  RunResult r = run_hs3fit("-q eval " + quote(kSimple) + " --set mu=0.7,uncorr_bkguncrt[0]=1.05 --gradient --json");
  REQUIRE(r.exit_code == 0);
  auto doc = parse_output(r);
  auto c = compile_file(kSimple);
  std::vector<double> x = c->model().initial_values();
  x[c->index("mu")] = 0.7;
  x[c->index("uncorr_bkguncrt[0]")] = 1.05;
  std::vector<double> fd = fd_gradient(*c, x);
  CHECK(doc.root().at("nll").as_number() == Approx(c->nll(x)).epsilon(1e-14));
  for (size_t i = 0; i < c->n(); ++i) {
    INFO(c->params()[i].name);
    CHECK(doc.root().at("gradient").at(c->params()[i].name).as_number() == Approx(fd[i]).epsilon(1e-7));
  }
}
