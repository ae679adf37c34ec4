// Helpers for the inference tests: the pyhf 0.7.6 reference results of
// shared/reference/pyhf/*.json (hypotest, upper_limit, profile_scan), loading their models
// with the same options, and running the hs3fit executable.
#pragma once
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "json/json_reader.h"
#include "workspace.h"

namespace infertest {

inline std::string shared(const std::string& rel) { return std::string(HS3FIT_SHARED_DIR) + "/" + rel; }

struct PyhfReference {
  std::string id, workspace, measurement, poi;
  std::optional<std::pair<double, double>> poi_bounds;  // poi_bounds_override "to"
  double bestfit_twice_nll = 0;
  double cls_obs = 0;
  std::array<double, 5> cls_exp{};
  double limit_obs = 0;
  std::array<double, 5> limit_exp{};
  std::vector<double> scan_grid, scan_twice_nll, scan_delta_twice_nll;

  hs3fit::LoadOptions load_options() const {
    hs3fit::LoadOptions o;
    o.build.measurement = measurement;
    o.build.poi = poi;
    if (poi_bounds) o.overrides.bounds.push_back({poi, poi_bounds->first, poi_bounds->second});
    return o;
  }
  std::string cli_options() const {
    std::ostringstream s;
    s.precision(17);
    s << "'" << workspace << "' -m '" << measurement << "' --poi '" << poi << "'";
    if (poi_bounds) s << " --bounds '" << poi << "=" << poi_bounds->first << ":" << poi_bounds->second << "'";
    return s.str();
  }
};

inline std::array<double, 5> five(const hs3fit::json::Node& n) {
  std::vector<double> v = n.as_numbers();
  REQUIRE(v.size() == 5);
  return {v[0], v[1], v[2], v[3], v[4]};
}

inline PyhfReference read_pyhf_reference(const std::string& path) {
  hs3fit::json::Document doc = hs3fit::json::parse_file(path);
  hs3fit::json::Node root = doc.root();
  PyhfReference r;
  r.id = std::filesystem::path(path).stem().string();
  hs3fit::json::Node ws = root.at("workspace");
  r.workspace = shared(ws.at("path").as_string());
  r.measurement = ws.at("measurement").as_string();
  r.poi = ws.at("poi").as_string();
  if (auto o = ws.get("poi_bounds_override"); o && o->is_object()) {
    std::vector<double> to = o->at("to").elements().at(0).as_numbers();
    r.poi_bounds = std::make_pair(to.at(0), to.at(1));
  }
  r.bestfit_twice_nll = root.at("bestfit").at("twice_nll").as_number();
  hs3fit::json::Node h = root.at("hypotest");
  REQUIRE(h.at("poi_test").as_number() == 1.0);
  REQUIRE(h.at("test_stat").as_string() == "qtilde");
  r.cls_obs = h.at("cls_obs").as_number();
  r.cls_exp = five(h.at("cls_exp"));
  hs3fit::json::Node ul = root.at("upper_limit");
  REQUIRE(ul.at("cl").as_number() == 0.95);
  r.limit_obs = ul.at("obs").as_number();
  r.limit_exp = five(ul.at("exp"));
  hs3fit::json::Node scan = root.at("profile_scan");
  r.scan_grid = scan.at("grid").as_numbers();
  r.scan_twice_nll = scan.at("twice_nll").as_numbers();
  r.scan_delta_twice_nll = scan.at("delta_twice_nll").as_numbers();
  return r;
}

inline std::vector<PyhfReference> pyhf_references() {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(shared("reference/pyhf")))
    if (e.path().extension() == ".json") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  std::vector<PyhfReference> refs;
  for (const auto& f : files) refs.push_back(read_pyhf_reference(f));
  REQUIRE(!refs.empty());
  return refs;
}

// A temporary file removed at scope exit (mkstemps: parallel tests never collide).
class ScratchFile {
 public:
  explicit ScratchFile(const std::string& suffix, const std::string& content = "") {
    const char* dir = std::getenv("TMPDIR");
    std::string pattern = std::string(dir && *dir ? dir : "/tmp") + "/hs3fit-infer-XXXXXX" + suffix;
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    const int fd = mkstemps(buf.data(), static_cast<int>(suffix.size()));
    REQUIRE(fd >= 0);
    close(fd);
    path_ = buf.data();
    std::ofstream(path_, std::ios::binary) << content;
  }
  ~ScratchFile() { std::remove(path_.c_str()); }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;
  const std::string& path() const { return path_; }
  std::string read() const {
    std::ifstream in(path_, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  std::string path_;
};

struct Run {
  int exit_code = -1;
  std::string out, err;
};

// Run the hs3fit executable with `args` (a shell fragment).
inline Run run_cli(const std::string& args) {
  ScratchFile out(".out"), err(".err");
  const std::string cmd = std::string("'") + HS3FIT_BINARY + "' " + args + " >'" + out.path() + "' 2>'" + err.path() + "' </dev/null";
  const int status = std::system(cmd.c_str());
  Run r;
  r.exit_code = (status != -1 && WIFEXITED(status)) ? WEXITSTATUS(status) : -1;
  r.out = out.read();
  r.err = err.read();
  return r;
}

}  // namespace infertest
