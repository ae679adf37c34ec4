#include "json/json_tree.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <fmt/format.h>

#include "core/error.h"
#include "json/json_writer.h"

namespace hs3fit::json {

Value* Value::find(const std::string& key) {
  for (auto& [k, v] : object)
    if (k == key) return &v;
  return nullptr;
}
const Value* Value::find(const std::string& key) const {
  for (const auto& [k, v] : object)
    if (k == key) return &v;
  return nullptr;
}

Value to_tree(const Node& node) {
  Value v;
  auto el = node.raw();
  switch (el.type()) {
    case simdjson::dom::element_type::NULL_VALUE: v.type = Value::Type::Null; break;
    case simdjson::dom::element_type::BOOL: v.type = Value::Type::Bool; v.boolean = node.as_bool(); break;
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
      v.type = Value::Type::Number; v.integer = true; v.number = el.get_double().value_unsafe(); break;
    case simdjson::dom::element_type::DOUBLE:
      v.type = Value::Type::Number; v.number = el.get_double().value_unsafe(); break;
    case simdjson::dom::element_type::STRING: v.type = Value::Type::String; v.string = node.as_string(); break;
    case simdjson::dom::element_type::ARRAY:
      v.type = Value::Type::Array;
      for (const Node& child : node.elements()) v.array.push_back(to_tree(child));
      break;
    case simdjson::dom::element_type::OBJECT:
      v.type = Value::Type::Object;
      for (const auto& [key, child] : node.members()) v.object.emplace_back(key, to_tree(child));
      break;
  }
  return v;
}

namespace {

void write_string(std::string& out, const std::string& s) { out += quote(s); }

void write_value(std::string& out, const Value& v) {
  switch (v.type) {
    case Value::Type::Null: out += "null"; break;
    case Value::Type::Bool: out += v.boolean ? "true" : "false"; break;
    case Value::Type::Number:
      if (v.integer && std::fabs(v.number) < 9.007199254740992e15) out += fmt::format("{}", static_cast<long long>(v.number));
      else out += format_number(v.number);  // shortest round-trip representation
      break;
    case Value::Type::String: write_string(out, v.string); break;
    case Value::Type::Array: {
      out += '[';
      for (size_t i = 0; i < v.array.size(); ++i) {
        if (i) out += ',';
        write_value(out, v.array[i]);
      }
      out += ']';
      break;
    }
    case Value::Type::Object: {
      out += '{';
      for (size_t i = 0; i < v.object.size(); ++i) {
        if (i) out += ',';
        write_string(out, v.object[i].first);
        out += ':';
        write_value(out, v.object[i].second);
      }
      out += '}';
      break;
    }
  }
}

// Errors while applying one op: thrown with an empty location and re-thrown by
// apply_json_patch at the op's pointer.
[[noreturn]] void op_error(const std::string& what) { throw Error(ErrorKind::Input, "", what); }

// Split an RFC 6901 pointer into unescaped reference tokens.
std::vector<std::string> split_pointer(const std::string& pointer) {
  std::vector<std::string> tokens;
  if (pointer.empty()) return tokens;
  if (pointer[0] != '/') op_error("path " + safe_quote(pointer) + " is not a JSON pointer (it must be empty or start with '/')");
  size_t pos = 1;
  while (true) {
    size_t next = pointer.find('/', pos);
    std::string raw = pointer.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    std::string tok;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '~') {
        if (i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
          tok += raw[i + 1] == '0' ? '~' : '/';
          ++i;
        } else {
          op_error("path " + safe_quote(pointer) + ": '~' must be followed by 0 or 1 in a JSON pointer");
        }
      } else {
        tok += raw[i];
      }
    }
    tokens.push_back(tok);
    if (next == std::string::npos) break;
    pos = next + 1;
  }
  return tokens;
}

std::string prefix_pointer(const std::vector<std::string>& tokens, size_t n) {
  std::string p;
  for (size_t i = 0; i < n && i < tokens.size(); ++i) p += "/" + json_pointer_escape(tokens[i]);
  return p.empty() ? "the document root" : safe_quote(p);
}

size_t array_index(const std::vector<std::string>& tokens, size_t t, size_t size, bool allow_end) {
  const std::string& tok = tokens[t];
  if (allow_end && tok == "-") return size;
  if (tok.empty() || tok.find_first_not_of("0123456789") != std::string::npos || (tok.size() > 1 && tok[0] == '0'))
    op_error(safe_quote(tok) + " is not an array index (" + prefix_pointer(tokens, t) + " is an array)");
  const size_t idx = tok.size() > 18 ? std::numeric_limits<size_t>::max() : std::stoull(tok);
  if (idx > size || (!allow_end && idx == size))
    op_error("index " + safe_quote(tok) + " is out of range: " + prefix_pointer(tokens, t) + " has " + std::to_string(size) +
             (size == 1 ? " element" : " elements"));
  return idx;
}

