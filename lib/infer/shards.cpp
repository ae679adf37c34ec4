#include "infer/shards.h"

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "json/json_tree.h"

namespace hs3fit::shards {

std::string Shard::name() const { return fmt::format("{}/{}", index, count); }

Shard parse_shard(const std::string& text, const std::string& option) {
  const size_t slash = text.find('/');
  auto integer = [&](const std::string& s, long long& out) {
    if (s.empty() || s.size() > 9 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
    out = std::stoll(s);
    return true;
  };
  long long i = 0, n = 0;
  if (slash == std::string::npos || !integer(text.substr(0, slash), i) || !integer(text.substr(slash + 1), n))
    throw Error(ErrorKind::Usage, option, "expected I/N (shard I of N, 1 <= I <= N), found '" + text + "'");
  if (n < 1 || n > 1000000) throw Error(ErrorKind::Usage, option, "the number of shards N must be between 1 and 1000000 in '" + text + "'");
  if (i < 1 || i > n)
    throw Error(ErrorKind::Usage, option,
                fmt::format("shard numbers run from 1 to N (like Slurm array task ids): '{}' is outside 1..{}{}", text, n,
                            i == 0 ? " (for 0-based ids such as HTCondor's $(Process), pass the id + 1)" : ""));
  return {static_cast<int>(i), static_cast<int>(n)};
}

std::vector<size_t> items_of(const Shard& shard, size_t total) {
  std::vector<size_t> out;
  for (size_t k = static_cast<size_t>(shard.index - 1); k < total; k += static_cast<size_t>(shard.count)) out.push_back(k);
  return out;
}

namespace {
std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}
std::string errno_text() { return std::strerror(errno); }
}  // namespace

std::string manifest_path(const std::string& dir) { return join_path(dir, "manifest.json"); }
std::string shard_path(const std::string& dir, const Shard& s) { return join_path(dir, fmt::format("shard-{}-of-{}.json", s.index, s.count)); }
std::string checkpoint_path(const std::string& dir, const Shard& s) {
  return join_path(dir, fmt::format("shard-{}-of-{}.partial.jsonl", s.index, s.count));
}

uint64_t fnv1a64(std::string_view bytes, uint64_t h) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string hex64(uint64_t h) { return fmt::format("{:016x}", h); }

std::string hash_files(const std::vector<std::string>& paths) {
  uint64_t h = kFnvOffset;
  for (const std::string& p : paths) {
    if (p == "-") throw Error(ErrorKind::Usage, "--shard", "sharded runs read the workspace from a file, not standard input");
    const std::string bytes = json::read_text(p);
    h = fnv1a64(std::to_string(bytes.size()) + ":", h);
    h = fnv1a64(bytes, h);
  }
  return hex64(h);
}

void make_directory(const std::string& dir) {
  if (dir.empty()) throw Error(ErrorKind::Usage, "-o", "empty output directory");
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    partial = dir.substr(0, pos);
    if (partial.empty()) continue;
    if (::mkdir(partial.c_str(), 0777) != 0 && errno != EEXIST) throw Error(ErrorKind::Io, partial, "cannot create directory: " + errno_text());
  }
  struct stat st{};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) throw Error(ErrorKind::Io, dir, "not a directory");
}

bool file_exists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0;
}

bool shard_complete(const std::string& path, const std::string& manifest_hash) {
  if (!file_exists(path)) return false;
  const json::Document d = json::parse_file(path);
  const std::string h = d.root().at("manifest_hash").as_string();
  if (h != manifest_hash)
    throw Error(ErrorKind::Usage, path, "this shard file belongs to another run (manifest hash " + h + ", expected " + manifest_hash + ")");
  return true;
}

namespace {
void write_all(int fd, const std::string& text, const std::string& path) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(ErrorKind::Io, path, "cannot write file: " + errno_text());
    }
    done += static_cast<size_t>(n);
  }
}

std::string parent_directory(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

void fsync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  ::fsync(fd);  // best effort: some file systems refuse fsync on directories
  ::close(fd);
}

std::string host_name() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "host";
  std::string s(buf);
  for (char& c : s)
    if (c == '/') c = '_';
  return s;
}
}  // namespace

