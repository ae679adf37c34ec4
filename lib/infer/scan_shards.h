// Profile scans split into shards (`hs3fit scan --shard i/N -o DIR`) and merged
// (`hs3fit merge DIR`). The items are the scan's chains (profile_scan.h: blocks of
// chain_length points along the last axis, numbered in output order): chain c belongs to shard
// (c mod N) + 1 and is fitted exactly as profile_scan fits it (first point from the free fit,
// then warm starts along the chain), so the merged scan equals the single-process scan bit for
// bit. Checkpoint records carry every parameter's value at the point (the next point's start),
// so a resumed chain continues bit-identically. Files: see shards.h.
#pragma once
#include <string>
#include <vector>

#include "infer/profile_scan.h"
#include "infer/shards.h"

namespace hs3fit::infer {

// A scan shard's run: `best` is the free fit, `names` the names of every model parameter.
struct ScanShardRun {
  std::string dir;
  shards::Shard shard;
  std::string manifest_hash;
  int computed = 0, resumed = 0;  // points fitted now / read back from the checkpoint
  bool already_complete = false;  // the shard file existed: nothing was done
  std::string path;               // the shard file
};

// Run (or resume) one shard. The manifest must already be written or checked.
ScanShardRun run_scan_shard(Likelihood& likelihood, const std::vector<uint32_t>& params, const std::vector<std::vector<double>>& axes,
                            int chain_length, const fit::FitResult& best, const std::string& dir, const shards::Shard& shard,
                            const std::string& manifest_hash);

// The merged scan of DIR, or the list of problems (missing or duplicated shards and points,
// shards of another manifest or layout, unfinished shards).
struct MergedScan {
  std::string manifest;              // manifest.json text
  std::string workspace, measurement, poi;
  std::vector<std::string> names;    // scanned parameters
  ScanResult scan;                   // params are 0..names.size()-1 (indices into `names`)
  bool best_usable = false;          // the free fit is usable (infer::usable)
  std::vector<std::string> problems; // empty: complete and consistent
  int shards = 0;
};
MergedScan merge_scan(const std::string& dir);

}  // namespace hs3fit::infer
