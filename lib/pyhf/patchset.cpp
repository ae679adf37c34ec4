#include "pyhf/patchset.h"

#include <map>
#include <set>
#include <sys/stat.h>

#include "core/error.h"
#include "json/diagnostics.h"
#include "json/json_tree.h"

namespace hs3fit::pyhf {

namespace {

using json::ErrorCollector;
using json::Node;
using json::safe_quote;

bool file_exists(const std::string& path) {
  struct stat st {};
  return path == "-" || ::stat(path.c_str(), &st) == 0;
}

bool matches_identifier(const std::string& s) {  // ^[a-zA-Z0-9_]+$
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!(std::isalnum(c) || c == '_')) return false;
  return true;
}

bool matches_hex(const std::string& s, size_t len) {
  if (s.size() != len) return false;
  for (unsigned char c : s)
    if (!std::isxdigit(c)) return false;
  return true;
}

// A problem inside a file: where = "FILE:/pointer".
Error in_file(const Error& e, const std::string& file) {
  if (e.kind() != ErrorKind::Input || e.where().empty() || e.where()[0] != '/') return e;
  return Error(e.kind(), file + ":" + e.where(), e.message());
}

// Forwards problems to another collector, naming the file.
template <class Step>
bool check_in_file(ErrorCollector& problems, const std::string& file, Step&& step) {
  ErrorCollector local(problems.collecting() ? ErrorCollector::Mode::CollectAll : ErrorCollector::Mode::FailFast);
  try {
    step(local);
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::Internal) throw;
    problems.add(in_file(e, file));
    return false;
  }
  for (const Error& e : local.problems()) problems.add(in_file(e, file));
  return local.empty();
}

void check_metadata(const Node& metadata, ErrorCollector& problems) {
  if (!metadata.is_object()) metadata.fail("expected the patchset metadata object, found " + metadata.type_name());
  problems.check([&] {
    Node digests = metadata.at("digests");
    if (!digests.is_object() || digests.size() == 0) digests.fail("expected an object of digests, e.g. {\"sha256\": \"...\"}");
    digests.check_keys({"md5", "sha256"}, "patchset digests", problems);
    if (auto md5 = digests.get("md5"))
      problems.check([&] { if (!matches_hex(md5->as_string(), 32)) md5->fail("expected an md5 digest (32 hexadecimal digits)"); });
    if (auto sha = digests.get("sha256"))
      problems.check([&] { if (!matches_hex(sha->as_string(), 64)) sha->fail("expected a sha256 digest (64 hexadecimal digits)"); });
  });
  problems.check([&] {
    Node labels = metadata.at("labels");
    std::vector<Node> items = labels.elements();
    if (items.empty()) labels.fail("at least 1 label expected, found an empty array");
    for (const Node& l : items)
      problems.check([&] {
        if (!matches_identifier(l.as_string())) l.fail("label " + safe_quote(l.as_string()) + " must match ^[a-zA-Z0-9_]+$");
      });
  });
  problems.check([&] { metadata.at("description").as_string(); });
  problems.check([&] {
    Node refs = metadata.at("references");
    if (!refs.is_object() || refs.size() == 0) refs.fail("expected an object of references, e.g. {\"hepdata\": \"ins1234567\"}");
    refs.check_keys({"hepdata"}, "patchset references", problems);
    if (auto h = refs.get("hepdata"))
      problems.check([&] {
        const std::string s = h->as_string();
        if (s.size() != 10 || s.compare(0, 3, "ins") != 0 || s.find_first_not_of("0123456789", 3) != std::string::npos)
          h->fail("expected a HEPData reference 'ins' + 7 digits, found " + safe_quote(s));
      });
  });
}

// Serialised patch values, to compare them between patches.
std::string values_key(const Node& values) { return json::serialize(json::to_tree(values)); }

}  // namespace

PatchRequest parse_patch_argument(const std::string& arg) {
  if (file_exists(arg)) return {arg, ""};
  size_t colon = arg.rfind(':');
  if (colon != std::string::npos && colon > 0 && file_exists(arg.substr(0, colon)))
    return {arg.substr(0, colon), arg.substr(colon + 1)};
  throw Error(ErrorKind::Io, "--patch", "cannot open patch file " + safe_quote(arg, 200));
}

std::vector<std::string> patch_names(const json::Node& patchset) {
  std::vector<std::string> names;
  for (const json::Node& p : patchset.at("patches").elements()) names.push_back(p.at("metadata").at("name").as_string());
  return names;
}