// Resolve all but the last token; returns the parent container.
Value& resolve_parent(Value& doc, const std::vector<std::string>& tokens) {
  Value* cur = &doc;
  for (size_t t = 0; t + 1 < tokens.size(); ++t) {
    const std::string& tok = tokens[t];
    if (cur->type == Value::Type::Object) {
      Value* next = cur->find(tok);
      if (!next) op_error(prefix_pointer(tokens, t + 1) + " does not exist (" + prefix_pointer(tokens, t) + " has no member " + safe_quote(tok) + ")");
      cur = next;
    } else if (cur->type == Value::Type::Array) {
      cur = &cur->array[array_index(tokens, t, cur->array.size(), false)];
    } else {
      op_error(prefix_pointer(tokens, t + 1) + " does not exist (" + prefix_pointer(tokens, t) + " is not an object or array)");
    }
  }
  return *cur;
}

Value& get_at(Value& doc, const std::vector<std::string>& tokens) {
  if (tokens.empty()) return doc;
  Value& parent = resolve_parent(doc, tokens);
  const size_t last = tokens.size() - 1;
  if (parent.type == Value::Type::Object) {
    Value* v = parent.find(tokens[last]);
    if (!v) op_error(prefix_pointer(tokens, tokens.size()) + " does not exist (" + prefix_pointer(tokens, last) + " has no member " + safe_quote(tokens[last]) + ")");
    return *v;
  }
  if (parent.type == Value::Type::Array) return parent.array[array_index(tokens, last, parent.array.size(), false)];
  op_error(prefix_pointer(tokens, tokens.size()) + " does not exist (" + prefix_pointer(tokens, last) + " is not an object or array)");
}

void add_at(Value& doc, const std::vector<std::string>& tokens, Value value) {
  if (tokens.empty()) { doc = std::move(value); return; }
  Value& parent = resolve_parent(doc, tokens);
  const size_t last = tokens.size() - 1;
  if (parent.type == Value::Type::Object) {
    if (Value* existing = parent.find(tokens[last])) *existing = std::move(value);
    else parent.object.emplace_back(tokens[last], std::move(value));
  } else if (parent.type == Value::Type::Array) {
    const size_t idx = array_index(tokens, last, parent.array.size(), true);
    parent.array.insert(parent.array.begin() + static_cast<std::ptrdiff_t>(idx), std::move(value));
  } else {
    op_error("cannot add " + prefix_pointer(tokens, tokens.size()) + ": " + prefix_pointer(tokens, last) + " is not an object or array");
  }
}

Value remove_at(Value& doc, const std::vector<std::string>& tokens) {
  if (tokens.empty()) op_error("cannot remove the whole document");
  Value& parent = resolve_parent(doc, tokens);
  const size_t last = tokens.size() - 1;
  if (parent.type == Value::Type::Object) {
    for (auto it = parent.object.begin(); it != parent.object.end(); ++it)
      if (it->first == tokens[last]) {
        Value v = std::move(it->second);
        parent.object.erase(it);
        return v;
      }
    op_error(prefix_pointer(tokens, tokens.size()) + " does not exist (" + prefix_pointer(tokens, last) + " has no member " + safe_quote(tokens[last]) + ")");
  }
  if (parent.type == Value::Type::Array) {
    const size_t idx = array_index(tokens, last, parent.array.size(), false);
    Value v = std::move(parent.array[idx]);
    parent.array.erase(parent.array.begin() + static_cast<std::ptrdiff_t>(idx));
    return v;
  }
  op_error(prefix_pointer(tokens, tokens.size()) + " does not exist (" + prefix_pointer(tokens, last) + " is not an object or array)");
}

bool equal(const Value& a, const Value& b) {
  if (a.type != b.type) return false;
  switch (a.type) {
    case Value::Type::Null: return true;
    case Value::Type::Bool: return a.boolean == b.boolean;
    case Value::Type::Number: return a.number == b.number;
    case Value::Type::String: return a.string == b.string;
    case Value::Type::Array:
      if (a.array.size() != b.array.size()) return false;
      for (size_t i = 0; i < a.array.size(); ++i)
        if (!equal(a.array[i], b.array[i])) return false;
      return true;
    case Value::Type::Object:
      if (a.object.size() != b.object.size()) return false;
      for (const auto& [k, v] : a.object) {
        const Value* other = b.find(k);
        if (!other || !equal(v, *other)) return false;
      }
      return true;
  }
  return false;
}

// Size of a tree in bytes, roughly (what it costs in memory), and its nesting depth.
struct TreeSize {
  size_t bytes = 0;
  size_t depth = 0;
};
TreeSize tree_size(const Value& v) {
  TreeSize out{sizeof(Value) + v.string.size(), 0};
  for (const Value& child : v.array) {
    TreeSize c = tree_size(child);
    out.bytes += c.bytes;
    out.depth = std::max(out.depth, c.depth + 1);
  }
  for (const auto& [key, child] : v.object) {
    TreeSize c = tree_size(child);
    out.bytes += c.bytes + key.size();
    out.depth = std::max(out.depth, c.depth + 1);
  }
  return out;
}

