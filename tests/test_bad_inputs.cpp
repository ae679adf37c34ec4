// Issue 8, "bad input never crashes, hangs or lies": the real hs3fit binary is run on every
// case of shared/workspaces/bad (expected.json), on systematic mutations of a valid workspace,
// on hostile patches, files and options, and on inputs found by the fuzzer. Every bad input must
// end with exit code 2 and exactly one line on stderr that names the file, the JSON pointer and
// what was expected, quickly and in bounded memory; valid controls must load and fit (exit 0).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "json/json_reader.h"
#include "json/json_tree.h"
#include "test_support.h"

extern char** environ;

namespace {

using hs3test::kSanitized;
using hs3test::TempDir;

// Limits from shared/workspaces/bad/INDEX.md; sanitizer builds run 2-5x slower and their
// shadow memory inflates RSS, so they get more time and no RSS limit.
constexpr double kMaxSeconds = kSanitized ? 8.0 : 2.0;
constexpr long kMaxRssKiB = 256 * 1024;

const std::string kBad = std::string(HS3FIT_SHARED_DIR) + "/workspaces/bad/";

struct Run {
  int exit_code = -1;  // -1: killed by a signal or timed out
  int signal = 0;
  bool timed_out = false;
  double seconds = 0;
  long max_rss_kib = 0;
  std::string out, err;
  std::vector<std::string> err_lines() const {
    std::vector<std::string> lines;
    std::istringstream in(err);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) lines.push_back(line);
    return lines;
  }
  std::string describe() const {
    return "exit " + std::to_string(exit_code) + (signal ? " signal " + std::to_string(signal) : "") +
           (timed_out ? " TIMEOUT" : "") + ", " + std::to_string(seconds) + " s, " + std::to_string(max_rss_kib) +
           " KiB\n--- stderr:\n" + err + "--- stdout:\n" + out.substr(0, 2000);
  }
};
std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Run hs3fit with `args` (stdin from `stdin_path`, default /dev/null), with a hard timeout.
Run run_hs3fit(const std::vector<std::string>& args, const std::string& stdin_path = "/dev/null") {
  static int counter = 0;
  const std::string base = "/tmp/hs3fit-run-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
  const std::string out_path = base + ".out", err_path = base + ".err";
  std::vector<std::string> argv_s{HS3FIT_BINARY};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, stdin_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  Run r;
  pid_t pid = 0;
  const auto t0 = std::chrono::steady_clock::now();
  const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  REQUIRE(rc == 0);
  const double hard_limit = 10 * kMaxSeconds;
  int status = 0;
  struct rusage usage {};
  while (true) {
    const pid_t w = wait4(pid, &status, WNOHANG, &usage);
    if (w == pid) break;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r.seconds > hard_limit && !r.timed_out) {
      r.timed_out = true;
      kill(pid, SIGKILL);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.max_rss_kib = usage.ru_maxrss;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  r.out = read_file(out_path);
  r.err = read_file(err_path);
  std::remove(out_path.c_str());
  std::remove(err_path.c_str());
  return r;
}

std::string without_slash(const std::string& s) { return !s.empty() && s[0] == '/' ? s.substr(1) : s; }

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

std::string basename_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The contract of a failing run: exit 2, one line on stderr naming `file` and `expect` (a
// JSON pointer with or without its leading '/', a name or an option), no crash, no hang, no
// huge memory, no terminal control characters.
void require_clean_failure(const Run& r, const std::string& file, const std::string& expect) {
  INFO(r.describe());
  CHECK_FALSE(r.timed_out);
  CHECK(r.signal == 0);
  CHECK(r.exit_code == 2);
  CHECK(r.err_lines().size() == 1);
  CHECK(r.seconds <= kMaxSeconds);
  if (!kSanitized) CHECK(r.max_rss_kib <= kMaxRssKiB);
  if (!file.empty()) CHECK(contains(r.err, basename_of(file)));
  if (!expect.empty()) CHECK(contains(r.err, without_slash(expect)));
  for (unsigned char c : r.err) CHECK((c >= 0x20 || c == '\n'));
  CHECK(r.err.size() < 4096);
}

void require_clean_success(const Run& r) {
  INFO(r.describe());
  CHECK_FALSE(r.timed_out);
  CHECK(r.signal == 0);
  CHECK(r.exit_code == 0);
  CHECK(r.seconds <= kMaxSeconds);
  if (!kSanitized) CHECK(r.max_rss_kib <= kMaxRssKiB);
  CHECK_FALSE(contains(r.out, "nan"));
  CHECK_FALSE(contains(r.out, "inf"));
}

struct CorpusRow {
  std::string file, kind, pointer, format, base;
};

std::vector<CorpusRow> corpus_rows() {
  std::vector<CorpusRow> rows;
  hs3fit::json::Document doc = hs3fit::json::parse_file(kBad + "expected.json");
  for (const auto& row : doc.root().elements()) {
    CorpusRow r;
    r.file = row.at("file").as_string();
    r.kind = row.at("kind").as_string();
    r.pointer = row.at("pointer_substring").as_string();
    r.format = row.at("format").as_string();
    if (auto b = row.get("base")) r.base = b->as_string();
    rows.push_back(r);
  }
  return rows;
}

// The first patch name of a patchset file, if it has a readable one.
std::string first_patch_name(const std::string& path) {
  try {
    hs3fit::json::Document doc = hs3fit::json::parse_file(path);
    return doc.root().at("patches").elements().at(0).at("metadata").at("name").as_string();
  } catch (...) {
    return "";
  }
}

// The ways a harness may run one corpus case.
std::vector<std::vector<std::string>> corpus_commands(const CorpusRow& row, const std::string& command) {
  const std::string file = kBad + row.file;
  if (row.format != "pyhf-patchset") return {{command, file}};
  const std::string base = kBad + row.base;
  std::vector<std::vector<std::string>> cmds{{command, base, "--patchset", file}};
  const std::string name = first_patch_name(file);
  if (!name.empty()) {
    cmds.push_back({command, base, "--patchset", file, "--patch", name});
    cmds.push_back({command, base, "-p", file + ":" + name});
  }
  return cmds;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The shared corpus

TEST_CASE("every case of the bad-input corpus fails with exit 2 and one line naming the pointer", "[bad_inputs]") {
  const std::vector<CorpusRow> rows = corpus_rows();
  REQUIRE(rows.size() >= 61);
  for (const CorpusRow& row : rows) {
    if (row.kind != "error") continue;
    for (const auto& cmd : corpus_commands(row, "fit")) {
      SECTION(row.file + " / " + std::to_string(cmd.size())) {
        Run r = run_hs3fit(cmd);
        INFO(row.file << " (" << row.format << "), expected pointer '" << row.pointer << "'");
        // HS3 is read by a later issue: for now only exit 2, one line and no crash are required.
        const bool hs3 = row.format == "hs3";
        require_clean_failure(r, row.format == "pyhf-patchset" ? "" : row.file, hs3 ? "" : row.pointer);
        if (!hs3 && row.pointer.empty()) {
          // No pointer is expected: the message must still say where (a byte offset, "/"), or
          // that there is nothing in the file to point at (empty, only whitespace).
          INFO(r.err);
          CHECK((contains(r.err, "byte offset") || contains(r.err, ":/") || contains(r.err, "empty file: no JSON value") ||
                 contains(r.err, "the input is only whitespace")));
          CHECK(!contains(r.err, kBad + row.file + ":" + kBad));  // ... and names the file once (an absolute path)
        }
      }
    }
  }
}

TEST_CASE("validate lists the corpus problems with exit 2 and accepts the controls", "[bad_inputs]") {
  for (const CorpusRow& row : corpus_rows()) {
    if (row.format == "hs3") continue;  // pending: HS3 reading (issue 4)
    for (const auto& cmd : corpus_commands(row, "validate")) {
      SECTION(row.file + " / " + std::to_string(cmd.size())) {
        Run r = run_hs3fit(cmd);
        INFO(row.file << ": " << r.describe());
        CHECK(r.signal == 0);
        CHECK(r.seconds <= kMaxSeconds);
        if (row.kind == "ok") {
          CHECK(r.exit_code == 0);
          CHECK(contains(r.out, ": ok ("));
        } else {
          CHECK(r.exit_code == 2);
          CHECK(r.err_lines().size() >= 1);
          CHECK(contains(r.err, without_slash(row.pointer)));
        }
      }
    }
  }
}

TEST_CASE("the corpus's valid controls load and fit with exit 0", "[bad_inputs]") {
  for (const CorpusRow& row : corpus_rows()) {
    if (row.kind != "ok" || row.format == "hs3") continue;  // HS3 controls: pending (issue 4)
    SECTION(row.file) {
      require_clean_success(run_hs3fit({"fit", kBad + row.file}));
      require_clean_success(run_hs3fit({"fit", kBad + row.file, "--json"}));
    }
  }
}

TEST_CASE("HS3 cases of the corpus never crash (HS3 reading is pending)", "[bad_inputs]") {
  for (const CorpusRow& row : corpus_rows()) {
    if (row.format != "hs3") continue;
    SECTION(row.file) {
      Run r = run_hs3fit({"fit", kBad + row.file});
      INFO(r.describe());
      CHECK(r.signal == 0);
      CHECK_FALSE(r.timed_out);
      CHECK((r.exit_code == 0 || r.exit_code == 1 || r.exit_code == 2));
      if (r.exit_code == 2) CHECK(r.err_lines().size() == 1);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Systematic mutations of a valid workspace (the corpus's base): more cases than the folder holds.

namespace {

using hs3fit::json::Value;

Value base_tree() {
  hs3fit::json::Document doc = hs3fit::json::parse_file(kBad + "pyhf-patchset-base.json");
  return hs3fit::json::to_tree(doc.root());
}

// Every value of a tree with its JSON pointer.
void walk(Value& v, const std::string& pointer, const std::function<void(Value&, const std::string&)>& f) {
  f(v, pointer);
  for (size_t i = 0; i < v.array.size(); ++i) walk(v.array[i], pointer + "/" + std::to_string(i), f);
  for (auto& [k, child] : v.object) walk(child, pointer + "/" + k, f);
}

std::vector<std::string> pointers_where(const std::function<bool(const Value&)>& pred) {
  Value t = base_tree();
  std::vector<std::string> out;
  walk(t, "", [&](Value& v, const std::string& p) {
    if (pred(v)) out.push_back(p);
  });
  return out;
}

Value* at_pointer(Value& root, const std::string& pointer) {
  Value* found = nullptr;
  walk(root, "", [&](Value& v, const std::string& p) {
    if (p == pointer) found = &v;
  });
  return found;
}

Value object_value() {
  Value v;
  v.type = Value::Type::Object;
  Value one;
  one.type = Value::Type::Number;
  one.number = 1;
  v.object.emplace_back("x", one);
  return v;
}

Value number_value(double x) {
  Value v;
  v.type = Value::Type::Number;
  v.number = x;
  return v;
}

}  // namespace

TEST_CASE("every scalar of a workspace replaced by an object is reported at its pointer", "[bad_inputs]") {
  TempDir dir;
  const auto leaves = pointers_where([](const Value& v) { return v.type != Value::Type::Array && v.type != Value::Type::Object; });
  REQUIRE(leaves.size() > 30);
  for (const std::string& p : leaves) {
    Value t = base_tree();
    *at_pointer(t, p) = object_value();
    const std::string file = dir.write("leaf.json", hs3fit::json::serialize(t));
    INFO("replaced " << p);
    require_clean_failure(run_hs3fit({"fit", file}), file, p);
  }
}

TEST_CASE("every array of a workspace replaced by a string is reported at its pointer", "[bad_inputs]") {
  TempDir dir;
  const auto arrays = pointers_where([](const Value& v) { return v.type == Value::Type::Array; });
  REQUIRE(arrays.size() > 10);
  for (const std::string& p : arrays) {
    Value t = base_tree();
    Value s;
    s.type = Value::Type::String;
    s.string = "1";
    *at_pointer(t, p) = s;
    const std::string file = dir.write("array.json", hs3fit::json::serialize(t));
    INFO("replaced " << p);
    require_clean_failure(run_hs3fit({"fit", file}), file, p);
  }
}

TEST_CASE("every object of a workspace with an unknown key names the key", "[bad_inputs]") {
  TempDir dir;
  const auto objects = pointers_where([](const Value& v) { return v.type == Value::Type::Object; });
  REQUIRE(objects.size() > 10);
  for (const std::string& p : objects) {
    Value t = base_tree();
    at_pointer(t, p)->object.emplace_back("unexpected_key", number_value(1));
    const std::string file = dir.write("key.json", hs3fit::json::serialize(t));
    INFO("added a key to " << p);
    require_clean_failure(run_hs3fit({"fit", file}), file, p + "/unexpected_key");
  }
}

TEST_CASE("every required key removed from a workspace is named with its object", "[bad_inputs]") {
  TempDir dir;
  const auto objects = pointers_where([](const Value& v) { return v.type == Value::Type::Object; });
  for (const std::string& p : objects) {
    const size_t nkeys = at_pointer(*std::make_unique<Value>(base_tree()), p)->object.size();
    for (size_t k = 0; k < nkeys; ++k) {
      Value t = base_tree();
      Value* obj = at_pointer(t, p);
      const std::string key = obj->object[k].first;
      if (key == "version" || key == "parameters") continue;  // optional for hs3fit
      obj->object.erase(obj->object.begin() + static_cast<std::ptrdiff_t>(k));
      const std::string file = dir.write("missing.json", hs3fit::json::serialize(t));
      INFO("removed " << p << "/" << key);
      Run r = run_hs3fit({"fit", file});
      require_clean_failure(r, file, "");
      CHECK(contains(r.err, "'" + key + "'"));
      CHECK(contains(r.err, file + ":" + (p.empty() ? "/" : p)));
    }
  }
}

TEST_CASE("truncating a workspace anywhere gives a syntax error with a byte offset", "[bad_inputs]") {
  TempDir dir;
  const std::string text = read_file(kBad + "pyhf-patchset-base.json");
  for (size_t cut = 0; cut < text.size() - 2; cut += 23) {
    const std::string file = dir.write("cut.json", text.substr(0, cut));
    INFO("cut at " << cut);
    Run r = run_hs3fit({"fit", file});
    require_clean_failure(r, file, "");
    CHECK((contains(r.err, "byte offset") || contains(r.err, "0 bytes") || contains(r.err, "whitespace")));
  }
}

TEST_CASE("out-of-range numbers in a workspace are reported at their pointer", "[bad_inputs]") {
  TempDir dir;
  struct Mutation { std::string pointer; double value; };
  const std::vector<Mutation> cases = {
      {"/observations/0/data/1", -1.0},                                  // negative observed count
      {"/observations/1/data/0", -1e-300},
      {"/channels/0/samples/1/modifiers/1/data/0", -0.5},                // negative staterror
      {"/channels/0/samples/1/modifiers/0/data/hi", 0.0},                // normsys factor 0 (log)
      {"/channels/1/samples/0/modifiers/0/data/lo", -0.9},
  };
  for (const Mutation& m : cases) {
    Value t = base_tree();
    *at_pointer(t, m.pointer) = number_value(m.value);
    const std::string file = dir.write("range.json", hs3fit::json::serialize(t));
    INFO(m.pointer << " = " << m.value);
    require_clean_failure(run_hs3fit({"fit", file}), file, m.pointer);
  }
}

namespace {
// The base workspace with one measurement parameter configuration (JSON text).
std::string with_parameter_config(const std::string& config_json) {
  std::string text = read_file(kBad + "pyhf-patchset-base.json");
  const std::string anchor = "\"parameters\": []";
  const size_t at = text.find(anchor);
  REQUIRE(at != std::string::npos);
  return text.replace(at, anchor.size(), "\"parameters\": [" + config_json + "]");
}
}  // namespace

TEST_CASE("inconsistent measurement configurations are reported at their pointer", "[bad_inputs]") {
  TempDir dir;
  const std::string p = "/measurements/0/config/parameters/0";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"name": "mu", "inits": [11]})", p + "/inits/0"},                          // outside default [0, 10]
      {R"({"name": "mu", "bounds": [[2, 5]]})", p + "/bounds/0"},                    // excludes default init 1
      {R"({"name": "mu", "inits": [1, 2]})", p + "/inits"},                          // 2 values for a scalar
      {R"({"name": "staterror_SR", "inits": [1]})", p + "/inits"},                  // 1 value, 2 components
      {R"({"name": "staterror_SR", "sigmas": [0.1, 0]})", p + "/sigmas/1"},         // zero width
      {R"({"name": "mu", "sigmas": [1]})", p + "/sigmas"},                           // not for a normfactor
      {R"({"name": "mu", "auxdata": [1]})", p + "/auxdata"},                         // unconstrained
      {R"({"name": "bkg_norm", "factors": [1]})", p + "/factors"},                   // shapesys only
      {R"({"name": "mu", "bounds": [[0, 10, 20]]})", p + "/bounds/0"},
      {R"({"name": "mu", "bounds": [[10, 0]]})", p + "/bounds/0"},
      {R"({"name": "mu", "fixed": "yes"})", p + "/fixed"},
      {R"({"name": "mu", "fixd": true})", p + "/fixd"},                              // misspelt key
      {R"({"name": "", "inits": [1]})", p + "/name"},
      {R"({"name": "mu"}, {"name": "mu"})", "/measurements/0/config/parameters/1/name"},
  };
  for (const auto& [config, pointer] : cases) {
    const std::string file = dir.write("config.json", with_parameter_config(config));
    INFO(config);
    require_clean_failure(run_hs3fit({"fit", file}), file, pointer);
  }
}

TEST_CASE("duplicate keys are refused rather than read differently from pyhf", "[bad_inputs]") {
  TempDir dir;
  std::string text = read_file(kBad + "pyhf-patchset-base.json");
  // pyhf (Python's json) keeps the last of duplicate keys, simdjson the first.
  const std::string anchor = "\"name\": \"SR\",\n   \"data\": [";
  const size_t at = text.find(anchor);
  REQUIRE(at != std::string::npos);
  text.insert(at + anchor.size() - std::string("\"data\": [").size(), "\"data\": [1.0, 2.0],\n   ");
  const std::string file = dir.write("dupkey.json", text);
  Run r = run_hs3fit({"fit", file});
  require_clean_failure(r, file, "/observations/0/data");
  CHECK(contains(r.err, "duplicate key"));
}

TEST_CASE("names with newlines, terminal escapes or huge length give a safe one-line message", "[bad_inputs]") {
  TempDir dir;
  const std::vector<std::string> names = {"a\\nb", "\\u001b[31mred", "x\\u0000y", "\\u0085next", std::string(200000, 'n')};
  for (const std::string& name : names) {
    std::string text = read_file(kBad + "pyhf-duplicate-sample-name.json");
    // Both samples called NAME, so the message quotes it.
    for (size_t at; (at = text.find("\"background\"")) != std::string::npos;) text.replace(at, 12, "\"" + name + "\"");
    const std::string file = dir.write("name.json", text);
    INFO(name.substr(0, 40));
    require_clean_failure(run_hs3fit({"fit", file}), file, "/channels/0/samples/");
  }
}

TEST_CASE("syntax errors name the byte offset, line and column and the pointer being read", "[bad_inputs]") {
  TempDir dir;
  const std::string text = read_file(kBad + "pyhf-patchset-base.json");
  struct Case { std::string from, to, pointer; };
  const std::vector<Case> cases = {
      {"5.0,", "5.0,,", "/channels/0/samples/0/data"},        // empty element
      {"5.0,", "05.0,", "/channels/0/samples/0/data/0"},       // leading zero
      {"53.0", "Infinity", "/observations/0/data/0"},
      {"53.0", "-Infinity", "/observations/0/data/0"},
      {"53.0", "1e400", "/observations/0/data/0"},
      {"53.0", "123456789012345678901234567890", "/observations/0/data/0"},
      {"53.0", "+53", "/observations/0/data/0"},
      {"53.0", ".5", "/observations/0/data/0"},
      {"\"meas\"", "'meas'", "/measurements/0/name"},
      {"\"meas\"", "\"me\\qs\"", "/measurements/0/name"},
      {"\"meas\"", "\"me\\ud800s\"", "/measurements/0/name"},
      {"\"meas\"", "\"me\tas\"", "/measurements/0/name"},
      {"\"meas\"", "\"me\xff" "as\"", "/measurements/0/name"},
      {"\"meas\"", "\"me\xc0\xaf" "as\"", "/measurements/0/name"},  // overlong '/'
      {"\"meas\"", "\"me\xed\xa0\x80" "as\"", "/measurements/0/name"},  // encoded surrogate
      {"\"poi\": \"mu\",", "\"poi\": \"mu\"", "/measurements/0/config"},  // missing comma
      {"\"poi\": \"mu\",", "\"poi\" \"mu\",", "/measurements/0/config"},  // missing colon
      {"\"parameters\": []", "\"parameters\": [],", "/measurements/0/config"},  // trailing comma
      {"\"version\": \"1.0.0\"", "\"version\": \"1.0.0\" // comment", "/version"},
      {"\"version\": \"1.0.0\"", "\"version\": True", "/version"},
      {"\"version\": \"1.0.0\"", "\"version\": nul", "/version"},
  };
  for (const Case& c : cases) {
    std::string t = text;
    const size_t at = t.find(c.from);
    REQUIRE(at != std::string::npos);
    t.replace(at, c.from.size(), c.to);
    const std::string file = dir.write("syntax.json", t);
    INFO(c.to);
    Run r = run_hs3fit({"fit", file});
    require_clean_failure(r, file, c.pointer);
    CHECK(contains(r.err, "byte offset"));
    CHECK(contains(r.err, "line"));
  }
  // Data after the document, nothing but whitespace, a lone value.
  for (const std::string& t : {text + " x", std::string("  \n\t "), std::string("]"), std::string("\xef\xbb\xbf{}")}) {
    const std::string file = dir.write("syntax.json", t);
    require_clean_failure(run_hs3fit({"fit", file}), file, "");
  }
}

TEST_CASE("deep or wide nesting is refused quickly", "[bad_inputs]") {
  TempDir dir;
  const std::vector<std::string> texts = {
      std::string(100000, '['),                                                     // unterminated
      "{\"channels\": " + std::string(257, '[') + std::string(257, ']') + "}",       // just too deep
      std::string(300, '{'),
      "[" + std::string(200000, '{') ,
  };
  for (const std::string& t : texts) {
    const std::string file = dir.write("deep.json", t);
    require_clean_failure(run_hs3fit({"fit", file}), file, "");
  }
  // 256 levels is fine for the parser (then not a workspace).
  const std::string ok_depth = std::string(256, '[') + std::string(256, ']');
  const std::string file = dir.write("deep.json", ok_depth);
  Run r = run_hs3fit({"fit", file});
  require_clean_failure(r, file, "");
  CHECK(contains(r.err, "top level"));
}

// ---------------------------------------------------------------------------------------------
// Patches

TEST_CASE("hostile JSON patches fail with one line naming the op, not a crash or a blow-up", "[bad_inputs]") {
  TempDir dir;
  const std::string base = kBad + "pyhf-patchset-base.json";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"([{"op": "replace", "path": "/channels/99999999999999999999999/name", "value": "x"}])", "/0"},
      {R"([{"op": "replace", "path": "/channels/01/name", "value": "x"}])", "/0"},
      {R"([{"op": "replace", "path": "/channels/-/name", "value": "x"}])", "/0"},
      {R"([{"op": "add", "path": "channels", "value": 1}])", "/0/path"},
      {R"([{"op": "add", "path": "/channels/0/name~2", "value": 1}])", "/0/path"},
      {R"([{"op": "move", "from": "/channels", "path": "/channels/0"}])", "/0"},
      {R"([{"op": "remove", "path": ""}])", "/0"},
      {R"([{"op": "test", "path": "/version", "value": "2.0.0"}])", "/0"},
      {R"([{"op": "frobnicate", "path": "/version"}])", "/0/op"},
      {R"([{"op": "add", "path": "/version"}])", "/0"},
      {R"([{"op": "copy", "path": "/x"}])", "/0"},
      {R"([{"path": "/version", "value": 1}])", "/0"},
      {R"([1])", "/0"},
      {R"({"op": "add"})", "/"},
      {R"([{"op": "remove", "path": "/channels/0/name/x"}])", "/0"},
  };
  for (const auto& [patch, pointer] : cases) {
    const std::string file = dir.write("patch.json", patch);
    INFO(patch);
    require_clean_failure(run_hs3fit({"fit", base, "-p", file}), file, "patch.json:" + pointer);
  }
}

TEST_CASE("a patch that copies a document into itself cannot blow up memory", "[bad_inputs]") {
  TempDir dir;
  std::string ops = "[";
  for (int i = 0; i < 60; ++i) ops += std::string(i ? "," : "") + R"({"op": "copy", "from": "/channels", "path": "/channels/0/x"})";
  ops += "]";
  const std::string file = dir.write("bomb.json", ops);
  // Each copy nests one level deeper and grows the document linearly; what is left is a
  // channel with an unknown key 'x' (reported in the patched workspace).
  require_clean_failure(run_hs3fit({"fit", kBad + "pyhf-patchset-base.json", "-p", file}), "", "/channels/0/x");
  std::string widen = "[";
  for (int i = 0; i < 40; ++i) widen += std::string(i ? "," : "") + R"({"op": "copy", "from": "", "path": "/c)" + std::to_string(i) + "\"}";
  widen += "]";
  const std::string file2 = dir.write("widen.json", widen);
  require_clean_failure(run_hs3fit({"fit", kBad + "pyhf-patchset-base.json", "-p", file2}), file2, "");
}

TEST_CASE("a valid patch applies and the patched workspace fits", "[bad_inputs]") {
  TempDir dir;
  const std::string file = dir.write("ok.json", R"([{"op": "replace", "path": "/channels/0/samples/0/data", "value": [6.0, 9.0]},
    {"op": "test", "path": "/channels/0/samples/0/data/1", "value": 9},
    {"op": "copy", "from": "/channels/0/samples/0/data", "path": "/channels/0/samples/0/data_copy"},
    {"op": "move", "from": "/channels/0/samples/0/data_copy", "path": "/x"}, {"op": "remove", "path": "/x"}])");
  require_clean_success(run_hs3fit({"fit", kBad + "pyhf-patchset-base.json", "-p", file}));
}

