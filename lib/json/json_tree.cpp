#include "json/json_tree.h"

#include <cmath>
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

// Split an RFC 6901 pointer into unescaped reference tokens.
std::vector<std::string> split_pointer(const std::string& pointer, const std::string& where) {
  std::vector<std::string> tokens;
  if (pointer.empty()) return tokens;
  if (pointer[0] != '/') throw_input_error(where, "JSON pointer '" + pointer + "' must start with '/'");
  size_t pos = 1;
  while (true) {
    size_t next = pointer.find('/', pos);
    std::string raw = pointer.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    std::string tok;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '~' && i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
        tok += raw[i + 1] == '0' ? '~' : '/';
        ++i;
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

size_t array_index(const std::string& tok, size_t size, bool allow_end, const std::string& where,
                   const std::string& pointer) {
  if (allow_end && tok == "-") return size;
  if (tok.empty() || tok.find_first_not_of("0123456789") != std::string::npos || (tok.size() > 1 && tok[0] == '0'))
    throw_input_error(where, "path '" + pointer + "': '" + tok + "' is not an array index");
  size_t idx = std::stoul(tok);
  if (idx > size || (!allow_end && idx == size))
    throw_input_error(where, "path '" + pointer + "': index " + tok + " out of range (array has " +
                                 std::to_string(size) + " elements)");
  return idx;
}

// Resolve all but the last token; returns the parent container.
Value& resolve_parent(Value& doc, const std::vector<std::string>& tokens, const std::string& where,
                      const std::string& pointer) {
  Value* cur = &doc;
  for (size_t t = 0; t + 1 < tokens.size(); ++t) {
    const std::string& tok = tokens[t];
    if (cur->type == Value::Type::Object) {
      Value* next = cur->find(tok);
      if (!next) throw_input_error(where, "path '" + pointer + "' does not exist in the document (no member '" + tok + "')");
      cur = next;
    } else if (cur->type == Value::Type::Array) {
      cur = &cur->array[array_index(tok, cur->array.size(), false, where, pointer)];
    } else {
      throw_input_error(where, "path '" + pointer + "' goes through a scalar at '" + tok + "'");
    }
  }
  return *cur;
}

Value get_at(Value& doc, const std::string& pointer, const std::string& where) {
  auto tokens = split_pointer(pointer, where);
  if (tokens.empty()) return doc;
  Value& parent = resolve_parent(doc, tokens, where, pointer);
  const std::string& last = tokens.back();
  if (parent.type == Value::Type::Object) {
    Value* v = parent.find(last);
    if (!v) throw_input_error(where, "path '" + pointer + "' does not exist in the document");
    return *v;
  }
  if (parent.type == Value::Type::Array) return parent.array[array_index(last, parent.array.size(), false, where, pointer)];
  throw_input_error(where, "path '" + pointer + "' does not exist in the document");
}

void add_at(Value& doc, const std::string& pointer, Value value, const std::string& where) {
  auto tokens = split_pointer(pointer, where);
  if (tokens.empty()) { doc = std::move(value); return; }
  Value& parent = resolve_parent(doc, tokens, where, pointer);
  const std::string& last = tokens.back();
  if (parent.type == Value::Type::Object) {
    if (Value* existing = parent.find(last)) *existing = std::move(value);
    else parent.object.emplace_back(last, std::move(value));
  } else if (parent.type == Value::Type::Array) {
    size_t idx = array_index(last, parent.array.size(), true, where, pointer);
    parent.array.insert(parent.array.begin() + static_cast<std::ptrdiff_t>(idx), std::move(value));
  } else {
    throw_input_error(where, "path '" + pointer + "': parent is not an object or array");
  }
}

Value remove_at(Value& doc, const std::string& pointer, const std::string& where) {
  auto tokens = split_pointer(pointer, where);
  if (tokens.empty()) throw_input_error(where, "cannot remove the whole document");
  Value& parent = resolve_parent(doc, tokens, where, pointer);
  const std::string& last = tokens.back();
  if (parent.type == Value::Type::Object) {
    for (auto it = parent.object.begin(); it != parent.object.end(); ++it)
      if (it->first == last) {
        Value v = std::move(it->second);
        parent.object.erase(it);
        return v;
      }
    throw_input_error(where, "path '" + pointer + "' does not exist in the document");
  }
  if (parent.type == Value::Type::Array) {
    size_t idx = array_index(last, parent.array.size(), false, where, pointer);
    Value v = std::move(parent.array[idx]);
    parent.array.erase(parent.array.begin() + static_cast<std::ptrdiff_t>(idx));
    return v;
  }
  throw_input_error(where, "path '" + pointer + "' does not exist in the document");
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

}  // namespace

std::string serialize(const Value& value) {
  std::string out;
  write_value(out, value);
  return out;
}

void apply_json_patch(Value& document, const Node& patch_ops) {
  for (const Node& op_node : patch_ops.elements()) {
    const std::string where = op_node.pointer();
    const std::string op = op_node.at("op").as_string();
    const std::string path = op_node.at("path").as_string();
    if (op == "add") {
      add_at(document, path, to_tree(op_node.at("value")), where);
    } else if (op == "remove") {
      remove_at(document, path, where);
    } else if (op == "replace") {
      remove_at(document, path, where);
      add_at(document, path, to_tree(op_node.at("value")), where);
    } else if (op == "move") {
      Value v = remove_at(document, op_node.at("from").as_string(), where);
      add_at(document, path, std::move(v), where);
    } else if (op == "copy") {
      Value v = get_at(document, op_node.at("from").as_string(), where);
      add_at(document, path, std::move(v), where);
    } else if (op == "test") {
      if (!equal(get_at(document, path, where), to_tree(op_node.at("value"))))
        throw_input_error(where, "JSON patch test failed at '" + path + "'");
    } else {
      op_node.at("op").fail("unknown JSON patch op '" + op + "' (expected add, remove, replace, move, copy or test)");
    }
  }
}

}  // namespace hs3fit::json
