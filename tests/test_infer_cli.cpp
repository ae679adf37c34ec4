// The inference subcommands end to end: hs3fit limit / scan / fit --minos --significance,
// their JSON against pyhf's references, CSV, plots (when gnuplot is installed), toys across
// thread counts, and usage errors.
#include <cmath>
#include <cstdlib>

#include "json/json_reader.h"
#include "test_infer_support.h"

using namespace hs3fit;

namespace {

infertest::PyhfReference reference(const std::string& id) {
  return infertest::read_pyhf_reference(infertest::shared("reference/pyhf/" + id + ".json"));
}

json::Document parse(const infertest::Run& r) {
  INFO(r.err);
  return json::parse(r.out, "<hs3fit output>");
}

bool have_gnuplot() { return std::system("command -v gnuplot >/dev/null 2>&1") == 0; }

}  // namespace

TEST_CASE("hs3fit limit --json reports pyhf's observed and expected upper limits", "[infer][cli]") {
  const infertest::PyhfReference ref = reference("histfactory-example");
  const infertest::Run r = infertest::run_cli("limit " + ref.cli_options() + " --json");
  REQUIRE(r.exit_code == 0);
  const json::Document doc = parse(r);
  const json::Node root = doc.root();
  CHECK(root.at("calctype").as_string() == "asymptotics");
  CHECK(root.at("test_stat").as_string() == "qtilde");
  CHECK(root.at("cl").as_number() == 0.95);
  CHECK(root.at("obs_limit").as_number() == Approx(ref.limit_obs).epsilon(5e-3));
  const std::vector<double> exp = root.at("exp_limits").as_numbers();
  REQUIRE(exp.size() == 5);
  for (size_t k = 0; k < 5; ++k) CHECK(exp[k] == Approx(ref.limit_exp[k]).epsilon(5e-3));
  CHECK(root.at("exp_order").as_strings() == std::vector<std::string>{"-2sigma", "-1sigma", "median", "+1sigma", "+2sigma"});
  CHECK(root.at("converged").as_bool());
  CHECK(root.at("points").size() == static_cast<size_t>(root.at("hypotests").as_number()));
}

TEST_CASE("hs3fit limit --hypotest prints pyhf's CLs_obs and CLs_exp", "[infer][cli]") {
  const infertest::PyhfReference ref = reference("atlas-mbj-Gtt-0L-B");
  const infertest::Run r = infertest::run_cli("limit " + ref.cli_options() + " --hypotest 1 --json");
  REQUIRE(r.exit_code == 0);
  const json::Document doc = parse(r);
  CHECK(doc.root().at("poi_test").as_number() == 1.0);
  CHECK(doc.root().at("CLs_obs").as_number() == Approx(ref.cls_obs).margin(1e-4));
  const std::vector<double> exp = doc.root().at("CLs_exp").as_numbers();
  for (size_t k = 0; k < 5; ++k) CHECK(exp[k] == Approx(ref.cls_exp[k]).margin(1e-4));
  // CLs = CLsb / CLb
  CHECK(doc.root().at("CLs_obs").as_number() ==
        Approx(doc.root().at("CLsb_obs").as_number() / doc.root().at("CLb_obs").as_number()).epsilon(1e-12));
  // the table names the numbers
  const infertest::Run t = infertest::run_cli("limit " + ref.cli_options() + " --hypotest 1");
  REQUIRE(t.exit_code == 0);
  CHECK(t.out.find("observed") != std::string::npos);
  CHECK(t.out.find("CLsb") != std::string::npos);
}

TEST_CASE("hs3fit scan --json reproduces pyhf's profile scan and its CSV has one row per point", "[infer][cli]") {
  const infertest::PyhfReference ref = reference("simple-2bin");  // grid: 13 points from 0 to 10
  REQUIRE(ref.scan_grid.size() == 13);
  const std::string range = " --range 0:10 --points 13";
  const infertest::Run r = infertest::run_cli("scan " + ref.cli_options() + range + " --json");
  REQUIRE(r.exit_code == 0);
  const json::Document doc = parse(r);
  const std::vector<double> grid = doc.root().at("grid").at("mu").as_numbers();
  const std::vector<double> delta = doc.root().at("delta_twice_nll").as_numbers();
  REQUIRE(delta.size() == 13);
  for (size_t i = 0; i < 13; ++i) {
    CHECK(grid[i] == Approx(ref.scan_grid[i]).margin(1e-9));
    CHECK(delta[i] == Approx(ref.scan_delta_twice_nll[i]).margin(1e-4));
  }
  CHECK(doc.root().at("intervals").size() == 2);
  const infertest::Run csv = infertest::run_cli("scan " + ref.cli_options() + range + " --csv");
  REQUIRE(csv.exit_code == 0);
  CHECK(csv.out.rfind("mu,twice_nll,delta_twice_nll,converged,status\n", 0) == 0);
  CHECK(std::count(csv.out.begin(), csv.out.end(), '\n') == 14);
}