// ---------------------------------------------------------------------------------------------
// Files and options

TEST_CASE("unreadable inputs fail with one line naming the file", "[bad_inputs]") {
  TempDir dir;
  require_clean_failure(run_hs3fit({"fit", dir.path() + "/does-not-exist.json"}), "does-not-exist.json", "");
  require_clean_failure(run_hs3fit({"fit", dir.path()}), dir.path(), "directory");
  require_clean_failure(run_hs3fit({"fit", "/dev/null"}), "/dev/null", "");
  require_clean_failure(run_hs3fit({"fit", "-"}), "<stdin>", "");  // empty stdin
  require_clean_failure(run_hs3fit({"fit", "-"}, kBad + "pyhf-nan-literal.json"), "<stdin>", "/channels/0/samples/0/data/0");
  const std::string ws = kBad + "pyhf-patchset-base.json";
  require_clean_failure(run_hs3fit({"fit", ws, "-p", dir.path() + "/nope.json"}), "nope.json", "");
  require_clean_failure(run_hs3fit({"eval", ws, "--point", ws}), "", "");  // not a parameter point
}

TEST_CASE("bad options fail with one line naming the option", "[bad_inputs]") {
  const std::string ws = kBad + "pyhf-patchset-base.json";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--set", "nope=1"}, "nope"},
      {{"--set", "mu=nan"}, "--set"},
      {{"--set", "mu=1e999"}, "--set"},
      {{"--set", "mu"}, "--set"},
      {{"--set", "mu=20"}, "mu"},            // outside the bounds
      {{"--fix", "nope"}, "nope"},
      {{"--bounds", "mu=5:1"}, "--bounds"},
      {{"--bounds", "mu=0"}, "--bounds"},
      {{"--float", "nope"}, "nope"},
      {{"--measurement", "nope"}, "nope"},
      {{"--poi", "nope"}, "nope"},
      {{"--poi", "staterror_SR"}, "staterror_SR"},
      {{"--normsys-interp", "code9"}, "code9"},
      {{"--patchset", kBad + "pyhf-fixture-patchset_bad_wrong_values_multiplicity.json", "--patch", "nope"}, "patches/1/metadata/values"},
  };
  for (const auto& [opts, expect] : cases) {
    std::vector<std::string> args{"fit", ws};
    args.insert(args.end(), opts.begin(), opts.end());
    INFO(opts.front() << " " << (opts.size() > 1 ? opts[1] : ""));
    require_clean_failure(run_hs3fit(args), "", expect);
  }
}

