// Sharded scans (hs3fit scan --shard i/N -o DIR, hs3fit merge DIR): a scan split into shards
// and merged equals the single-process scan bit for bit; killed tasks resume without
// recomputing finished points; merge refuses incomplete or inconsistent directories; a
// directory of another run (workspace bytes, options) is refused. Shard helpers: assignment,
// hashes, checkpoints.
#include <csignal>
#include <fcntl.h>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "infer/profile_scan.h"
#include "infer/shards.h"
#include "test_support.h"

using namespace hs3test;
namespace fs = std::filesystem;

namespace {

const std::string kWorkspace = source_path("workspaces/simple-2bin.json");

// Everything of a scan's JSON before "fits" (which, with "timing_s", depends on the run).
std::string without_timing(const std::string& json) {
  const size_t at = json.find("\n  \"fits\":");
  REQUIRE(at != std::string::npos);
  return json.substr(0, at);
}

size_t count_lines(const std::string& path) {
  const std::string text = read_file(path);
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

// "shard 1/1: 400 points (150 computed, 250 from the checkpoint) in ..." -> {computed, resumed}
std::pair<int, int> computed_and_resumed(const std::string& out) {
  int total = 0, computed = -1, resumed = -1, i = 0, n = 0;
  REQUIRE(std::sscanf(out.c_str(), "shard %d/%d: %d points (%d computed, %d from the checkpoint)", &i, &n, &total, &computed, &resumed) == 5);
  CHECK(computed + resumed == total);
  return {computed, resumed};
}

}  // namespace

TEST_CASE("shard assignment is round-robin, 1-based and validated", "[shards]") {
  using hs3fit::shards::parse_shard;
  const auto s = parse_shard("3/50");
  CHECK(s.index == 3);
  CHECK(s.count == 50);
  CHECK(hs3fit::shards::items_of(s, 160) == std::vector<size_t>{2, 52, 102, 152});
  CHECK(hs3fit::shards::shard_of(152, 50) == 3);
  // every item in exactly one shard
  std::vector<int> seen(1000, 0);
  for (int i = 1; i <= 7; ++i)
    for (size_t k : hs3fit::shards::items_of({i, 7}, 1000)) ++seen[k];
  CHECK(std::all_of(seen.begin(), seen.end(), [](int c) { return c == 1; }));
  for (const char* bad : {"0/50", "51/50", "3", "3/0", "a/5", "-1/5", "3/50/2", ""}) {
    INFO(bad);
    CHECK_THROWS_AS(parse_shard(bad), hs3fit::Error);
  }
}

TEST_CASE("scan chains are blocks of the last axis in output order", "[shards]") {
  using V = std::vector<std::vector<size_t>>;
  const std::vector<double> a20(20, 0.0), a3(3, 0.0), a5(5, 0.0);
  CHECK(hs3fit::infer::scan_chains({a20}, 8) == V{{0, 1, 2, 3, 4, 5, 6, 7}, {8, 9, 10, 11, 12, 13, 14, 15}, {16, 17, 18, 19}});
  CHECK(hs3fit::infer::scan_chains({a3, a5}, 2) == V{{0, 1}, {2, 3}, {4}, {5, 6}, {7, 8}, {9}, {10, 11}, {12, 13}, {14}});
  CHECK(hs3fit::infer::scan_chains({a5}, 1) == V{{0}, {1}, {2}, {3}, {4}});
  CHECK_THROWS_AS(hs3fit::infer::scan_chains({a5}, 0), hs3fit::Error);
}

TEST_CASE("FNV-1a 64 matches the published test vectors", "[shards]") {
  // http://www.isthe.com/chongo/src/fnv/test_fnv.c
  CHECK(hs3fit::shards::fnv1a64("") == 0xcbf29ce484222325ull);
  CHECK(hs3fit::shards::fnv1a64("a") == 0xaf63dc4c8601ec8cull);
  CHECK(hs3fit::shards::fnv1a64("foobar") == 0x85944171f73967e8ull);
  CHECK(hs3fit::shards::hex64(0xaf63dc4c8601ec8cull) == "af63dc4c8601ec8c");
}

TEST_CASE("a checkpoint drops a torn last line and keeps the finished records", "[shards]") {
  TempDir dir;
  const std::string path = dir / "cp.jsonl";
  {
    hs3fit::shards::Checkpoint cp(path, "{\"h\": 1}");
    cp.append("{\"k\": 0}");
    cp.append("{\"k\": 1}");
  }
  {
    std::ofstream out(path, std::ios::app);
    out << "{\"k\": 2, \"nl";  // killed while writing
  }
  {
    hs3fit::shards::Checkpoint cp(path, "{\"h\": 1}");
    CHECK(cp.records() == std::vector<std::string>{"{\"k\": 0}", "{\"k\": 1}"});
    cp.append("{\"k\": 2}");
  }
  CHECK(read_file(path) == "{\"h\": 1}\n{\"k\": 0}\n{\"k\": 1}\n{\"k\": 2}\n");
  CHECK_THROWS_AS(hs3fit::shards::Checkpoint(path, "{\"h\": 2}"), hs3fit::Error);  // another run's checkpoint
}

TEST_CASE("a 1000-point scan in 50 shards, merged, equals the single-process scan bit for bit", "[shards][cli][slow]") {
  TempDir dir;
  const std::string scan = "scan " + quote(kWorkspace) + " --poi mu --range 0:5 --points 1000";
  const RunResult whole = run_hs3fit(scan + " --json");
  REQUIRE(whole.exit_code == 0);
  for (int i = 1; i <= 50; ++i) {
    const RunResult r = run_hs3fit(scan + fmt::format(" --shard {}/50 -o ", i) + quote(dir.path()));
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    // 125 chains of 8 points: shards 1-25 get 3 chains, the others 2
    CHECK(computed_and_resumed(r.out) == std::pair<int, int>{i <= 25 ? 24 : 16, 0});
  }
  CHECK(!file_exists(dir / "shard-7-of-50.partial.jsonl"));  // checkpoints become shard files
  const RunResult merged = run_hs3fit("merge " + quote(dir.path()) + " --json");
  INFO(merged.err);
  REQUIRE(merged.exit_code == 0);
  CHECK(without_timing(merged.out) == without_timing(whole.out));
  // every point is there, in grid order (1000 2ΔNLL values; the first at mu = 0, the last at 5)
  const auto doc = parse_json(merged.out);
  const auto points = doc.root().at("points").elements();
  REQUIRE(points.size() == 1000);
  CHECK(points.front().at("values").at("mu").as_number() == 0.0);
  CHECK(points.back().at("values").at("mu").as_number() == 5.0);
  // the table and CSV of merge are the unsharded scan's too
  CHECK(run_hs3fit("merge " + quote(dir.path()) + " --csv").out == run_hs3fit(scan + " --csv").out);
}

TEST_CASE("a 2D scan in shards merges into the single-process scan", "[shards][cli]") {
  TempDir dir;
  const std::string scan = "scan " + quote(kWorkspace) + " --params mu,uncorr_bkguncrt[0] --grid 0:3:7,0.8:1.2:5";
  const RunResult whole = run_hs3fit(scan + " --json");
  REQUIRE(whole.exit_code == 0);
  for (int i = 1; i <= 4; ++i) REQUIRE(run_hs3fit(scan + fmt::format(" --shard {}/4 -o ", i) + quote(dir.path())).exit_code == 0);
  const RunResult merged = run_hs3fit("merge " + quote(dir.path()) + " --json");
  REQUIRE(merged.exit_code == 0);
  CHECK(without_timing(merged.out) == without_timing(whole.out));
}

TEST_CASE("a killed shard resumes mid-chain without recomputing its finished points, bit for bit", "[shards][cli]") {
  TempDir dir;
  const std::string args = " --poi mu --range 0:5 --points 3000";
  const std::string checkpoint = dir / "shard-1-of-1.partial.jsonl";
  // Start the shard, SIGKILL it once some points are in the checkpoint.
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execl(HS3FIT_BINARY, HS3FIT_BINARY, "scan", kWorkspace.c_str(), "--poi", "mu", "--range", "0:5", "--points", "3000", "--shard", "1/1", "-o",
          dir.path().c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  size_t lines = 0;
  for (int i = 0; i < 20000 && lines < 102; ++i) {  // header + 101 points: 100 stay complete after the cut below
    std::this_thread::sleep_for(std::chrono::microseconds(500));
    if (file_exists(checkpoint)) lines = count_lines(checkpoint);
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(WIFSIGNALED(status));  // killed, not finished
  REQUIRE(!file_exists(dir / "shard-1-of-1.json"));
  // a task killed while writing leaves a torn last line: cut the last record in half
  // (the kill itself may already have torn it; then it stays as it is)
  std::string text = read_file(checkpoint);
  REQUIRE(!text.empty());
  if (text.back() == '\n') {
    const size_t last = text.rfind('\n', text.size() - 2);
    text.resize(last + 1 + (text.size() - last) / 2);
    { std::ofstream(checkpoint, std::ios::binary | std::ios::trunc) << text; }
  }
  const size_t done = count_lines(checkpoint) - 1;  // complete records
  REQUIRE(done >= 100);
  REQUIRE(done < 3000);

  // merge says what is missing
  const RunResult early = run_hs3fit("merge " + quote(dir.path()) + " --json");
  CHECK(early.exit_code == 2);
  CHECK(early.err.find("shard 1/1 is unfinished") != std::string::npos);
  CHECK(early.out.empty());

  // rerun: only the missing points are fitted
  const RunResult again = run_hs3fit("scan " + quote(kWorkspace) + args + " --shard 1/1 -o " + quote(dir.path()));
  INFO(again.err);
  REQUIRE(again.exit_code == 0);
  const auto [computed, resumed] = computed_and_resumed(again.out);
  CHECK(static_cast<size_t>(resumed) == done);
  CHECK(computed == 3000 - resumed);
  CHECK(!file_exists(checkpoint));
  // a third run has nothing to do
  CHECK(run_hs3fit("scan " + quote(kWorkspace) + args + " --shard 1/1 -o " + quote(dir.path())).out.find("already complete") != std::string::npos);

  const RunResult merged = run_hs3fit("merge " + quote(dir.path()) + " --json");
  REQUIRE(merged.exit_code == 0);
  CHECK(without_timing(merged.out) == without_timing(run_hs3fit("scan " + quote(kWorkspace) + args + " --json").out));
}

TEST_CASE("merge lists missing, duplicated and foreign shards and points, with exit code 2", "[shards][cli]") {
  TempDir dir;
  const std::string scan = "scan " + quote(kWorkspace) + " --poi mu --range 0:5 --points 40";
  for (int i : {1, 2, 4, 5}) REQUIRE(run_hs3fit(scan + fmt::format(" --shard {}/5 -o ", i) + quote(dir.path())).exit_code == 0);
  RunResult r = run_hs3fit("merge " + quote(dir.path()));
  CHECK(r.exit_code == 2);
  CHECK(r.out.empty());
  CHECK(r.err.find("missing shards (1 of 5): 3") != std::string::npos);
  CHECK(r.err.find("missing points (8 of 40, 0-based in output order): 16-23") != std::string::npos);  // chain 2 of 8 points

  REQUIRE(run_hs3fit(scan + " --shard 3/5 -o " + quote(dir.path())).exit_code == 0);
  REQUIRE(run_hs3fit("merge " + quote(dir.path())).exit_code == 0);

  // a duplicated point record
  const std::string path = dir / "shard-1-of-5.json";
  const std::string text = read_file(path);
  const size_t a = text.find("{\"k\":0,"), b = text.find('\n', a);
  REQUIRE(a != std::string::npos);
  REQUIRE(text[b - 1] == ',');
  { std::ofstream(path, std::ios::binary) << text.substr(0, a) + text.substr(a, b - a - 1) + ",\n    " + text.substr(a); }
  r = run_hs3fit("merge " + quote(dir.path()));
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("points 0 are duplicated") != std::string::npos);
  { std::ofstream(path, std::ios::binary) << text; }

  // a shard file of another layout in the directory
  fs::copy_file(path, dir / "shard-1-of-4.json");
  r = run_hs3fit("merge " + quote(dir.path()));
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("shard-1-of-4.json: a shard of another layout") != std::string::npos);
}

TEST_CASE("a directory of another run is refused, naming what differs", "[shards][cli]") {
  TempDir dir;
  TempFile ws(read_file(kWorkspace));
  const std::string base = " --poi mu --range 0:5 --points 40 -o " + quote(dir.path());
  REQUIRE(run_hs3fit("scan " + quote(ws.path()) + base + " --shard 1/4").exit_code == 0);

  RunResult r = run_hs3fit("scan " + quote(ws.path()) + " --poi mu --range 0:6 --points 40 -o " + quote(dir.path()) + " --shard 2/4");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("grid (here {\"mu\":[0,6,40]}") != std::string::npos);