void check_patchset(const json::Node& root, json::ErrorCollector& problems) {
  if (!root.is_object()) root.fail("expected a pyhf patchset object, found " + root.type_name());
  root.check_keys({"metadata", "patches", "version"}, "a pyhf patchset", problems);
  problems.check([&] {
    Node version = root.at("version");
    if (version.as_string() != "1.0.0") version.fail("unsupported patchset version " + safe_quote(version.as_string()) + " (expected \"1.0.0\")");
  });
  std::optional<size_t> nlabels;
  problems.check([&] {
    Node metadata = root.at("metadata");
    check_metadata(metadata, problems);
    if (auto labels = metadata.get("labels"); labels && labels->is_array()) nlabels = labels->size();
  });
  problems.check([&] {
    Node patches = root.at("patches");
    std::vector<Node> entries = patches.elements();
    if (entries.empty()) patches.fail("at least 1 patch expected, found an empty array");
    std::map<std::string, std::string> names;   // name -> pointer of its first patch
    std::map<std::string, std::string> values;  // serialised values -> name
    for (const Node& entry : entries) {
      problems.check([&] {
        if (!entry.is_object()) entry.fail("expected a patch object {\"metadata\": ..., \"patch\": [...]}, found " + entry.type_name());
        entry.check_keys({"metadata", "patch"}, "a patch", problems);
        problems.check([&] {
          Node meta = entry.at("metadata");
          if (!meta.is_object()) meta.fail("expected the patch metadata object, found " + meta.type_name());
          std::string name;
          problems.check([&] {
            Node n = meta.at("name");
            name = n.as_string();
            if (!matches_identifier(name)) n.fail("patch name " + safe_quote(name) + " must match ^[a-zA-Z0-9_]+$");
            auto [it, fresh] = names.emplace(name, entry.pointer());
            if (!fresh) n.fail("duplicate patch name " + safe_quote(name) + " (first at " + it->second + ")");
          });
          problems.check([&] {
            Node v = meta.at("values");
            std::vector<Node> items = v.elements();
            for (const Node& item : items)
              if (!item.is_number() && !item.is_string()) item.fail("expected a number or a string, found " + item.type_name());
            if (nlabels && items.size() != *nlabels)
              v.fail(std::to_string(items.size()) + (items.size() == 1 ? " value" : " values") + " for " + std::to_string(*nlabels) +
                     (*nlabels == 1 ? " label" : " labels") + " (metadata/labels)");
            auto [it, fresh] = values.emplace(values_key(v), name);
            if (!fresh) v.fail("the same values as patch " + safe_quote(it->second) + " (pyhf looks patches up by their values)");
          });
        });
        problems.check([&] { json::check_json_patch(entry.at("patch"), problems); });
      });
    }
  });
}

std::optional<json::Document> apply_patches(const json::Document& workspace, const std::vector<PatchRequest>& patches,
                                            json::ErrorCollector& problems) {
  json::Value tree = json::to_tree(workspace.root());
  std::string source = workspace.source();
  for (const PatchRequest& req : patches) {
    const std::string file = req.file == "-" ? "<stdin>" : req.file;
    std::optional<json::Document> pdoc;
    if (!problems.check([&] { pdoc = json::parse_file(req.file); })) return std::nullopt;
    const Node root = pdoc->root();
    std::optional<Node> ops;  // the JSON Patch to apply
    std::string label = file;
    if (root.is_array()) {
      if (!req.name.empty()) {
        problems.add(Error(ErrorKind::Usage, "--patch", safe_quote(file) + " is a plain JSON Patch, not a patchset: it has no patch named " + safe_quote(req.name)));
        return std::nullopt;
      }
      if (!check_in_file(problems, file, [&](ErrorCollector& local) { json::check_json_patch(root, local); })) return std::nullopt;
      ops = root;
    } else {
      if (!root.is_object() || !root.get("patches")) {
        problems.add(Error(ErrorKind::Input, file + ":/",
                           "expected a JSON Patch (an array of operations) or a pyhf patchset (an object with 'patches'), found " +
                               (root.is_object() ? std::string("an object without 'patches'") : root.type_name())));
        return std::nullopt;
      }
      if (!check_in_file(problems, file, [&](ErrorCollector& local) { check_patchset(root, local); })) return std::nullopt;
      std::vector<Node> entries = root.at("patches").elements();
      std::vector<std::string> names = patch_names(root);
      std::string list;
      for (size_t i = 0; i < names.size() && i < 20; ++i) list += (list.empty() ? "" : ", ") + names[i];
      if (names.size() > 20) list += ", ... (" + std::to_string(names.size()) + " in all)";
      size_t chosen = entries.size();
      if (req.name.empty()) {
        if (entries.size() != 1) {
          problems.add(Error(ErrorKind::Usage, "--patch",
                             "patchset " + safe_quote(file) + " has " + std::to_string(entries.size()) +
                                 " patches; choose one with FILE:NAME or --patchset FILE --patch NAME (available: " + list + ")"));
          return std::nullopt;
        }
        chosen = 0;
      } else {
        for (size_t i = 0; i < names.size(); ++i)
          if (names[i] == req.name) chosen = i;
        if (chosen == entries.size()) {
          problems.add(Error(ErrorKind::Usage, "--patch",
                             "patchset " + safe_quote(file) + " has no patch named " + safe_quote(req.name) + " (available: " + list + ")"));
          return std::nullopt;
        }
      }
      label = file + ":" + names[chosen];
      ops = entries[chosen].at("patch");
    }
    try {
      json::apply_json_patch(tree, *ops);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::Input) throw;
      const std::string patch = label == file ? "" : "patch " + safe_quote(label.substr(file.size() + 1)) + ": ";
      problems.add(Error(ErrorKind::Input, file + ":" + e.where(), patch + e.message() + " (in workspace " + workspace.source() + ")"));
      return std::nullopt;
    }
    source += " + " + label;
  }
  std::optional<json::Document> out;
  if (!problems.check([&] { out = json::parse(json::serialize(tree), source); })) return std::nullopt;
  return out;
}

json::Document apply_patches(const json::Document& workspace, const std::vector<PatchRequest>& patches) {
  json::ErrorCollector fail_fast;
  return *apply_patches(workspace, patches, fail_fast);
}

}  // namespace hs3fit::pyhf