// CLI11's own parse errors add a second line ("Run with --help for more information."); the
// fix is a one-line failure_message in app/main.cpp (requested). Remove [!mayfail] with it.
TEST_CASE("command-line syntax errors are one line too", "[bad_inputs][!mayfail]") {
  const std::string ws = kBad + "pyhf-patchset-base.json";
  require_clean_failure(run_hs3fit({"fit", ws, "--no-such-option"}), "", "no-such-option");
  require_clean_failure(run_hs3fit({"fit", ws, "--tolerance", "-1"}), "", "tolerance");
  require_clean_failure(run_hs3fit({"fit"}), "", "workspace");
  require_clean_failure(run_hs3fit({"no-such-command"}), "", "no-such-command");
}

TEST_CASE("validate lists every independent problem, fit reports the first", "[bad_inputs]") {
  TempDir dir;
  std::string text = read_file(kBad + "pyhf-patchset-base.json");
  auto replace = [&](const std::string& from, const std::string& to) {
    const size_t at = text.find(from);
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), to);
  };
  replace("\"type\": \"normfactor\"", "\"type\": \"normfactr\"");  // /channels/0/samples/0/modifiers/0/type
  replace("3.0,", "-3.0,");                                         // staterror .../modifiers/1/data/0
  replace("100.0", "\"100\"");                                      // /channels/1/samples/0/data/0
  replace("53.0", "-53.0");                                         // /observations/0/data/0
  replace("\"poi\": \"mu\"", "\"poi\": 1");                         // /measurements/0/config/poi
  const std::string file = dir.write("many.json", text);
  const std::vector<std::string> pointers = {"/channels/0/samples/0/modifiers/0/type", "/channels/0/samples/1/modifiers/1/data/0",
                                             "/channels/1/samples/0/data/0", "/observations/0/data/0", "/measurements/0/config/poi"};
  Run v = run_hs3fit({"validate", file});
  INFO(v.describe());
  CHECK(v.exit_code == 2);
  CHECK(v.err_lines().size() == pointers.size());
  for (const std::string& p : pointers) CHECK(contains(v.err, file + ":" + p + ":"));
  CHECK(contains(v.out, "5 problems"));
  Run j = run_hs3fit({"validate", file, "--json"});
  CHECK(j.exit_code == 2);
  hs3fit::json::Document doc = hs3fit::json::parse(j.out, "validate --json");
  CHECK_FALSE(doc.root().at("ok").as_bool());
  CHECK(doc.root().at("problems").size() == pointers.size());
  require_clean_failure(run_hs3fit({"fit", file}), file, pointers.front());
  Run ok = run_hs3fit({"validate", kBad + "pyhf-patchset-base.json", "--json"});
  CHECK(ok.exit_code == 0);
  hs3fit::json::Document okdoc = hs3fit::json::parse(ok.out, "validate --json");
  CHECK(okdoc.root().at("ok").as_bool());
  CHECK(okdoc.root().at("bins").as_number() == 3);
  CHECK(okdoc.root().at("parameters").as_number() == 4);  // mu, bkg_norm, staterror_SR[0..1]
}

