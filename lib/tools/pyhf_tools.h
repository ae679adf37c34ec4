// Workspace operations on pyhf JSON with pyhf's semantics (pyhf.Workspace.combine / prune /
// rename), on the mutable JSON tree (json/json_tree.h). The results are validated by reading
// them back through the normal loader before they are written.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "json/json_tree.h"

namespace hs3fit::tools {

enum class Join { None, Outer, LeftOuter, RightOuter };
Join parse_join(const std::string& text);  // "none", "outer", "left outer" / "left", "right outer" / "right"

// pyhf Workspace.combine(left, right, join, merge_channels).
json::Value combine(const json::Value& left, const json::Value& right, Join join, bool merge_channels);

struct PruneSpec {
  std::vector<std::string> modifiers, modifier_types, samples, channels, measurements;
};
// pyhf Workspace.prune: remove modifiers (by name or type), samples, channels (with their
// observations) and measurements; measurement parameter configs of removed modifiers go too.
json::Value prune(const json::Value& ws, const PruneSpec& spec);

struct RenameSpec {
  std::map<std::string, std::string> modifiers, samples, channels, measurements;
};
// pyhf Workspace.rename: new names everywhere they are referenced (POIs and parameter configs too).
json::Value rename(const json::Value& ws, const RenameSpec& spec);

}  // namespace hs3fit::tools