  r = run_hs3fit("scan " + quote(ws.path()) + base + " --shard 2/5");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("shards (here 5, there 4)") != std::string::npos);

  // the same file name with other bytes (one more observed event)
  std::string text = read_file(kWorkspace);
  const size_t at = text.find("\"observations\"");
  REQUIRE(at != std::string::npos);
  const size_t digit = text.find_first_of("0123456789", text.find("\"data\"", at));
  text.insert(digit, "1");
  ws.write(text);
  r = run_hs3fit("scan " + quote(ws.path()) + base + " --shard 2/4");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("workspace_hash") != std::string::npos);

  // usage errors
  CHECK(run_hs3fit("scan " + quote(kWorkspace) + " --shard 0/4 -o " + quote(dir / "x")).exit_code == 2);
  CHECK(run_hs3fit("scan " + quote(kWorkspace) + " --shard 1/4").exit_code == 2);  // no -o
  CHECK(run_hs3fit("merge " + quote(dir / "nothing-here")).exit_code == 2);
}

TEST_CASE("hs3fit-condor writes a submit file whose jobs, run by hand, merge into the unsharded scan", "[shards][cli]") {
  TempDir dir;
  const std::string script = source_path("scripts/hs3fit-condor");
  const std::string scan_args = quote(kWorkspace) + " --poi mu --range 0:5 --points 30";
  const std::string gen = quote(script) + " scan " + scan_args + " --tasks 3 -o " + quote(dir / "out") + " --hs3fit " + quote(HS3FIT_BINARY) +
                          " --submit-args 'request_memory = 2 GB; +JobFlavour = \"espresso\"'";
  REQUIRE(std::system((gen + " >/dev/null").c_str()) == 0);
  const std::string sub = read_file(dir / "out/hs3fit.sub");
  CHECK(sub.find("\nqueue 3\n") != std::string::npos);
  CHECK(sub.find("\narguments               = $(Process)\n") != std::string::npos);
  CHECK(sub.find("\nexecutable              = " + dir.path() + "/out/condor-task.sh\n") != std::string::npos);
  CHECK(sub.find("\nrequest_memory = 2 GB\n+JobFlavour = \"espresso\"\n") != std::string::npos);
  CHECK(sub.find("should_transfer_files   = NO") != std::string::npos);
  // what HTCondor would run: condor-task.sh $(Process) for Process = 0, 1, 2; then the merge helper
  for (int p = 0; p < 3; ++p) REQUIRE(std::system((quote(dir / "out/condor-task.sh") + " " + std::to_string(p) + " >/dev/null").c_str()) == 0);
  CHECK(file_exists(dir / "out/shard-3-of-3.json"));
  REQUIRE(std::system((quote(dir / "out/condor-merge.sh") + " 2>/dev/null").c_str()) == 0);
  CHECK(without_timing(read_file(dir / "out/merged.json")) == without_timing(run_hs3fit("scan " + scan_args + " --json").out));
  // --dry-run prints the same submit file and writes nothing
  const std::string dry = quote(script) + " scan " + scan_args + " --tasks 3 -o " + quote(dir / "dry") + " --hs3fit " + quote(HS3FIT_BINARY) + " --dry-run";
  std::FILE* f = popen(dry.c_str(), "r");
  REQUIRE(f);
  std::string printed;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) printed.append(buf, n);
  CHECK(pclose(f) == 0);
  CHECK(printed.find("\nqueue 3\n") != std::string::npos);
  CHECK(printed.find("executable              = " + dir.path() + "/dry/condor-task.sh") != std::string::npos);
  CHECK(!fs::exists(dir / "dry"));
}