TEST_CASE("validate accepts every published pyhf workspace in shared/", "[bad_inputs][slow]") {
  const std::string dir = std::string(HS3FIT_SHARED_DIR) + "/workspaces/";
  std::vector<std::vector<std::string>> cmds;
  for (const char* ws : {"pyhf-validation/1bin_lumi.json", "pyhf-validation/1bin_shapesys.json", "pyhf-validation/2bin_2channel_coupledshapefactor.json",
                         "pyhf-validation/2bin_2channel_coupledhistosys.json", "pyhf/histfactory-example/workspace.json",
                         "pyhf/atlas-SUSY-2018-05-ewk/workspace.json", "pyhf/cms-ttgamma-2l/workspace.json",
                         "pyhf/bayes-GammaGamma-toy/workspace.json", "pyhf/combo-atlas-7ana/workspace.json"})
    cmds.push_back({"validate", dir + ws});
  cmds.push_back({"validate", dir + "pyhf/histfactory-example/BkgOnly.json", "-p",
                  dir + "pyhf/histfactory-example/patchset.json:" + first_patch_name(dir + "pyhf/histfactory-example/patchset.json")});
  cmds.push_back({"validate", dir + "pyhf/atlas-mbj-Gtt-0L-B/BkgOnly.json", "-p", dir + "pyhf/atlas-mbj-Gtt-0L-B/signal_patch.json"});
  for (const auto& cmd : cmds) {
    Run r = run_hs3fit(cmd);
    INFO(cmd[1] << "\n" << r.describe());
    CHECK(r.exit_code == 0);
    CHECK(contains(r.out, ": ok ("));
  }
}

