// Sharded impacts (hs3fit impacts --shard I/N -o DIR, hs3fit merge DIR): shards merged equal
// the single-process impacts bit for bit (JSON and table, timings aside); a missing shard is
// listed and merge exits 2; a resumed shard (checkpoint with a torn last line) writes the same
// file as an uninterrupted one; a directory of another run is refused.
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <unistd.h>

#include "test_support.h"

using namespace hs3test;
namespace fs = std::filesystem;

namespace {
// 66 nuisance parameters (normsys, staterror, shapesys-free), POI widened off its bound so the
// impacts are not truncated.
const std::string kWorkspace = shared_path("workspaces/pyhf/atlas-sbottom-SUSY-2018-31-RegionA/workspace.json");
const std::string kOptions = " --bounds mu_SIG=-10:10";

// The impacts JSON up to "timing_s" (the last member, the only one that depends on the run).
std::string json_without_timing(const std::string& json) {
  const size_t at = json.find("\n  \"timing_s\":");
  REQUIRE(at != std::string::npos);
  return json.substr(0, at);
}

// The table without the times at the end of its last line.
std::string table_without_timing(const std::string& table) {
  const size_t at = table.rfind("   time ");
  REQUIRE(at != std::string::npos);
  return table.substr(0, at);
}

RunResult run_ok(const std::string& args) {
  RunResult r = run_hs3fit(args);
  INFO(args << "\n" << r.err);
  REQUIRE(r.exit_code == 0);
  return r;
}

}  // namespace

TEST_CASE("impacts in 3 shards, merged, equal the single-process impacts bit for bit", "[impacts][shards][cli]") {
  TempDir dir;
  const std::string out = dir / "out";
  const RunResult json = run_ok("impacts " + quote(kWorkspace) + kOptions + " --json");
  const RunResult table = run_ok("impacts " + quote(kWorkspace) + kOptions);
  for (int i = 1; i <= 3; ++i) {
    const RunResult s = run_ok(fmt::format("impacts {}{} --shard {}/3 -o {}", quote(kWorkspace), kOptions, i, quote(out)));
    CHECK(s.out.find(fmt::format("shard {}/3: 22 parameters (22 computed, 0 from the checkpoint)", i)) == 0);
    CHECK(fs::exists(fmt::format("{}/shard-{}-of-3.json", out, i)));
    CHECK_FALSE(fs::exists(fmt::format("{}/shard-{}-of-3.partial.jsonl", out, i)));
  }
  const RunResult mj = run_ok("merge " + quote(out) + " --json");
  CHECK(json_without_timing(mj.out) == json_without_timing(json.out));
  const RunResult mt = run_ok("merge " + quote(out));
  CHECK(table_without_timing(mt.out) == table_without_timing(table.out));
  // Sanity of what was compared: 66 ranked parameters, every fit converged.
  const auto doc = parse_json(mj.out);
  CHECK(doc.root().at("impacts").size() == 66);
  CHECK(doc.root().at("ranked").as_number() == 66);
  CHECK(doc.root().at("converged").as_bool());

  // A rerun of a finished shard does nothing.
  const RunResult again = run_ok(fmt::format("impacts {}{} --shard 2/3 -o {}", quote(kWorkspace), kOptions, quote(out)));
  CHECK(again.out.find("shard 2/3: already complete") == 0);

  // --top is part of the run (recorded in the manifest) and applied by merge.
  const std::string top_out = dir / "top";
  for (int i = 1; i <= 2; ++i) run_ok(fmt::format("impacts {}{} --top 5 --shard {}/2 -o {}", quote(kWorkspace), kOptions, i, quote(top_out)));
  const RunResult top_json = run_ok("impacts " + quote(kWorkspace) + kOptions + " --top 5 --json");
  CHECK(json_without_timing(run_ok("merge " + quote(top_out) + " --json").out) == json_without_timing(top_json.out));
}

