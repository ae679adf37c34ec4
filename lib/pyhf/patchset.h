// pyhf patches: a plain JSON Patch (list of RFC 6902 ops) or one patch of a pyhf patchset
// (`{"metadata": ..., "patches": [{"metadata": {"name": ...}, "patch": [ops]}], "version"}`).
#pragma once
#include <string>
#include <vector>

#include "json/json_reader.h"

namespace hs3fit::pyhf {

struct PatchRequest {
  std::string file;  // JSON Patch file or patchset file ("-" = stdin)
  std::string name;  // patch name inside a patchset; empty = plain patch or the only patch
};

// Parse "file.json" or "file.json:patch_name" (the name is split at the last ':' only when
// the part before it names an existing file, so that paths containing ':' still work).
PatchRequest parse_patch_argument(const std::string& arg);

// Names of the patches in a patchset document, in order.
std::vector<std::string> patch_names(const json::Node& patchset);

// Apply the requested patches in order to a workspace and return the patched document.
// The sha256 digest recorded in a patchset's metadata is not verified (pyhf hashes its own
// canonical serialisation); a patch whose paths do not exist in the workspace is an error.
json::Document apply_patches(const json::Document& workspace, const std::vector<PatchRequest>& patches);

}  // namespace hs3fit::pyhf