TEST_CASE("hs3fit-slurm --dry-run writes the array and merge job scripts", "[shards][cli]") {
  TempDir dir;
  const std::string cmd = quote(source_path("scripts/hs3fit-slurm")) + " scan " + quote(kWorkspace) + " --poi mu --range 0:5 --points 20 --tasks 4 -o " +
                          quote(dir / "out") + " --hs3fit " + quote(HS3FIT_BINARY) + " --sbatch-args '-p short' --dry-run";
  std::FILE* f = popen(cmd.c_str(), "r");
  REQUIRE(f);
  std::string printed;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) printed.append(buf, n);
  REQUIRE(pclose(f) == 0);
  CHECK(printed.find("sbatch --parsable --array=1-4 --job-name=hs3fit-scan -o " + dir.path() + "/out/logs/task-%a.out -p short " + dir.path() +
                     "/out/slurm-task.sh\n") != std::string::npos);
  CHECK(printed.find("--kill-on-invalid-dep=yes -p short --dependency=afterok:<array job id> " + dir.path() + "/out/slurm-merge.sh") != std::string::npos);
  const std::string task = read_file(dir / "out/slurm-task.sh");
  CHECK(task.find("--shard \"$SLURM_ARRAY_TASK_ID/4\" -o " + dir.path() + "/out") != std::string::npos);
  // the task script is what a Slurm task runs: with SLURM_ARRAY_TASK_ID set it computes that shard
  REQUIRE(std::system(("SLURM_ARRAY_TASK_ID=2 " + quote(dir / "out/slurm-task.sh") + " >/dev/null").c_str()) == 0);
  CHECK(file_exists(dir / "out/shard-2-of-4.json"));
  CHECK(!file_exists(dir / "out/shard-1-of-4.json"));
}

