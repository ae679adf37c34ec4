#include "pyhf/patchset.h"

#include <sys/stat.h>

#include "core/error.h"
#include "json/json_tree.h"

namespace hs3fit::pyhf {

namespace {
bool file_exists(const std::string& path) {
  struct stat st {};
  return path == "-" || ::stat(path.c_str(), &st) == 0;
}
}  // namespace

PatchRequest parse_patch_argument(const std::string& arg) {
  if (file_exists(arg)) return {arg, ""};
  size_t colon = arg.rfind(':');
  if (colon != std::string::npos && colon > 0 && file_exists(arg.substr(0, colon)))
    return {arg.substr(0, colon), arg.substr(colon + 1)};
  throw Error(ErrorKind::Io, "--patch", "cannot open patch file '" + arg + "'");
}

std::vector<std::string> patch_names(const json::Node& patchset) {
  std::vector<std::string> names;
  for (const json::Node& p : patchset.at("patches").elements()) names.push_back(p.at("metadata").at("name").as_string());
  return names;
}

json::Document apply_patches(const json::Document& workspace, const std::vector<PatchRequest>& patches) {
  json::Value tree = json::to_tree(workspace.root());
  std::string source = workspace.source();
  for (const PatchRequest& req : patches) {
    json::Document pdoc = json::parse_file(req.file);
    json::Node root = pdoc.root();
    std::string label = req.file;
    if (root.is_array()) {
      if (!req.name.empty())
        throw Error(ErrorKind::Usage, "--patch", "'" + req.file + "' is a plain JSON Patch, not a patchset: it has no patch named '" + req.name + "'");
      try {
        json::apply_json_patch(tree, root);
      } catch (const Error& e) {
        throw Error(e.kind(), req.file + ":" + e.where(), e.message());
      }
    } else {
      if (!root.is_object() || !root.get("patches")) root.fail("expected a JSON Patch (array of ops) or a pyhf patchset (object with 'patches')");
      std::vector<json::Node> entries = root.at("patches").elements();
      std::vector<std::string> names = patch_names(root);
      size_t chosen = entries.size();
      if (req.name.empty()) {
        if (entries.size() != 1) {
          std::string list;
          for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
          throw Error(ErrorKind::Usage, "--patch",
                      "patchset '" + req.file + "' has " + std::to_string(entries.size()) +
                          " patches; choose one with FILE:NAME (available: " + list + ")");
        }
        chosen = 0;
      } else {
        for (size_t i = 0; i < names.size(); ++i)
          if (names[i] == req.name) chosen = i;
        if (chosen == entries.size()) {
          std::string list;
          for (size_t i = 0; i < names.size() && i < 20; ++i) list += (list.empty() ? "" : ", ") + names[i];
          if (names.size() > 20) list += ", ...";
          throw Error(ErrorKind::Usage, "--patch", "patchset '" + req.file + "' has no patch named '" + req.name + "' (available: " + list + ")");
        }
      }
      label = req.file + ":" + names[chosen];
      try {
        json::apply_json_patch(tree, entries[chosen].at("patch"));
      } catch (const Error& e) {
        throw Error(e.kind(), req.file + ":" + e.where(), e.message());
      }
    }
    source += " + " + label;
  }
  return json::parse(json::serialize(tree), source);
}

}  // namespace hs3fit::pyhf
