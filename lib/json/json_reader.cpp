#include "json/json_reader.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <iostream>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <system_error>
#include <thread>
#include <unistd.h>

#include "core/error.h"

namespace hs3fit::json {

// ---------------------------------------------------------------------------------------------
// Display helpers

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if the bytes there are not valid
// UTF-8 (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF).
size_t utf8_sequence_length(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) n = 2;
  else if (c == 0xE0) { n = 3; lo = 0xA0; }
  else if (c >= 0xE1 && c <= 0xEC) n = 3;
  else if (c == 0xED) { n = 3; hi = 0x9F; }
  else if (c >= 0xEE && c <= 0xEF) n = 3;
  else if (c == 0xF0) { n = 4; lo = 0x90; }
  else if (c >= 0xF1 && c <= 0xF3) n = 4;
  else if (c == 0xF4) { n = 4; hi = 0x8F; }
  else return 0;
  if (i + n > s.size()) return 0;
  if (b(i + 1) < lo || b(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k)
    if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
  return n;
}

// Append `text` with control characters and invalid UTF-8 escaped, so that no message can
// contain a newline or a terminal escape sequence.
void append_printable(std::string& out, std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (c < 0x20 || c == 0x7F) out += fmt::format("\\u{:04x}", c);
    else if (c < 0x80) out += static_cast<char>(c);
    else {
      const size_t n = utf8_sequence_length(text, i);
      if (n == 0) {
        out += fmt::format("\\x{:02x}", c);
        ++i;
        continue;
      }
      // C1 control characters (U+0080..U+009F) are terminal controls too.
      if (n == 2 && c == 0xC2 && static_cast<unsigned char>(text[i + 1]) < 0xA0)
        out += fmt::format("\\u{:04x}", static_cast<unsigned char>(text[i + 1]));
      else out.append(text.substr(i, n));
      i += n;
      continue;
    }
    ++i;
  }
}

// A reference token of a JSON pointer, escaped (RFC 6901) and printable; keys longer than
// 200 bytes are cut (with "...") so that no message can grow with a key's length.
std::string pointer_token(std::string_view key) {
  constexpr size_t kMaxKey = 200;
  bool cut = false;
  if (key.size() > kMaxKey) {
    size_t end = kMaxKey;
    while (end > 0 && (static_cast<unsigned char>(key[end]) & 0xC0) == 0x80) --end;
    key = key.substr(0, end);
    cut = true;
  }
  std::string out;
  append_printable(out, json_pointer_escape(std::string(key)));
  return cut ? out + "..." : out;
}

std::string describe_byte(const std::string& s, size_t i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  if (c >= 0x21 && c < 0x7F) return std::string("'") + static_cast<char>(c) + "'";
  if (c == ' ') return "a space";
  return fmt::format("byte 0x{:02X}", c);
}

std::string line_col(const std::string& s, size_t offset) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i < offset && i < s.size(); ++i) {
    if (s[i] == '\n') { ++line; col = 1; } else ++col;
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

}  // namespace

std::string safe_quote(std::string_view text, size_t max_bytes) {
  std::string body;
  bool cut = false;
  if (text.size() > max_bytes) {
    size_t end = max_bytes;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;  // UTF-8 boundary
    text = text.substr(0, end);
    cut = true;
  }
  append_printable(body, text);
  return "'" + body + (cut ? "...'" : "'");
}

// ---------------------------------------------------------------------------------------------
// Node

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

namespace {
// A key that is its own pointer token: printable ASCII without '~' and '/', not cut (the
// usual case: "channels", "samples", names), appended as it is.
bool plain_token(std::string_view key) {
  if (key.size() > 200) return false;
  for (const char ch : key) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c >= 0x7F || c == '~' || c == '/') return false;
  }
  return true;
}
}  // namespace

std::string Node::pointer() const {
  std::string p = base_ ? *base_ : std::string();
  p.reserve(p.size() + 16 * num_steps_);
  for (size_t i = 0; i < num_steps_; ++i) {
    p += '/';
    if (steps_[i].key) {
      const std::string_view key(steps_[i].key, steps_[i].value);
      if (plain_token(key)) p.append(key.data(), key.size());
      else p += pointer_token(key);
    } else {
      char digits[24];
      const auto end = std::to_chars(digits, digits + sizeof digits, steps_[i].value).ptr;
      p.append(digits, static_cast<size_t>(end - digits));
    }
  }
  return p;
}

Node Node::with_step(simdjson::dom::element element, Step step) const {
  if (num_steps_ == kInlineSteps) {  // deep: fold the path into the base string
    Node out(element, pointer());
    out.steps_[0] = step;
    out.num_steps_ = 1;
    return out;
  }
  Node out(*this);
  out.element_ = element;
  out.steps_[num_steps_] = step;
  out.num_steps_ = num_steps_ + 1;
  return out;
}

