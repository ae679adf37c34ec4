// A small mutable JSON tree. simdjson is read-only, so the rare operations that rewrite a
// document (JSON Patch from a pyhf patchset, combining workspaces) convert to this tree,
// edit it, and serialise it back to text for the normal (fast, validated) reading path.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "json/json_reader.h"

namespace hs3fit::json {

struct Value {
  enum class Type { Null, Bool, Number, String, Array, Object };
  Type type = Type::Null;
  bool boolean = false;
  double number = 0.0;
  bool integer = false;  // number had no fraction/exponent (kept when re-serialising)
  std::string string;
  std::vector<Value> array;
  std::vector<std::pair<std::string, Value>> object;  // insertion order preserved

  Value* find(const std::string& key);
  const Value* find(const std::string& key) const;
};

Value to_tree(const Node& node);
std::string serialize(const Value& value);

// RFC 6902 JSON Patch: ops add, remove, replace, move, copy, test.
//
// check_json_patch reports every malformed op (not an object, unknown op, missing or non-string
// path/from, missing value, path not a JSON pointer) at the op's JSON pointer.
// apply_json_patch checks the ops, then applies them in order; a failing op throws an
// Error(Input) at its pointer (e.g. /patches/0/patch/3) that names the op, its path and the part
// of the path that does not exist. The patched document may not grow beyond twice the size of
// the inputs plus 1 MiB (copy ops cannot blow it up) nor nest deeper than kMaxDepth.
void check_json_patch(const Node& patch_ops, ErrorCollector& problems);
void apply_json_patch(Value& document, const Node& patch_ops);

}  // namespace hs3fit::json