const char* const kOps[] = {"add", "remove", "replace", "move", "copy", "test"};

}  // namespace

std::string serialize(const Value& value) {
  std::string out;
  write_value(out, value);
  return out;
}

void check_json_patch(const Node& patch_ops, ErrorCollector& problems) {
  if (!patch_ops.is_array()) {
    problems.add(patch_ops.pointer(), "expected a JSON Patch (an array of operations), found " + patch_ops.type_name());
    return;
  }
  for (const Node& op_node : patch_ops.elements()) {
    problems.check([&] {
      if (!op_node.is_object()) op_node.fail("expected a JSON Patch operation object, found " + op_node.type_name());
      const Node op_field = op_node.at("op");
      const std::string op = op_field.as_string();
      if (std::find(std::begin(kOps), std::end(kOps), op) == std::end(kOps))
        op_field.fail("unknown JSON Patch op " + safe_quote(op) + " (expected add, remove, replace, move, copy or test)");
      const Node path = op_node.at("path");
      try {
        split_pointer(path.as_string());
      } catch (const Error& e) {
        if (!e.where().empty()) throw;
        path.fail(e.message());
      }
      if (op == "add" || op == "replace" || op == "test") op_node.at("value");
      if (op == "move" || op == "copy") {
        const Node from = op_node.at("from");
        try {
          split_pointer(from.as_string());
        } catch (const Error& e) {
          if (!e.where().empty()) throw;
          from.fail(e.message());
        }
      }
    });
  }
}

void apply_json_patch(Value& document, const Node& patch_ops) {
  ErrorCollector fail_fast;
  check_json_patch(patch_ops, fail_fast);
  // Memory budget: the inputs twice over plus 1 MiB. Only copy ops can grow a document faster
  // than its patch; a patch that copies a subtree into itself 40 times must not take 2^40 bytes.
  const std::vector<Node> ops = patch_ops.elements();
  size_t budget = 2 * tree_size(document).bytes + (size_t(1) << 20);
  for (const Node& op_node : ops)
    if (auto v = op_node.get("value")) budget += 2 * tree_size(to_tree(*v)).bytes;
  size_t used = tree_size(document).bytes;
  // `added` goes to `tokens`, replacing `replaced` (an existing member or, for replace, the target).
  auto check_growth = [&](const std::vector<std::string>& tokens, const Value& added, const Value* replaced) {
    const TreeSize size = tree_size(added);
    const size_t freed = replaced ? tree_size(*replaced).bytes : 0;
    used = used + size.bytes - std::min(used, freed);
    if (used > budget)
      op_error("the patched document would grow beyond " + std::to_string(budget >> 20) +
               " MiB (twice the size of the workspace and the patch, plus 1 MiB)");
    if (tokens.size() + size.depth > kMaxDepth)
      op_error("the patched document would nest deeper than " + std::to_string(kMaxDepth) + " levels");
  };
  // The object member an add would overwrite, if any.
  auto overwritten = [&](const std::vector<std::string>& tokens) -> const Value* {
    if (tokens.empty()) return &document;
    Value& parent = resolve_parent(document, tokens);
    return parent.type == Value::Type::Object ? parent.find(tokens.back()) : nullptr;
  };

  for (const Node& op_node : ops) {
    const std::string op = op_node.at("op").as_string();
    const std::string path = op_node.at("path").as_string();
    try {
      const std::vector<std::string> tokens = split_pointer(path);
      if (op == "add") {
        Value v = to_tree(op_node.at("value"));
        check_growth(tokens, v, overwritten(tokens));
        add_at(document, tokens, std::move(v));
      } else if (op == "remove") {
        const Value removed = remove_at(document, tokens);
        used -= std::min(used, tree_size(removed).bytes);
      } else if (op == "replace") {
        Value v = to_tree(op_node.at("value"));
        Value& target = get_at(document, tokens);
        check_growth(tokens, v, &target);
        target = std::move(v);
      } else if (op == "move") {
        const std::string from = op_node.at("from").as_string();
        if (path.size() > from.size() && path.compare(0, from.size(), from) == 0 && path[from.size()] == '/')
          op_error("cannot move " + safe_quote(from) + " into its own child " + safe_quote(path));
        Value v = remove_at(document, split_pointer(from));
        add_at(document, tokens, std::move(v));
      } else if (op == "copy") {
        Value v = get_at(document, split_pointer(op_node.at("from").as_string()));
        check_growth(tokens, v, overwritten(tokens));
        add_at(document, tokens, std::move(v));
      } else if (op == "test") {
        if (!equal(get_at(document, tokens), to_tree(op_node.at("value"))))
          op_error("test failed: the value at " + safe_quote(path) + " differs from the expected one");
      }
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::Internal || !e.where().empty()) throw;
      throw Error(ErrorKind::Input, op_node.pointer().empty() ? "/" : op_node.pointer(),
                  "JSON Patch op '" + op + "' on path " + safe_quote(path) + " failed: " + e.message());
    }
  }
}

}  // namespace hs3fit::json