TEST_CASE("hs3fit scan in two parameters covers the grid", "[infer][cli]") {
  const infertest::PyhfReference ref = reference("histfactory-example");
  const infertest::Run r = infertest::run_cli("scan " + ref.cli_options() + " --params SigXsecOverSM,syst2 --grid 0:3:5,-2:2:4 --json");
  REQUIRE(r.exit_code == 0);
  const json::Document doc = parse(r);
  CHECK(doc.root().at("points").size() == 20);
  CHECK(doc.root().at("contour_levels").size() == 2);
  double min_delta = 1e9;
  for (double d : doc.root().at("delta_twice_nll").as_numbers()) min_delta = std::min(min_delta, d);
  CHECK(min_delta >= 0);
}

TEST_CASE("hs3fit scan and limit draw plots with gnuplot", "[infer][cli]") {
  if (!have_gnuplot()) {
    WARN("gnuplot is not installed: plot checks skipped");
    return;
  }
  const infertest::PyhfReference ref = reference("simple-2bin");
  infertest::ScratchFile svg(".svg"), png(".png");
  const infertest::Run r = infertest::run_cli("scan " + ref.cli_options() + " --points 9 --plot '" + svg.path() + "'");
  REQUIRE(r.exit_code == 0);
  CHECK(svg.read().find("<svg") != std::string::npos);
  const infertest::Run l = infertest::run_cli("limit " + ref.cli_options() + " --plot '" + png.path() + "'");
  REQUIRE(l.exit_code == 0);
  CHECK(png.read().rfind("\x89PNG", 0) == 0);
  const infertest::Run bad = infertest::run_cli("scan " + ref.cli_options() + " --points 9 --plot /tmp/x.gif");
  CHECK(bad.exit_code == 2);
}

TEST_CASE("hs3fit fit --minos --significance adds intervals and Z0 to the fit", "[infer][cli]") {
  const infertest::PyhfReference ref = reference("histfactory-example");
  const infertest::Run r = infertest::run_cli("fit " + ref.cli_options() + " --minos SigXsecOverSM,syst2 --significance --json");
  REQUIRE(r.exit_code == 0);
  const json::Document doc = parse(r);
  const json::Node root = doc.root();
  // the fit's own keys are still there
  CHECK(root.at("twice_nll").as_number() == Approx(ref.bestfit_twice_nll).margin(1e-6));
  CHECK(root.at("mle_parameters").is_object());
  const json::Node m = root.at("minos").at("SigXsecOverSM");
  CHECK(m.at("lower").as_number() < 0);
  CHECK(m.at("upper").as_number() > 0);
  CHECK(m.at("lower_valid").as_bool());
  const std::vector<double> interval = m.at("interval").as_numbers();
  CHECK(interval[0] == Approx(m.at("value").as_number() + m.at("lower").as_number()));
  CHECK(root.at("minos").at("syst2").at("upper_valid").as_bool());
  // pyhf 0.7.6 hypotest(0, test_stat="q0") on this workspace: p0 = 0.029423318601989948
  CHECK(root.at("significance").at("p0").as_number() == Approx(0.029423318601989948).epsilon(1e-5));
  CHECK(root.at("significance").at("Z0").as_number() == Approx(1.8893373).epsilon(1e-5));
  const infertest::Run t = infertest::run_cli("fit " + ref.cli_options() + " --minos SigXsecOverSM --significance");
  REQUIRE(t.exit_code == 0);
  CHECK(t.out.find("MINOS") != std::string::npos);
  CHECK(t.out.find("Z0") != std::string::npos);
}

TEST_CASE("hs3fit limit --toys gives the same numbers for any --threads", "[infer][cli][toys]") {
  const infertest::PyhfReference ref = reference("simple-2bin");
  const std::string args = "limit " + ref.cli_options() + " --hypotest 1.5 --toys 150 --seed 7 --json --threads ";
  const infertest::Run a = infertest::run_cli(args + "1"), b = infertest::run_cli(args + "2");
  REQUIRE(a.exit_code == 0);
  REQUIRE(b.exit_code == 0);
  const json::Document da = parse(a), db = parse(b);
  CHECK(da.root().at("calctype").as_string() == "toybased");
  CHECK(da.root().at("toys").at("seed").as_number() == 7);
  for (const char* key : {"CLs_obs", "CLsb_obs", "CLb_obs"}) CHECK(da.root().at(key).as_number() == db.root().at(key).as_number());
  CHECK(da.root().at("CLs_exp").as_numbers() == db.root().at("CLs_exp").as_numbers());
}

TEST_CASE("inference options are checked", "[infer][cli]") {
  const infertest::PyhfReference ref = reference("simple-2bin");
  CHECK(infertest::run_cli("limit " + ref.cli_options() + " --test-stat z").exit_code == 2);
  CHECK(infertest::run_cli("limit " + ref.cli_options() + " --cl 1.5").exit_code == 2);
  CHECK(infertest::run_cli("scan " + ref.cli_options() + " --grid 0:1").exit_code == 2);
  CHECK(infertest::run_cli("scan " + ref.cli_options() + " --range 2:1").exit_code == 2);
  CHECK(infertest::run_cli("scan " + ref.cli_options() + " --params mu,nope").exit_code == 2);
  CHECK(infertest::run_cli("fit " + ref.cli_options() + " --minos nope").exit_code == 2);
  const infertest::Run fixed = infertest::run_cli("limit " + ref.cli_options() + " --fix mu=1");
  CHECK(fixed.exit_code == 2);
  CHECK(fixed.err.find("fixed") != std::string::npos);
}
