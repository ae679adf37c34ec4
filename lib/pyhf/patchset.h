// pyhf patches: a plain JSON Patch (list of RFC 6902 ops) or one patch of a pyhf patchset
// (`{"metadata": ..., "patches": [{"metadata": {"name": ...}, "patch": [ops]}], "version"}`).
#pragma once
#include <optional>
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

// Check a patchset against pyhf's schema (patchset.json 1.0.0) and pyhf.PatchSet's rules:
// version "1.0.0"; metadata with digests, labels, description and references; at least one
// patch; patch names matching ^[a-zA-Z0-9_]+$ and unique; as many values as labels, and no two
// patches with the same values; every patch a well-formed JSON Patch. Problems are reported at
// their JSON pointer inside the patchset (without a file name).
void check_patchset(const json::Node& patchset, json::ErrorCollector& problems);

// Apply the requested patches in order to a workspace and return the patched document.
// Each patch file is checked in full before anything is applied. Errors name the patch file
// and the pointer inside it ("patchset.json:/patches/0/patch/2: ..."), or --patch for a
// request that cannot be met (unknown patch name). The sha256 digest recorded in a patchset's
// metadata is not verified (pyhf hashes its own canonical serialisation).
json::Document apply_patches(const json::Document& workspace, const std::vector<PatchRequest>& patches);

// The same, reporting problems to `problems`; returns nothing when a problem stopped it (the
// remaining problems of that patch file are still reported).
std::optional<json::Document> apply_patches(const json::Document& workspace, const std::vector<PatchRequest>& patches,
                                            json::ErrorCollector& problems);

}  // namespace hs3fit::pyhf
