// Batch work split into shards (job-array tasks), with results that survive killed tasks:
//
//   * Assignment: item k (0-based: scan point in output order, toy index, patch index) belongs to
//     shard (k mod N) + 1 of N. Shards are numbered 1..N like Slurm array task ids
//     (`--shard $SLURM_ARRAY_TASK_ID/N`); HTCondor's 0-based $(Process) is passed as $(Process)+1.
//     Round-robin keeps shards equally expensive when cost varies smoothly along a scan.
//   * Files in the output directory DIR:
//       manifest.json                 what defines the result (command, options, workspace hash,
//                                     grid, shard count); identical from every shard, so shards
//                                     writing it concurrently is harmless
//       shard-<i>-of-<N>.json         a finished shard, written atomically (temp file + rename)
//       shard-<i>-of-<N>.partial.jsonl  the checkpoint of a running shard: a header line, then one
//                                     JSON line per finished item, written as soon as it is done
//                                     (a killed task loses at most the item in flight) and
//                                     fsync'd at least once a second (a crashed node loses at
//                                     most the last second; fsync per item costs ~4 ms)
//   * Resume: rerunning the same command reads the checkpoint, skips finished items, and turns
//     it into the final file at the end. A manifest that differs (other workspace bytes or
//     options) is refused with an Error(Usage) naming the differing keys (exit code 2).
//
// Reused by every sharded command (scan, limit --toys, limit --patchset, impacts).
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "json/json_reader.h"
#include "json/json_writer.h"

namespace hs3fit::shards {

struct Shard {
  int index = 1;  // 1-based
  int count = 1;
  bool owns(size_t item) const { return static_cast<int>(item % static_cast<size_t>(count)) == index - 1; }
  std::string name() const;  // "3/50"
};

// "i/N" with 1 <= i <= N <= 1000000; Error(Usage) at `option` otherwise.
Shard parse_shard(const std::string& text, const std::string& option = "--shard");
// The shard (1-based) that owns item k.
inline int shard_of(size_t item, int count) { return static_cast<int>(item % static_cast<size_t>(count)) + 1; }
// The items of `shard` among 0..total-1, ascending.
std::vector<size_t> items_of(const Shard& shard, size_t total);

std::string manifest_path(const std::string& dir);                     // DIR/manifest.json
std::string shard_path(const std::string& dir, const Shard& shard);      // DIR/shard-i-of-N.json
std::string checkpoint_path(const std::string& dir, const Shard& shard); // DIR/shard-i-of-N.partial.jsonl

// 64-bit FNV-1a; chain calls by passing the previous hash as `h`.
inline constexpr uint64_t kFnvOffset = 14695981039346656037ull;
uint64_t fnv1a64(std::string_view bytes, uint64_t h = kFnvOffset);
std::string hex64(uint64_t h);  // 16 lowercase hex digits

// Hash of the bytes of the files (workspace, patch files, ...), each preceded by its size so
// that moving bytes from one file to the next changes the hash. "-" (stdin) is refused.
std::string hash_files(const std::vector<std::string>& paths);

// mkdir -p; Error(Io) naming the directory when it cannot be made.
void make_directory(const std::string& dir);
bool file_exists(const std::string& path);
// True when the finished shard file `path` exists and was written for `manifest_hash` (nothing
// left to do); false when it does not exist; Error(Usage) when it belongs to another run.
bool shard_complete(const std::string& path, const std::string& manifest_hash);
// Write `text` to `path` atomically: a temp file in the same directory (named after host and
// pid, so concurrent writers never share one), fsync, rename over `path`, fsync the directory.
void write_file_atomic(const std::string& path, const std::string& text);
// Names of the entries of a directory (not . and ..), sorted.
std::vector<std::string> list_directory(const std::string& dir);

// Numbers in checkpoints and shard files: shortest round-trip text for finite values (exact
// when read back), the strings "nan", "inf", "-inf" otherwise.
std::string number_json(double v);
void write_number(json::Writer& w, double v);
double read_number(const json::Node& node);  // Error(Input) at the node otherwise

// What defines a sharded result. Keys in insertion order; values are JSON texts.
class Manifest {
 public:
  explicit Manifest(std::string command);
  Manifest& set_raw(const std::string& key, std::string json_text);
  Manifest& set(const std::string& key, const std::string& value);
  Manifest& set(const std::string& key, const char* value) { return set(key, std::string(value)); }
  Manifest& set(const std::string& key, double value);
  Manifest& set(const std::string& key, long long value);
  Manifest& set(const std::string& key, int value) { return set(key, static_cast<long long>(value)); }
  Manifest& set(const std::string& key, bool value);
  Manifest& set(const std::string& key, const std::vector<std::string>& values);
  Manifest& set(const std::string& key, const std::vector<double>& values);

  std::string text() const;  // the JSON document (deterministic)
  std::string hash() const;  // hex64(fnv1a64(text()))

  // Write DIR/manifest.json (creating DIR) if it is not there; if it is, check that it is the
  // same, else Error(Usage, "DIR/manifest.json", "... differs from this command: KEY (here X,
  // there Y), ...").
  void write_or_check(const std::string& dir) const;

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

// The manifest in DIR as text (Error(Io) if missing) and its hash.
std::string read_manifest(const std::string& dir);
inline std::string manifest_hash(const std::string& manifest_text) { return hex64(fnv1a64(manifest_text)); }

// An append-only file of JSON lines. The first line is a header (the manifest hash and the
// shard); every further line is one finished item.
class Checkpoint {
 public:
  // Opens `path` for appending. Lines already there are read back: a torn last line (a task
  // killed while writing) is dropped and the file rewritten without it. A file whose header is
  // not `header` (another manifest or shard) is an Error(Usage).
  Checkpoint(std::string path, const std::string& header, std::chrono::milliseconds sync_interval = std::chrono::milliseconds(1000));
  ~Checkpoint();
  Checkpoint(const Checkpoint&) = delete;
  Checkpoint& operator=(const Checkpoint&) = delete;

  const std::vector<std::string>& records() const { return records_; }  // without the header
  // Append one record (a JSON text without newlines): write() at once, fsync when the last
  // fsync is older than the sync interval (0: after every record).
  void append(const std::string& record);
  // Close and delete the file (after the final shard file has been written).
  void remove();

 private:
  std::string path_;
  int fd_ = -1;
  std::chrono::milliseconds sync_interval_;
  std::chrono::steady_clock::time_point last_sync_;
  std::vector<std::string> records_;
};

// Compact list of integers: "1-3, 7, 9-12".
std::string format_ranges(const std::vector<size_t>& sorted_values);

}  // namespace hs3fit::shards