// ---------------------------------------------------------------------------------------------
// Inputs found by the fuzzer (fuzz/README.md), minimised; each was a contract violation.

TEST_CASE("inputs found by the fuzzer fail cleanly", "[bad_inputs][fuzz]") {
  TempDir dir;
  const std::string base = kBad + "pyhf-patchset-base.json";
  struct Found { std::string what, bytes; bool as_patch; std::string pointer; };
  const std::vector<Found> found = {
      // fuzz_workspace: "\<0x01>" in a name: the message echoed the raw control byte.
      {"escape of a control byte", std::string("{\"channels\": [{\"name\": \"SR_\\u00e9t\\\x01\x00\x00u00e9\"}]}", 48), false,
       "/channels/0/name"},
      // fuzz_patch: the same in a patchset's metadata key.
      {"escape of a control byte in a key", "{\"metadata\": {\"d\\\x02\x02\x02scription\": \"x\"}}", true, "/metadata"},
      // A name with a control character reached the builder's messages raw (POI not found).
      {"control character in the POI", std::string(read_file(base)).replace(read_file(base).find("\"poi\": \"mu\""), 11, "\"poi\": \"m\\u001bu\""),
       false, "/measurements/0/config/poi"},
  };
  for (const Found& f : found) {
    INFO(f.what);
    const std::string file = dir.write("found.json", f.bytes);
    Run r = f.as_patch ? run_hs3fit({"fit", base, "-p", file}) : run_hs3fit({"fit", file});
    require_clean_failure(r, file, f.pointer);
  }
}