namespace {
// A patchset of signal points for simple-2bin: signal yields scaled by m/10.
std::string signal_patchset(int npatches) {
  std::string s = R"({"metadata": {"name": "grid", "description": "signal grid", "digests": {"sha256": ")" + std::string(64, '0') +
                  R"("}, "labels": ["m"], "references": {"hepdata": "ins1234567"}}, "version": "1.0.0", "patches": [)";
  for (int i = 0; i < npatches; ++i) {
    const int m = 5 + 3 * i;
    s += fmt::format(R"({}{{"metadata": {{"name": "sig_{}", "values": [{}]}}, "patch": [{{"op": "replace", "path": "/channels/0/samples/0/data", "value": [{}, {}]}}]}})",
                     i ? ", " : "", m, m, 0.5 * m, 1.0 * m);
  }
  return s + "]}";
}
}  // namespace

TEST_CASE("limits over a patchset: one row per patch, equal to single-patch runs; shards merge into the same table", "[shards][cli]") {
  TempDir dir;
  TempFile ps(signal_patchset(7));
  const std::string base = "limit " + quote(kWorkspace) + " --patchset " + quote(ps.path());
  const RunResult whole = run_hs3fit(base + " --json");
  INFO(whole.err);
  REQUIRE(whole.exit_code == 0);
  const auto doc = parse_json(whole.out);
  const auto rows = doc.root().at("limits").elements();
  REQUIRE(rows.size() == 7);
  for (int i : {0, 3, 6}) {
    const std::string name = fmt::format("sig_{}", 5 + 3 * i);
    const auto& row = rows[static_cast<size_t>(i)];
    CHECK(row.at("patch").as_string() == name);
    CHECK(row.at("values").as_numbers() == std::vector<double>{5.0 + 3 * i});
    const RunResult one = run_hs3fit("limit " + quote(kWorkspace) + " -p " + quote(ps.path() + ":" + name) + " --json");
    REQUIRE(one.exit_code == 0);
    const auto single = parse_json(one.out);
    CHECK(row.at("obs_limit").as_number() == single.root().at("obs_limit").as_number());
    CHECK(row.at("exp_limits").as_numbers() == single.root().at("exp_limits").as_numbers());
  }
  // a larger signal gives a smaller limit (the signal yield scales with m)
  CHECK(rows[0].at("obs_limit").as_number() > rows[6].at("obs_limit").as_number());
  for (int i = 1; i <= 3; ++i) {
    const RunResult r = run_hs3fit(base + fmt::format(" --shard {}/3 -o ", i) + quote(dir.path()));
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
  }
  const RunResult merged = run_hs3fit("merge " + quote(dir.path()) + " --json");
  INFO(merged.err);
  REQUIRE(merged.exit_code == 0);
  CHECK(without_timing(merged.out) == without_timing(whole.out));
  // a missing shard is reported with its patches
  fs::remove(dir / "shard-2-of-3.json");
  const RunResult missing = run_hs3fit("merge " + quote(dir.path()));
  CHECK(missing.exit_code == 2);
  CHECK(missing.err.find("missing patches (2 of 7, 0-based in patchset order): 1, 4") != std::string::npos);
}