// `key` must be a view into the document (a member's key), never a caller's string.
Node Node::child(simdjson::dom::element element, std::string_view key) const { return with_step(element, Step{key.data(), key.size()}); }
Node Node::child(simdjson::dom::element element, size_t index) const { return with_step(element, Step{nullptr, index}); }

void Node::fail(const std::string& what) const { throw_input_error(pointer(), what); }

void Node::expect(bool ok, const char* expected) const {
  if (!ok) fail(std::string("expected ") + expected + ", found " + type_name());
}

Node Node::at(std::string_view key) const {
  if (auto found = get(key)) return *found;
  fail("missing required field " + safe_quote(key));
}

std::optional<Node> Node::get(std::string_view key) const {
  expect(is_object(), "object");
  simdjson::dom::object obj;
  if (element_.get_object().get(obj) != simdjson::SUCCESS) expect(false, "object");
  // The first member with this key (as simdjson's at_key); its key is the document's copy.
  for (auto field : obj)
    if (field.key == key) return child(field.value, field.key);
  return std::nullopt;
}

bool Node::pick(std::initializer_list<std::string_view> keys, std::optional<Node>* found) const {
  expect(is_object(), "object");
  simdjson::dom::object obj;
  if (element_.get_object().get(obj) != simdjson::SUCCESS) expect(false, "object");
  bool all_known = true;
  for (auto field : obj) {
    const std::string_view key = field.key;
    size_t i = 0;
    for (std::string_view k : keys) {
      // Length and first byte before the byte comparison: keys of one object (name, type,
      // data) mostly differ there, and this runs for every member of every modifier.
      if (k.size() == key.size() && (k.empty() || (k[0] == key[0] && std::memcmp(k.data(), key.data(), k.size()) == 0))) break;
      ++i;
    }
    if (i == keys.size()) all_known = false;
    else if (!found[i]) found[i].emplace(with_step(field.value, Step{key.data(), key.size()}));
  }
  return all_known;
}

Node Node::required(const std::optional<Node>& found, std::string_view key) const {
  if (found) return *found;
  fail("missing required field " + safe_quote(key));
}

std::vector<std::pair<std::string, Node>> Node::members() const {
  expect(is_object(), "object");
  std::vector<std::pair<std::string, Node>> out;
  simdjson::dom::object obj;
  if (element_.get_object().get(obj) != simdjson::SUCCESS) expect(false, "object");
  out.reserve(obj.size());
  for (auto field : obj) out.emplace_back(std::string(field.key), child(field.value, field.key));
  return out;
}

