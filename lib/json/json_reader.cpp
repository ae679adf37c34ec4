#include "json/json_reader.h"

#include <cmath>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "core/error.h"

namespace hs3fit::json {

std::string Node::type_name() const {
  switch (element_.type()) {
    case simdjson::dom::element_type::ARRAY: return "array";
    case simdjson::dom::element_type::OBJECT: return "object";
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
    case simdjson::dom::element_type::DOUBLE: return "number";
    case simdjson::dom::element_type::STRING: return "string";
    case simdjson::dom::element_type::BOOL: return "boolean";
    case simdjson::dom::element_type::NULL_VALUE: return "null";
  }
  return "value";
}

void Node::fail(const std::string& what) const { throw_input_error(pointer_, what); }

void Node::expect(bool ok, const char* expected) const {
  if (!ok) fail(std::string("expected ") + expected + ", found " + type_name());
}

Node Node::at(std::string_view key) const {
  expect(is_object(), "object");
  simdjson::dom::object obj;
  if (element_.get_object().get(obj) != simdjson::SUCCESS) expect(false, "object");
  simdjson::dom::element child;
  if (obj.at_key(key).get(child) != simdjson::SUCCESS)
    fail("missing required field '" + std::string(key) + "'");
  return Node(child, pointer_ + "/" + json_pointer_escape(std::string(key)));
}

std::optional<Node> Node::get(std::string_view key) const {
  expect(is_object(), "object");
  simdjson::dom::object obj;
  if (element_.get_object().get(obj) != simdjson::SUCCESS) expect(false, "object");
  simdjson::dom::element child;
  if (obj.at_key(key).get(child) != simdjson::SUCCESS) return std::nullopt;
  return Node(child, pointer_ + "/" + json_pointer_escape(std::string(key)));
}

std::vector<std::pair<std::string, Node>> Node::members() const {
  expect(is_object(), "object");
  std::vector<std::pair<std::string, Node>> out;
  simdjson::dom::object obj;
  if (element_.get_object().get(obj) != simdjson::SUCCESS) expect(false, "object");
  for (auto field : obj) {
    std::string key(field.key);
    out.emplace_back(key, Node(field.value, pointer_ + "/" + json_pointer_escape(key)));
  }
  return out;
}

std::vector<Node> Node::elements() const {
  expect(is_array(), "array");
  std::vector<Node> out;
  size_t i = 0;
  simdjson::dom::array arr;
  if (element_.get_array().get(arr) != simdjson::SUCCESS) expect(false, "array");
  for (auto child : arr) out.emplace_back(child, pointer_ + "/" + std::to_string(i++));
  return out;
}

size_t Node::size() const {
  simdjson::dom::array arr;
  if (element_.get_array().get(arr) == simdjson::SUCCESS) return arr.size();
  simdjson::dom::object obj;
  if (element_.get_object().get(obj) == simdjson::SUCCESS) return obj.size();
  return 0;
}

double Node::as_number() const {
  expect(is_number(), "number");
  double v = element_.get_double().value_unsafe();
  if (!std::isfinite(v)) fail("expected a finite number");
  return v;
}

std::string Node::as_string() const {
  expect(is_string(), "string");
  return std::string(element_.get_string().value_unsafe());
}

bool Node::as_bool() const {
  expect(is_bool(), "boolean");
  return element_.get_bool().value_unsafe();
}

std::vector<double> Node::as_numbers() const {
  expect(is_array(), "array of numbers");
  simdjson::dom::array arr;
  if (element_.get_array().get(arr) != simdjson::SUCCESS) expect(false, "array");
  std::vector<double> out;
  out.reserve(arr.size());
  size_t i = 0;
  for (auto child : arr) {
    double v;
    if (child.get_double().get(v) != simdjson::SUCCESS || !std::isfinite(v))
      Node(child, pointer_ + "/" + std::to_string(i)).expect(false, "finite number");
    out.push_back(v);
    ++i;
  }
  return out;
}

std::vector<std::string> Node::as_strings() const {
  std::vector<std::string> out;
  for (const Node& child : elements()) out.push_back(child.as_string());
  return out;
}

Node Document::root() const { return Node(root_, ""); }

namespace {

// Locate the first syntax problem for the error message. simdjson reports only an error code;
// this small scanner walks the text once (only on the error path) and returns the byte offset
// of the first token that cannot be valid JSON, or the end of input if the text is truncated.
size_t locate_syntax_error(const std::string& s) {
  const size_t n = s.size();
  size_t i = 0;
  auto skip_ws = [&] {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  };
  auto scan_string = [&]() -> bool {  // at the opening quote; false if unterminated/invalid
    ++i;
    while (i < n && s[i] != '"') {
      if (static_cast<unsigned char>(s[i]) < 0x20) return false;
      i += (s[i] == '\\') ? 2 : 1;
    }
    if (i >= n) return false;
    ++i;
    return true;
  };
  std::vector<char> stack;  // open containers: '{' or '['
  enum class Want { Value, KeyOrClose, Key, Colon, CommaOrClose } want = Want::Value;
  while (true) {
    skip_ws();
    if (i >= n) return stack.empty() && want == Want::CommaOrClose ? n + 1 : n;
    const char c = s[i];
    if (want == Want::CommaOrClose && stack.empty()) return i;  // trailing garbage
    switch (want) {
      case Want::Value:
        if (c == '{') { stack.push_back('{'); ++i; want = Want::KeyOrClose; continue; }
        if (c == '[') {
          stack.push_back('['); ++i; skip_ws();
          if (i < n && s[i] == ']') { stack.pop_back(); ++i; want = Want::CommaOrClose; }
          continue;
        }
        if (c == '"') {
          size_t start = i;
          if (!scan_string()) return i >= n ? n : start;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
          size_t start = i;
          ++i;
          while (i < n && std::string_view("0123456789.eE+-").find(s[i]) != std::string_view::npos) ++i;
          std::string num = s.substr(start, i - start);
          char* end = nullptr;
          double v = std::strtod(num.c_str(), &end);
          if (end != num.c_str() + num.size() || !std::isfinite(v)) return start;
        } else if (s.compare(i, 4, "true") == 0) i += 4;
        else if (s.compare(i, 5, "false") == 0) i += 5;
        else if (s.compare(i, 4, "null") == 0) i += 4;
        else return i;
        want = Want::CommaOrClose;
        continue;
      case Want::KeyOrClose:
        if (c == '}') { stack.pop_back(); ++i; want = Want::CommaOrClose; continue; }
        [[fallthrough]];
      case Want::Key: {
        if (c != '"') return i;
        size_t start = i;
        if (!scan_string()) return i >= n ? n : start;
        want = Want::Colon;
        continue;
      }
      case Want::Colon:
        if (c != ':') return i;
        ++i;
        want = Want::Value;
        continue;
      case Want::CommaOrClose:
        if (c == ',') { ++i; want = stack.back() == '{' ? Want::Key : Want::Value; continue; }
        if ((c == '}' && stack.back() == '{') || (c == ']' && stack.back() == '[')) {
          stack.pop_back(); ++i;
          continue;
        }
        return i;
    }
  }
}

std::string line_col(const std::string& s, size_t offset) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i < offset && i < s.size(); ++i) {
    if (s[i] == '\n') { ++line; col = 1; } else ++col;
  }
  return std::to_string(line) + ":" + std::to_string(col);
}