void write_file_atomic(const std::string& path, const std::string& text) {
  const size_t slash = path.rfind('/');
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  const std::string tmp = (slash == std::string::npos ? std::string() : path.substr(0, slash + 1)) + "." + base + ".tmp." + host_name() + "." +
                          std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) throw Error(ErrorKind::Io, path, "cannot write file: " + errno_text());
  try {
    write_all(fd, text, path);
    if (::fsync(fd) != 0) throw Error(ErrorKind::Io, path, "cannot write file (fsync): " + errno_text());
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlink(tmp.c_str());
    throw Error(ErrorKind::Io, path, "cannot write file (rename): " + why);
  }
  fsync_directory(parent_directory(path));
}

std::vector<std::string> list_directory(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) throw Error(ErrorKind::Io, dir, "cannot read directory: " + errno_text());
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(name);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::string number_json(double v) {
  if (std::isfinite(v)) return json::format_number(v);
  if (std::isnan(v)) return "\"nan\"";
  return v > 0 ? "\"inf\"" : "\"-inf\"";
}

void write_number(json::Writer& w, double v) {
  if (std::isfinite(v)) w.value(v);
  else w.value(std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
}

double read_number(const json::Node& node) {
  if (node.is_string()) {
    const std::string s = node.as_string();
    if (s == "nan") return std::nan("");
    if (s == "inf") return HUGE_VAL;
    if (s == "-inf") return -HUGE_VAL;
    node.fail("expected a number or \"nan\", \"inf\", \"-inf\", found " + json::safe_quote(s));
  }
  return node.as_number();
}

// ------------------------------------------------------------------------------ manifest

Manifest::Manifest(std::string command) {
  set("format", "hs3fit-shards-1");
  set("command", command);
}

Manifest& Manifest::set_raw(const std::string& key, std::string json_text) {
  for (auto& f : fields_)
    if (f.first == key) {
      f.second = std::move(json_text);
      return *this;
    }
  fields_.emplace_back(key, std::move(json_text));
  return *this;
}

Manifest& Manifest::set(const std::string& key, const std::string& value) { return set_raw(key, json::quote(value)); }
Manifest& Manifest::set(const std::string& key, double value) { return set_raw(key, number_json(value)); }
Manifest& Manifest::set(const std::string& key, long long value) { return set_raw(key, std::to_string(value)); }
Manifest& Manifest::set(const std::string& key, bool value) { return set_raw(key, value ? "true" : "false"); }
Manifest& Manifest::set(const std::string& key, const std::vector<std::string>& values) {
  std::string s = "[";
  for (size_t i = 0; i < values.size(); ++i) s += (i ? ", " : "") + json::quote(values[i]);
  return set_raw(key, s + "]");
}
Manifest& Manifest::set(const std::string& key, const std::vector<double>& values) {
  std::string s = "[";
  for (size_t i = 0; i < values.size(); ++i) s += (i ? ", " : "") + number_json(values[i]);
  return set_raw(key, s + "]");
}

std::string Manifest::text() const {
  std::string s = "{\n";
  for (size_t i = 0; i < fields_.size(); ++i) s += "  " + json::quote(fields_[i].first) + ": " + fields_[i].second + (i + 1 < fields_.size() ? ",\n" : "\n");
  return s + "}\n";
}

std::string Manifest::hash() const { return manifest_hash(text()); }

std::string read_manifest(const std::string& dir) {
  const std::string path = manifest_path(dir);
  if (!file_exists(path)) throw Error(ErrorKind::Io, path, "no manifest: not an output directory of a sharded hs3fit run (or no shard has started)");
  return json::read_text(path);
}

void Manifest::write_or_check(const std::string& dir) const {
  make_directory(dir);
  const std::string path = manifest_path(dir);
  const std::string mine = text();
  if (!file_exists(path)) {
    write_file_atomic(path, mine);
    return;
  }
  const std::string theirs = json::read_text(path);
  if (theirs == mine) return;
  // Name the keys that differ (compared as parsed JSON, independent of formatting).
  const json::Document a = json::parse(mine, "this command");
  const json::Document b = json::parse(theirs, path);
  const json::Value ta = json::to_tree(a.root()), tb = json::to_tree(b.root());
  if (tb.type != json::Value::Type::Object) throw Error(ErrorKind::Input, path, "the manifest is not a JSON object");
  std::vector<std::string> diffs;
  auto shorten = [](const std::string& s) { return s.size() > 60 ? s.substr(0, 57) + "..." : s; };
  for (const auto& [key, value] : ta.object) {
    const json::Value* other = tb.find(key);
    if (!other) diffs.push_back(key + " (missing there)");
    else if (json::serialize(value) != json::serialize(*other))
      diffs.push_back(fmt::format("{} (here {}, there {})", key, shorten(json::serialize(value)), shorten(json::serialize(*other))));
  }
  for (const auto& [key, value] : tb.object)
    if (!ta.find(key)) diffs.push_back(key + " (only there)");
  if (diffs.empty()) return;  // same content, other formatting
  std::string list;
  for (size_t i = 0; i < diffs.size(); ++i) list += (i ? "; " : "") + diffs[i];
  throw Error(ErrorKind::Usage, path,
              "this directory holds a different run: " + list + ". Use another output directory, or the same command and inputs to resume");
}

// ------------------------------------------------------------------------------ checkpoint

Checkpoint::Checkpoint(std::string path, const std::string& header, std::chrono::milliseconds sync_interval)
    : path_(std::move(path)), sync_interval_(sync_interval), last_sync_(std::chrono::steady_clock::now()) {
  std::string good = header + "\n";
  if (file_exists(path_)) {
    const std::string text = json::read_text(path_);
    size_t pos = 0;
    bool first = true;
    bool dropped = false;
    while (pos < text.size()) {
      const size_t nl = text.find('\n', pos);
      if (nl == std::string::npos) {  // torn last line
        dropped = true;
        break;
      }
      const std::string line = text.substr(pos, nl - pos);
      pos = nl + 1;
      if (line.empty()) continue;
      bool valid = true;
      try {
        (void)json::parse(line, path_);
      } catch (const Error&) {
        valid = false;
      }
      if (!valid) {
        dropped = true;
        break;
      }
      if (first) {
        if (line != header)
          throw Error(ErrorKind::Usage, path_,
                      "this checkpoint belongs to another run (header " + json::safe_quote(line) + ", expected " + json::safe_quote(header) +
                          "): delete it or use another output directory");
        first = false;
        continue;
      }
      records_.push_back(line);
      good += line + "\n";
    }
    if (dropped || first) write_file_atomic(path_, good);
  } else {
    write_file_atomic(path_, good);
  }
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd_ < 0) throw Error(ErrorKind::Io, path_, "cannot open checkpoint: " + errno_text());
}