std::vector<Node> Node::elements() const {
  expect(is_array(), "array");
  std::vector<Node> out;
  size_t i = 0;
  simdjson::dom::array arr;
  if (element_.get_array().get(arr) != simdjson::SUCCESS) expect(false, "array");
  out.reserve(arr.size());
  for (auto el : arr) out.push_back(child(el, i++));
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

std::string Node::as_string() const { return std::string(as_string_view()); }

std::string_view Node::as_string_view() const {
  expect(is_string(), "string");
  return element_.get_string().value_unsafe();
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
  for (auto el : arr) {
    double v;
    if (el.get_double().get(v) != simdjson::SUCCESS || !std::isfinite(v)) child(el, i).expect(false, "number");
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

namespace {
// Levenshtein distance, for "did you mean" hints on short keys.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}
}  // namespace

void Node::check_keys(std::initializer_list<std::string_view> allowed, const char* what, ErrorCollector& problems) const {
  simdjson::dom::object obj;
  if (element_.get_object().get(obj) != simdjson::SUCCESS) return;  // the type error is reported by the reader
  for (auto field : obj) {
    if (std::find(allowed.begin(), allowed.end(), field.key) != allowed.end()) continue;
    std::string list, hint;
    size_t best = 3;
    for (std::string_view k : allowed) {
      list += (list.empty() ? "" : ", ") + std::string(k);
      if (field.key.size() < 64) {
        const size_t d = edit_distance(field.key, k);
        if (d < best && obj.at_key(k).error() != simdjson::SUCCESS) { best = d; hint = std::string(k); }
      }
    }
    problems.add(pointer() + "/" + pointer_token(field.key),
                 "unknown key " + safe_quote(field.key) + " in " + what +
                     (hint.empty() ? " (allowed: " + list + ")" : " (did you mean '" + hint + "'?)"));
  }
}

Node Document::root() const { return Node(root_, ""); }

namespace {
// simdjson parsers of finished documents, kept for the next parse in this thread: a parser's
// buffers (tape, strings, structural indexes) are sized by the largest document it parsed, so
// reusing one saves their allocation and first-touch page faults — most of the fixed cost of
// loading a KB-sized workspace. Only parsers of documents up to kPooledCapacity bytes are kept
// (a big document's buffers are freed with it, as before, so they do not stay resident during
// a fit), and at most kPoolSize of them (workspace + patches).
constexpr size_t kPooledCapacity = size_t(4) << 20;
constexpr size_t kPoolSize = 4;
// A Document that outlives the thread's pool (a static one destroyed at exit, after the
// thread_local pool) must not touch it: the flag is trivially destructible, so it stays readable.
thread_local bool pool_destroyed = false;
struct ParserPool {
  std::vector<std::unique_ptr<simdjson::dom::parser>> parsers;
  // The text buffer of the last parsed document (up to kPooledCapacity), for read_text's next
  // file: a fresh multi-KB buffer costs a malloc that consolidates the heap's free lists.
  std::string text;
  ParserPool() = default;
  ParserPool(const ParserPool&) = delete;
  ParserPool& operator=(const ParserPool&) = delete;
  ~ParserPool() { pool_destroyed = true; }
};
ParserPool* pool_instance() {
  if (pool_destroyed) return nullptr;
  thread_local ParserPool pool;
  return &pool;
}
std::vector<std::unique_ptr<simdjson::dom::parser>>* parser_pool() {
  ParserPool* pool = pool_instance();
  return pool ? &pool->parsers : nullptr;
}
std::string take_text_buffer() {
  ParserPool* pool = pool_instance();
  std::string out;
  if (pool) out.swap(pool->text);
  out.clear();
  return out;
}
void return_text_buffer(std::string&& text) noexcept {
  ParserPool* pool = pool_instance();
  if (!pool || text.capacity() > kPooledCapacity || text.capacity() <= pool->text.capacity()) return;
  pool->text.swap(text);
}
std::unique_ptr<simdjson::dom::parser> take_parser() {
  auto* pool = parser_pool();
  if (!pool || pool->empty()) return std::make_unique<simdjson::dom::parser>();
  std::unique_ptr<simdjson::dom::parser> p = std::move(pool->back());
  pool->pop_back();
  return p;
}
void return_parser(std::unique_ptr<simdjson::dom::parser> p) {
  if (!p || p->capacity() > kPooledCapacity) return;
  auto* pool = parser_pool();
  if (!pool || pool->size() >= kPoolSize) return;  // no pool (thread exiting): the parser is freed
  try {
    pool->push_back(std::move(p));
  } catch (...) {  // out of memory: the parser is simply freed
  }
}
}  // namespace

// A structure check running on its own thread (parse(..., CheckMode::Deferred)): it reads the
// parser's DOM, which stays put while the Document moves (the parser is held by pointer), and
// keeps the text for the byte offset of a depth error.
struct PendingCheck {
  std::string text;
  std::thread thread;
  std::exception_ptr error;  // set by the thread: the check's Error, if it found one
  ~PendingCheck() {
    if (thread.joinable()) thread.join();
  }
};

Document::Document(Document&&) noexcept = default;

Document::~Document() {
  wait();
  return_parser(std::move(parser_));
}

Document& Document::operator=(Document&& other) noexcept {
  if (this != &other) {
    wait();
    return_parser(std::move(parser_));
    source_ = std::move(other.source_);
    pending_ = std::move(other.pending_);
    parser_ = std::move(other.parser_);
    root_ = other.root_;
  }
  return *this;
}

void Document::wait() noexcept {
  if (pending_ && pending_->thread.joinable()) pending_->thread.join();
}

void Document::check() {
  if (!pending_) return;
  wait();
  if (pending_->error) std::rethrow_exception(pending_->error);
}

// ---------------------------------------------------------------------------------------------
// Syntax errors: simdjson reports only an error code, so on the error path this scanner walks
// the text once more, strictly by RFC 8259, and finds the first byte that cannot be valid JSON,
// the JSON pointer of the value it belongs to, and what was expected there.

namespace {

struct SyntaxProblem {
  size_t offset = 0;
  std::string pointer;   // of the value being read ("" = before/at the root)
  std::string message;
  bool found = false;
};

class SyntaxScanner {
 public:
  explicit SyntaxScanner(const std::string& s) : s_(s), n_(s.size()) {}

  SyntaxProblem scan() {
    skip_ws();
    if (i_ >= n_) return problem(n_, "empty file: no JSON value");
    Want want = Want::Value;
    while (true) {
      skip_ws();
      if (i_ >= n_) {
        if (stack_.empty() && want == Want::CommaOrClose) return {};  // complete: nothing found
        std::string open = stack_.empty() ? "" : std::string(" (") + std::to_string(stack_.size()) + " unclosed " +
                                                       (stack_.back().kind == '{' ? "object" : "array") +
                                                       (stack_.size() > 1 ? "s" : "") + ")";
        return problem(n_, "unexpected end of input" + open + ": " + expected_text(want));
      }
      const char c = s_[i_];
      if (stack_.empty() && want == Want::CommaOrClose)
        return problem(i_, "unexpected " + describe_byte(s_, i_) + " after the end of the JSON value");
      switch (want) {
        case Want::ValueOrClose:
          if (c == ']') { close(); want = Want::CommaOrClose; continue; }
          [[fallthrough]];
        case Want::Value:
          if (c == '{') { open('{'); want = Want::KeyOrClose; continue; }
          if (c == '[') { open('['); want = Want::ValueOrClose; continue; }
          if (!scalar()) return problem_;
          want = Want::CommaOrClose;
          continue;
        case Want::KeyOrClose:
          if (c == '}') { close(); want = Want::CommaOrClose; continue; }
          [[fallthrough]];
        case Want::Key: {
          if (c != '"') {
            if (c == '}' && want == Want::Key) return problem(i_, "trailing comma before '}' (expected another \"key\": value)");
            return problem(i_, "expected a \"key\" in double quotes, found " + describe_byte(s_, i_));
          }
          std::string key;
          if (!string_literal(&key)) return problem_;
          stack_.back().key = pointer_token(key);
          stack_.back().has_key = true;
          want = Want::Colon;
          continue;
        }
        case Want::Colon:
          if (c != ':') return problem(i_, "expected ':' after the key, found " + describe_byte(s_, i_));
          ++i_;
          want = Want::Value;
          continue;
        case Want::CommaOrClose: {
          Frame& top = stack_.back();
          if (c == ',') {
            ++i_;
            if (top.kind == '{') {
              top.has_key = false;
              want = Want::Key;
            } else {
              ++top.index;
              skip_ws();
              if (i_ < n_ && s_[i_] == ']') return problem(i_, "trailing comma before ']' (expected another value)");
              want = Want::Value;
            }
            continue;
          }
          if ((c == '}' && top.kind == '{') || (c == ']' && top.kind == '[')) { close(); continue; }
          return problem(i_, std::string("expected ',' or '") + (top.kind == '{' ? '}' : ']') + "' after " +
                                 (top.kind == '{' ? "an object member" : "an array element") + ", found " + describe_byte(s_, i_));
        }
      }
    }
  }

 private:
  enum class Want { Value, ValueOrClose, KeyOrClose, Key, Colon, CommaOrClose };
  struct Frame {
    char kind;
    size_t index = 0;
    std::string key;
    bool has_key = false;
  };

  std::string pointer() const {
    std::string p;
    for (const Frame& f : stack_) {
      if (f.kind == '[') p += "/" + std::to_string(f.index);
      else if (f.has_key) p += "/" + f.key;
      else break;
    }
    return p;
  }

  std::string expected_text(Want want) const {
    switch (want) {
      case Want::Value: return "expected a value";
      case Want::ValueOrClose: return "expected a value or ']'";
      case Want::KeyOrClose: return "expected a \"key\" or '}'";
      case Want::Key: return "expected a \"key\"";
      case Want::Colon: return "expected ':'";
      case Want::CommaOrClose: return std::string("expected ',' or '") + (stack_.back().kind == '{' ? '}' : ']') + "'";
    }
    return "";
  }

  SyntaxProblem problem(size_t offset, std::string message) {
    problem_ = {offset, pointer(), std::move(message), true};
    return problem_;
  }

  void open(char kind) {
    stack_.push_back(Frame{kind, 0, std::string(), false});
    ++i_;
  }
  void close() {
    stack_.pop_back();
    ++i_;
  }

  void skip_ws() {
    while (i_ < n_ && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }

  static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  // Reads \uXXXX at i_ (pointing at the backslash); returns the code unit or -1.
  long read_u_escape(size_t at) const {
    if (at + 6 > n_ || s_[at] != '\\' || s_[at + 1] != 'u') return -1;
    long v = 0;
    for (size_t k = at + 2; k < at + 6; ++k) {
      const int h = hex_value(s_[k]);
      if (h < 0) return -1;
      v = v * 16 + h;
    }
    return v;
  }

  // A string at i_ (the opening quote). Keeps the raw text (escapes undone only roughly: enough
  // for pointers in messages) in *out when given.
  bool string_literal(std::string* out) {
    const size_t start = i_;
    ++i_;
    while (true) {
      if (i_ >= n_) {
        problem(n_, "unexpected end of input: the string starting at byte offset " + std::to_string(start) + " is not closed");
        return false;
      }
      const unsigned char c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') { ++i_; return true; }
      if (c < 0x20) {
        problem(i_, fmt::format("unescaped control character 0x{:02X} in a string (write it as \\u{:04x})", c, c));
        return false;
      }
      if (c == '\\') {
        if (i_ + 1 >= n_) { problem(n_, "unexpected end of input inside a string escape"); return false; }
        const char e = s_[i_ + 1];
        if (e == 'u') {
          const long u = read_u_escape(i_);
          if (u < 0) { problem(i_, "invalid \\u escape (expected 4 hexadecimal digits)"); return false; }
          if (u >= 0xDC00 && u <= 0xDFFF) {
            problem(i_, fmt::format("invalid \\u{:04x} escape: a low surrogate without a preceding high surrogate", u));
            return false;
          }
          if (u >= 0xD800 && u <= 0xDBFF) {
            const long low = read_u_escape(i_ + 6);
            if (!(low >= 0xDC00 && low <= 0xDFFF)) {
              problem(i_, fmt::format("invalid \\u{:04x} escape: a high surrogate must be followed by a \\uDC00-\\uDFFF escape", u));
              return false;
            }
            if (out) *out += '?';
            i_ += 12;
            continue;
          }
          if (out) *out += u < 0x80 ? static_cast<char>(u) : '?';
          i_ += 6;
          continue;
        }
        if (std::strchr("\"\\/bfnrt", e) == nullptr || e == '\0') {
          const unsigned char ue = static_cast<unsigned char>(e);
          const std::string shown = ue > 0x20 && ue < 0x7F ? "\\" + std::string(1, e) : "'\\' followed by " + describe_byte(s_, i_ + 1);
          problem(i_, "invalid escape " + shown + " in a string (valid: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
          return false;
        }
        if (out) *out += e;
        i_ += 2;
        continue;
      }
      if (c >= 0x80) {
        const size_t len = utf8_sequence_length(s_, i_);
        if (len == 0) {
          problem(i_, fmt::format("invalid UTF-8 byte 0x{:02X} in a string (JSON text must be UTF-8)", c));
          return false;
        }
        if (out) out->append(s_, i_, len);
        i_ += len;
        continue;
      }
      if (out) *out += static_cast<char>(c);
      ++i_;
    }
  }

  bool number() {
    const size_t start = i_;
    size_t k = i_;
    auto digits = [&] {
      const size_t d0 = k;
      while (k < n_ && s_[k] >= '0' && s_[k] <= '9') ++k;
      return k - d0;
    };
    auto token_end = [&] {
      size_t e = start;
      while (e < n_ && (std::isalnum(static_cast<unsigned char>(s_[e])) || s_[e] == '.' || s_[e] == '+' || s_[e] == '-')) ++e;
      return e;
    };
    auto malformed = [&](const std::string& why) {
      const std::string tok = s_.substr(start, std::min<size_t>(token_end() - start, 40));
      problem(start, "malformed number " + safe_quote(tok) + ": " + why);
      return false;
    };
    if (k < n_ && s_[k] == '-') ++k;
    if (k < n_ && (s_.compare(k, 8, "Infinity") == 0 || s_.compare(k, 3, "inf") == 0)) {
      problem(start, "'" + s_.substr(start, k - start) + "Infinity' is not valid JSON (JSON numbers are finite)");
      return false;
    }
    const size_t int_start = k;
    const size_t nint = digits();
    if (nint == 0) return malformed("expected a digit");
    if (nint > 1 && s_[int_start] == '0') return malformed("leading zeros are not allowed");
    bool integer = true;
    if (k < n_ && s_[k] == '.') {
      ++k;
      integer = false;
      if (digits() == 0) return malformed("expected a digit after '.'");
    }
    if (k < n_ && (s_[k] == 'e' || s_[k] == 'E')) {
      ++k;
      integer = false;
      if (k < n_ && (s_[k] == '+' || s_[k] == '-')) ++k;
      if (digits() == 0) return malformed("expected a digit in the exponent");
    }
    const std::string text = s_.substr(start, k - start);
    if (integer) {
      // simdjson keeps integers exact: they must fit a 64-bit integer.
      errno = 0;
      char* end = nullptr;
      if (text[0] == '-') std::strtoll(text.c_str(), &end, 10);
      else std::strtoull(text.c_str(), &end, 10);
      if (errno == ERANGE) {
        problem(start, "integer " + safe_quote(text, 40) + " does not fit in 64 bits (write it as a floating-point number, e.g. " +
                           fmt::format("{:.6e}", std::strtod(text.c_str(), nullptr)) + ")");
        return false;
      }
    } else {
      const double v = std::strtod(text.c_str(), nullptr);
      if (!std::isfinite(v)) {
        problem(start, "number " + safe_quote(text, 40) + " is out of range (larger than the largest double, 1.8e308)");
        return false;
      }
    }
    i_ = k;
    return true;
  }

  bool scalar() {
    const char c = s_[i_];
    if (c == '"') return string_literal(nullptr);
    if (c == '-' || (c >= '0' && c <= '9')) return number();
    for (const char* lit : {"true", "false", "null"}) {
      const size_t len = std::strlen(lit);
      if (s_.compare(i_, len, lit) == 0 && (i_ + len >= n_ || !std::isalnum(static_cast<unsigned char>(s_[i_ + len])))) {
        i_ += len;
        return true;
      }
    }
    size_t e = i_;
    while (e < n_ && std::isalpha(static_cast<unsigned char>(s_[e]))) ++e;
    const std::string word = s_.substr(i_, std::min<size_t>(e - i_, 40));
    if (word == "NaN" || word == "nan" || word == "Infinity" || word == "inf")
      problem(i_, "'" + word + "' is not valid JSON (JSON has no NaN or Infinity; a value must be a finite number)");
    else if (c == '\'')
      problem(i_, "strings must be in double quotes, found a single quote");
    else if (c == '/' && i_ + 1 < n_ && (s_[i_ + 1] == '/' || s_[i_ + 1] == '*'))
      problem(i_, "comments are not allowed in JSON");
    else if (!word.empty())
      problem(i_, "unexpected word " + safe_quote(word) + " (expected a value: number, string, true, false, null, object or array)");
    else if (c == ',' || c == ']' || c == '}')
      problem(i_, "expected a value, found " + describe_byte(s_, i_));
    else
      problem(i_, "unexpected " + describe_byte(s_, i_) + " (expected a value)");
    return false;
  }

  const std::string& s_;
  const size_t n_;
  size_t i_ = 0;
  std::vector<Frame> stack_;
  SyntaxProblem problem_;
};

// Depth check before simdjson, so that no nesting can exhaust a stack (here or downstream).
bool too_deep(const std::string& s, size_t& where) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
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

// simdjson keeps the first of duplicate keys, Python's json (and so pyhf) the last: refuse them
// rather than read a number other tools would not. One pass over simdjson's tape (the DOM's
// flat layout, simdjson doc/tape.md) finds the first duplicate (pre-order; within an object the
// smallest duplicated key) and whether the nesting goes deeper than kMaxDepth, which takes
// precedence. Nothing is allocated per value: the path is kept as views into the document and
// formatted only for a message.
static_assert(simdjson::SIMDJSON_VERSION_MAJOR == 3,
              "StructureCheck reads simdjson 3's tape layout: check it against the new version's doc/tape.md");
class StructureCheck {
 public:
  explicit StructureCheck(const simdjson::dom::document& doc) : tape_(doc.tape.get()), strings_(doc.string_buf.get()) {}

  // False when the nesting is deeper than kMaxDepth (the walk stops there).
  bool run() {
    ok_ = true;
    walk(1, 1);  // tape_[0] is the root word, the value starts at 1
    return ok_;
  }

  bool found() const { return found_; }
  const std::string& duplicate_pointer() const { return dup_pointer_; }
  std::string_view duplicate_key() const { return dup_key_; }

 private:
  struct Step {
    const char* key;  // nullptr: array index
    size_t value;
  };

  char type(size_t i) const { return static_cast<char>(tape_[i] >> 56); }
  bool is_container(size_t i) const { return type(i) == '[' || type(i) == '{'; }
  // The tape index after the value starting at i.
  size_t next(size_t i) const {
    switch (type(i)) {
      case '[':
      case '{': return static_cast<uint32_t>(tape_[i]);  // the word after the matching close
      case 'l':
      case 'u':
      case 'd': return i + 2;  // the number is in the next word
      default: return i + 1;
    }
  }
  std::string_view string_at(size_t i) const {
    const uint8_t* p = strings_ + (tape_[i] & simdjson::internal::JSON_VALUE_MASK);
    uint32_t len;
    std::memcpy(&len, p, sizeof len);
    return std::string_view(reinterpret_cast<const char*>(p + sizeof len), len);
  }

  static constexpr size_t kSmall = 16;  // objects up to this many members: keys in fixed arrays

  // Walks the value at tape index i (a container when depth > 1).
  void walk(size_t i, size_t depth) {
    if (!is_container(i)) return;
    if (depth > kMaxDepth) {
      ok_ = false;
      return;
    }
    const size_t close = next(i) - 1;  // the index of ']' or '}'
    if (type(i) == '[') {
      size_t index = 0;
      for (size_t j = i + 1; j < close && ok_; ++index) {
        const char t = type(j);
        if (t == '[' || t == '{') {
          path_[path_size_++] = {nullptr, index};
          walk(j, depth + 1);
          --path_size_;
          j = next(j);
        } else {
          j += (t == 'd' || t == 'l' || t == 'u') ? 2 : 1;  // numbers take two tape words
        }
      }
      return;
    }
    // An object: one pass gathers its keys and the positions of its container values; the
    // duplicate check runs before the values are walked (the first duplicate in document order
    // is reported). Larger objects take the sorted check and a second pass.
    const char* data[kSmall];  // plain arrays: nothing to initialise per object
    size_t size[kSmall];
    size_t child[kSmall], child_key[kSmall];
    size_t n = 0, children = 0;
    size_t j = i + 1;
    for (; j < close && n < kSmall; ++n) {  // j: a key, j + 1: its value
      const std::string_view k = string_at(j);
      data[n] = k.data();
      size[n] = k.size();
      if (is_container(j + 1)) {
        child[children] = j + 1;
        child_key[children++] = n;
      }
      j = next(j + 1);
    }
    if (j < close) {
      if (!found_) check_large_object(i, close);
      for (j = i + 1; j < close && ok_; j = next(j + 1)) {
        if (!is_container(j + 1)) continue;
        const std::string_view key = string_at(j);
        path_[path_size_++] = {key.data(), key.size()};
        walk(j + 1, depth + 1);
        --path_size_;
      }
      return;
    }
    if (!found_) {  // pairs compared, the smallest duplicated key kept
      std::string_view smallest;
      bool dup = false;
      for (size_t a = 0; a < n; ++a)
        for (size_t b = a + 1; b < n; ++b)
          if (same_key({data[a], size[a]}, {data[b], size[b]}) && (!dup || std::string_view(data[a], size[a]) < smallest)) {
            smallest = std::string_view(data[a], size[a]);
            dup = true;
          }
      if (dup) record_duplicate(smallest);
    }
    for (size_t c = 0; c < children && ok_; ++c) {
      path_[path_size_++] = {data[child_key[c]], size[child_key[c]]};
      walk(child[c], depth + 1);
      --path_size_;
    }
  }

  // a == b, with length and first byte compared before the bytes: the keys of one object
  // (name, type, data) mostly have equal lengths and differ in their first byte.
  static bool same_key(std::string_view a, std::string_view b) {
    return a.size() == b.size() && (a.empty() || (a[0] == b[0] && std::memcmp(a.data(), b.data(), a.size()) == 0));
  }

  // An object of more than kSmall members: its keys sorted in keys_.
  void check_large_object(size_t open, size_t close) {
    keys_.clear();
    for (size_t j = open + 1; j < close; j = next(j + 1)) keys_.push_back(string_at(j));
    std::sort(keys_.begin(), keys_.end());
    auto it = std::adjacent_find(keys_.begin(), keys_.end());
    if (it != keys_.end()) record_duplicate(*it);
  }

  void record_duplicate(std::string_view key) {
    found_ = true;
    dup_key_ = key;
    for (size_t i = 0; i < path_size_; ++i) {
      const Step& s = path_[i];
      dup_pointer_ += "/" + (s.key ? pointer_token(std::string_view(s.key, s.value)) : std::to_string(s.value));
    }
    dup_pointer_ += "/" + pointer_token(dup_key_);
  }

  const uint64_t* tape_;
  const uint8_t* strings_;
  Step path_[kMaxDepth + 1];  // steps from the root to the value being walked (depth <= kMaxDepth)
  size_t path_size_ = 0;
  std::vector<std::string_view> keys_;  // scratch for objects of more than 16 members
  bool ok_ = true;
  bool found_ = false;
  std::string dup_pointer_;
  std::string_view dup_key_;
};

std::string depth_message(const std::string& text, size_t deep_at) {
  return "invalid JSON at byte offset " + std::to_string(deep_at) + " (" + line_col(text, deep_at) +
         "): nesting deeper than " + std::to_string(kMaxDepth) + " levels of arrays/objects";
}

// Duplicate keys and nesting depth, on simdjson's DOM of `text`: throws the Error parse() reports.
void check_structure(const simdjson::dom::document& dom, const std::string& text, const std::string& source) {
  StructureCheck check(dom);
  if (!check.run()) {
    size_t deep_at = 0;
    if (!too_deep(text, deep_at)) throw Error(ErrorKind::Internal, source, "nesting depth: the DOM and the text disagree");
    throw Error(ErrorKind::Input, source, depth_message(text, deep_at));
  }
  if (check.found())
    throw Error(ErrorKind::Input, source + ":" + check.duplicate_pointer(),
                "duplicate key " + safe_quote(check.duplicate_key()) + " in an object (JSON readers disagree on which value counts)");
}

// Whether a second thread can run beside this one: at least two CPUs in the affinity mask,
// and a Slurm allocation (SLURM_CPUS_PER_TASK), if any, of at least two.
bool may_use_two_cpus() {
  static const bool yes = [] {
    if (const char* s = std::getenv("SLURM_CPUS_PER_TASK"); s && std::atoi(s) < 2) return false;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set) >= 2;
    return std::thread::hardware_concurrency() >= 2;
  }();
  return yes;
}

}  // namespace

Document parse(std::string text, std::string source, CheckMode mode) {
  Document doc;
  doc.source_ = source;
  if (text.find_first_not_of(" \t\r\n") == std::string::npos)
    throw Error(ErrorKind::Input, source,
                text.empty() ? "empty file: no JSON value (0 bytes)"
                             : "no JSON value: the input is only whitespace (" + std::to_string(text.size()) + " bytes)");
  if (text.size() > kMaxDocumentBytes)
    throw Error(ErrorKind::Input, source,
                "JSON text of " + std::to_string(text.size()) + " bytes is larger than the limit of " +
                    std::to_string(kMaxDocumentBytes) + " bytes");
  doc.parser_ = take_parser();
  // simdjson's own depth limit (1024) is above kMaxDepth: the exact limit is checked below, on
  // the DOM, and on the error path by a scan of the text (which also gives the byte offset).
  static_assert(kMaxDepth < simdjson::DEFAULT_MAX_DEPTH, "simdjson must accept every depth up to kMaxDepth");
  auto err = doc.parser_->parse(text).get(doc.root_);
  if (err != simdjson::SUCCESS) {
    if (size_t deep_at = 0; too_deep(text, deep_at)) throw Error(ErrorKind::Input, source, depth_message(text, deep_at));
    SyntaxProblem p = SyntaxScanner(text).scan();
    if (!p.found)  // the strict scanner saw nothing wrong: report simdjson's reason
      throw Error(ErrorKind::Input, source, std::string("invalid JSON: ") + simdjson::error_message(err));
    const std::string where = p.offset >= text.size()
                                  ? "at end of input (byte offset " + std::to_string(text.size()) + ")"
                                  : "at byte offset " + std::to_string(p.offset) + " (" + line_col(text, p.offset) + ")";
    throw Error(ErrorKind::Input, p.pointer.empty() ? source : source + ":" + p.pointer,
                "invalid JSON " + where + ": " + p.message);
  }
  if (mode == CheckMode::Deferred && text.size() >= kDeferredCheckBytes && may_use_two_cpus()) {
    doc.pending_ = std::make_unique<PendingCheck>();
    PendingCheck& p = *doc.pending_;
    p.text = std::move(text);
    const simdjson::dom::document* dom = &doc.parser_->doc;
    try {
      p.thread = std::thread([&p, dom, src = doc.source_] {
        try {
          check_structure(*dom, p.text, src);
        } catch (...) {
          p.error = std::current_exception();
        }
      });
      return doc;
    } catch (const std::system_error&) {  // no thread to be had: check here
      text = std::move(p.text);
      doc.pending_.reset();
    }
  }
  check_structure(doc.parser_->doc, text, source);
  return_text_buffer(std::move(text));
  return doc;
}

std::string read_text(const std::string& path) {
  const std::string limit = std::to_string(kMaxDocumentBytes >> 20) + " MiB";
  const std::string name = path == "-" ? "<stdin>" : path;
  // POSIX calls, not stdio: open, fstat, read, close are the whole cost of reading a KB-sized
  // workspace (stdio's stat + buffered reads took ~3.5 µs more per file).
  int fd = STDIN_FILENO;
  if (path != "-") {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(ErrorKind::Io, path, std::string("cannot open file: ") + std::strerror(errno));
  }
  struct Closer {
    int fd;
    ~Closer() {
      if (fd != STDIN_FILENO) ::close(fd);
    }
  } closer{fd};
  struct stat st {};
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  if (fd != STDIN_FILENO && !regular && S_ISDIR(st.st_mode)) throw Error(ErrorKind::Io, path, "is a directory, not a JSON file");
  if (regular && static_cast<unsigned long long>(st.st_size) > kMaxDocumentBytes)
    throw Error(ErrorKind::Io, name, "file is larger than the " + limit + " limit for JSON input");
  std::string text = take_text_buffer();
  auto read_failed = [&]() { return Error(ErrorKind::Io, name, std::string("cannot read: ") + std::strerror(errno)); };
  if (regular && st.st_size > 0) {
    // A regular file: its size in one allocation, with the padding simdjson needs after the
    // text (neither the reading nor the parser copies it again), read until that size or EOF.
    const size_t size = static_cast<size_t>(st.st_size);
    text.reserve(size + simdjson::SIMDJSON_PADDING);
    text.resize(size);
    size_t have = 0;
    while (have < size) {
      const ssize_t got = ::read(fd, &text[have], size - have);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) throw read_failed();
      if (got == 0) break;  // the file shrank
      have += static_cast<size_t>(got);
    }
    text.resize(have);
    return text;
  }
  // A stream (stdin, a pipe, /dev/zero): chunks until EOF, up to the limit.
  char buf[1 << 16];
  while (true) {
    const ssize_t got = ::read(fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw read_failed();
    if (got == 0) break;
    if (text.size() + static_cast<size_t>(got) > kMaxDocumentBytes)
      throw Error(ErrorKind::Io, name, "input is larger than the " + limit + " limit for JSON input");
    text.append(buf, static_cast<size_t>(got));
  }
  return text;
}

Document parse_file(const std::string& path) {
  return parse(read_text(path), path == "-" ? "<stdin>" : path);
}

}  // namespace hs3fit::json