TEST_CASE("merge of sharded impacts lists missing shards and parameters, exit code 2", "[impacts][shards][cli]") {
  TempDir dir;
  const std::string out = dir / "out";
  const std::string ws = shared_path("workspaces/pyhf/histfactory-example/BkgOnly.json");  // 5 nuisance parameters: fast
  const std::string patch = " -p " + quote(shared_path("workspaces/pyhf/histfactory-example/patchset.json")) + ":patch_channel1_signal_syst1";
  run_ok(fmt::format("impacts {}{} --shard 1/3 -o {}", quote(ws), patch, quote(out)));
  const RunResult m = run_hs3fit("merge " + quote(out) + " --json");
  CHECK(m.exit_code == 2);
  CHECK(m.out.empty());
  CHECK(m.err.find("missing shards (2 of 3): 2, 3") != std::string::npos);
  CHECK(m.err.find("missing parameters (") != std::string::npos);

  // A shard of another layout lying around is named.
  fs::copy_file(out + "/shard-1-of-3.json", out + "/shard-1-of-2.json");
  run_ok(fmt::format("impacts {}{} --shard 2/3 -o {}", quote(ws), patch, quote(out)));
  run_ok(fmt::format("impacts {}{} --shard 3/3 -o {}", quote(ws), patch, quote(out)));
  const RunResult m2 = run_hs3fit("merge " + quote(out));
  CHECK(m2.exit_code == 2);
  CHECK(m2.err.find("shard-1-of-2.json: a shard of another layout") != std::string::npos);
  fs::remove(out + "/shard-1-of-2.json");
  CHECK(run_hs3fit("merge " + quote(out)).exit_code == 0);

  // Other options into the same directory: refused, naming what differs.
  const RunResult other = run_hs3fit(fmt::format("impacts {}{} --tolerance 0.001 --shard 1/3 -o {}", quote(ws), patch, quote(out)));
  CHECK(other.exit_code == 2);
  CHECK(other.err.find("tolerance") != std::string::npos);
  // Output options belong to merge.
  CHECK(run_hs3fit(fmt::format("impacts {} --shard 1/3 -o {} --json", quote(ws), quote(dir / "x"))).exit_code == 2);
  CHECK(run_hs3fit(fmt::format("impacts {} --shard 1/3", quote(ws))).exit_code == 2);
}

TEST_CASE("a sharded impacts task resumes from its checkpoint and writes the same shard file", "[impacts][shards][cli]") {
  TempDir dir;
  const std::string a = dir / "a", b = dir / "b";
  const std::string ws = shared_path("workspaces/pyhf/atlas-sbottom-SUSY-2018-31-RegionB/workspace.json");
  const std::string args = quote(ws) + " --bounds mu_SIG=-10:10 --shard 2/4 -o ";
  run_ok("impacts " + args + quote(a));
  const std::string full = read_file(a + "/shard-2-of-4.json");
  // The checkpoint a task killed after two parameters (and in the middle of a third line) leaves:
  // the header line, then the first two items of the finished file, then a torn line.
  fs::create_directories(b);
  fs::copy_file(a + "/manifest.json", b + "/manifest.json");
  const auto doc = parse_json(full);
  const std::string hash = doc.root().at("manifest_hash").as_string();
  const std::vector<std::string> lines = lines_of(full);
  std::vector<std::string> items;
  for (const std::string& l : lines) {
    const size_t at = l.find("{\"k\":");
    if (at != std::string::npos) items.push_back(l.substr(at, l.rfind('}') - at + 1));
  }
  REQUIRE(items.size() >= 3);
  {
    std::ofstream cp(b + "/shard-2-of-4.partial.jsonl");
    cp << "{\"manifest_hash\": \"" << hash << "\", \"shard\": \"2/4\"}\n" << items[0] << "\n" << items[1] << "\n" << items[2].substr(0, 40);
  }
  const RunResult r = run_ok("impacts " + args + quote(b));
  CHECK(r.out.find(fmt::format("({} computed, 2 from the checkpoint)", items.size() - 2)) != std::string::npos);
  CHECK(read_file(b + "/shard-2-of-4.json") == full);
  CHECK_FALSE(fs::exists(b + "/shard-2-of-4.partial.jsonl"));
}