// Nesting depth check before simdjson (which would refuse too, but with a vague message).
bool too_deep(const std::string& s, size_t& where) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth) { where = i; return true; }
    } else if (c == ']' || c == '}') {
      if (depth > 0) --depth;
    }
  }
  return false;
}

}  // namespace

Document parse(std::string text, std::string source) {
  Document doc;
  doc.source_ = source;
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos)
    throw Error(ErrorKind::Input, source, "empty file: no JSON value (byte offset 0)");
  size_t deep_at = 0;
  if (too_deep(text, deep_at))
    throw Error(ErrorKind::Input, source,
                "JSON nesting too deep (more than " + std::to_string(kMaxDepth) +
                    " levels) at byte offset " + std::to_string(deep_at) + " (line " +
                    line_col(text, deep_at) + ")");
  doc.parser_ = std::make_unique<simdjson::dom::parser>();
  auto err = doc.parser_->parse(text).get(doc.root_);
  if (err != simdjson::SUCCESS) {
    size_t at = locate_syntax_error(text);
    std::string where =
        at > text.size()    ? std::string("(invalid characters or encoding)")
        : at == text.size() ? "at end of input (byte offset " + std::to_string(text.size()) + ")"
                            : "at byte offset " + std::to_string(at) + " (line " + line_col(text, at) + ")";
    throw Error(ErrorKind::Input, source,
                std::string("invalid JSON ") + where + ": " + simdjson::error_message(err));
  }
  return doc;
}

std::string read_text(const std::string& path) {
  if (path == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorKind::Io, path, "cannot open file");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw Error(ErrorKind::Io, path, "cannot read file");
  return text;
}

Document parse_file(const std::string& path) {
  return parse(read_text(path), path == "-" ? "<stdin>" : path);
}

}  // namespace hs3fit::json