Checkpoint::~Checkpoint() {
  if (fd_ >= 0) {
    ::fsync(fd_);
    ::close(fd_);
  }
}

void Checkpoint::append(const std::string& record) {
  if (fd_ < 0) throw Error(ErrorKind::Internal, path_, "checkpoint is closed");
  if (record.empty() || record.find('\n') != std::string::npos) throw Error(ErrorKind::Internal, path_, "a checkpoint record is one non-empty line");
  write_all(fd_, record + "\n", path_);  // in the kernel once write() returns: survives a killed task
  const auto now = std::chrono::steady_clock::now();
  if (now - last_sync_ >= sync_interval_) {  // survives a crashed node
    if (::fsync(fd_) != 0) throw Error(ErrorKind::Io, path_, "cannot write checkpoint (fsync): " + errno_text());
    last_sync_ = now;
  }
  records_.push_back(record);
}

void Checkpoint::remove() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  ::unlink(path_.c_str());
}

std::string format_ranges(const std::vector<size_t>& v) {
  std::string out;
  for (size_t i = 0; i < v.size();) {
    size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
    if (!out.empty()) out += ", ";
    out += j == i ? std::to_string(v[i]) : j == i + 1 ? fmt::format("{}, {}", v[i], v[j]) : fmt::format("{}-{}", v[i], v[j]);
    i = j + 1;
  }
  return out;
}

}  // namespace hs3fit::shards
