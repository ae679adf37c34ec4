// Upper limits for every patch of a pyhf patchset (`hs3fit limit ws.json --patchset ps.json`,
// the pyhf use case of hundreds of signal points), in one process or in shards
// (`--shard I/N -o DIR`: patch k, 0-based in patchset order, belongs to shard (k mod N) + 1;
// `hs3fit merge DIR` prints the same table/JSON). Files: see shards.h.
#pragma once
#include <array>
#include <string>
#include <vector>

#include "infer/shards.h"

namespace hs3fit::infer {

struct PatchLimit {
  size_t index = 0;                 // in the patchset
  std::string patch;                // metadata.name
  std::string values;               // metadata.values as JSON text
  double obs = 0;
  std::array<double, 5> exp{};      // −2σ … +2σ
  bool converged = false;
  long long fits = 0;
  std::string measurement, poi;
};

struct PatchsetInfo {
  std::string workspace, patchset;
  std::vector<std::string> labels;  // patchset metadata.labels
  std::vector<std::string> names;   // patch names in order
  std::vector<std::string> values;  // patch metadata.values (JSON text) in order
};
PatchsetInfo read_patchset_info(const std::string& workspace, const std::string& patchset_path);

// One JSON line (checkpoints, shard files) and back.
std::string patch_limit_record(const PatchLimit& r);
PatchLimit read_patch_limit(const json::Node& node);

struct PatchLimitsDoc {
  PatchsetInfo info;
  std::vector<PatchLimit> limits;  // in patchset order
  double cl = 0.95, rtol = 1e-5;
  std::string test_stat = "qtilde";
  double total_s = 0;
};
std::string patch_limits_table(const PatchLimitsDoc& d);
std::string patch_limits_json(const PatchLimitsDoc& d);

// Write the final shard file (records in index order) — the checkpoint is removed by the caller.
void write_patch_shard(const std::string& path, const std::string& manifest_hash, const shards::Shard& shard,
                       const std::vector<std::string>& records);

struct MergedPatchLimits {
  PatchLimitsDoc doc;
  std::vector<std::string> problems;
};
MergedPatchLimits merge_patch_limits(const std::string& dir);

// Shared by the merges: the shard files of DIR with their problems (missing, other manifest,
// other layout, unfinished), and the items of each present shard's file under `items_key`.
struct ShardFiles {
  int count = 0;
  std::string manifest;  // text
  std::vector<std::pair<int, std::string>> files;  // (shard index, path) of present, matching shards
  std::vector<std::string> problems;
  std::vector<size_t> missing;  // shard indices
};
ShardFiles find_shard_files(const std::string& dir, size_t total_items, const char* item_word);

}  // namespace hs3fit::infer