TEST_CASE("toys of a hypothesis test in shards merge into the single-process test with the same seed", "[shards][cli]") {
  TempDir dir;
  const std::string base = "limit " + quote(kWorkspace) + " --toys 300 --seed 11 --hypotest 1.5 --threads 1";
  const RunResult whole = run_hs3fit(base + " --json");
  INFO(whole.err);
  REQUIRE(whole.exit_code == 0);
  for (int i = 1; i <= 4; ++i) {
    const RunResult r = run_hs3fit(base + fmt::format(" --shard {}/4 -o ", i) + quote(dir.path()));
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("75 toys per sample") != std::string::npos);
  }
  const RunResult merged = run_hs3fit("merge " + quote(dir.path()) + " --json");
  INFO(merged.err);
  REQUIRE(merged.exit_code == 0);
  auto until_timing = [](const std::string& s) { return s.substr(0, s.find("\n  \"timing_s\":")); };
  CHECK(until_timing(merged.out) == until_timing(whole.out));  // the fit count too
  // another seed is another run
  const RunResult other = run_hs3fit("limit " + quote(kWorkspace) + " --toys 300 --seed 12 --hypotest 1.5 --shard 1/4 -o " + quote(dir.path()));
  CHECK(other.exit_code == 2);
  CHECK(other.err.find("seed (here \"12\", there \"11\")") != std::string::npos);
  // toy upper limits pick POI values from the toys: not shardable
  CHECK(run_hs3fit("limit " + quote(kWorkspace) + " --toys 300 --shard 1/4 -o " + quote(dir / "x")).exit_code == 2);
  fs::remove(dir / "shard-4-of-4.json");
  const RunResult missing = run_hs3fit("merge " + quote(dir.path()));
  CHECK(missing.exit_code == 2);
  CHECK(missing.err.find("missing toys (75 of 300): 3, 7, 11") != std::string::npos);
}
