// Reading JSON with simdjson (DOM) while tracking the JSON pointer of every value, so that
// every error names the exact place (`/channels/0/samples/2/data: expected array of numbers`).
#pragma once
#include <cstring>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "json/diagnostics.h"

namespace hs3fit::json {

// Limits that keep bad input from costing unbounded time or memory.
inline constexpr size_t kMaxDepth = 256;                    // nesting of arrays/objects
inline constexpr size_t kMaxDocumentBytes = size_t(1) << 30;  // 1 GiB of JSON text

// A user-supplied string made safe for a one-line message: 'text' in single quotes, control
// characters escaped (\n, \u001b), cut to `max_bytes` (at a UTF-8 boundary) with "..." added.
std::string safe_quote(std::string_view text, size_t max_bytes = 80);

class Node {
 public:
  Node(simdjson::dom::element element, std::string pointer)
      : element_(element), base_(pointer.empty() ? nullptr : std::make_shared<const std::string>(std::move(pointer))) {}
  // Copies are cheap: a shared base (null for values under the root) and a fixed step array
  // (only the first num_steps_ steps are meaningful).
  Node(const Node& o) : element_(o.element_), base_(o.base_), num_steps_(o.num_steps_) { copy_steps(o); }
  Node(Node&& o) noexcept : element_(o.element_), base_(std::move(o.base_)), num_steps_(o.num_steps_) { copy_steps(o); }
  Node& operator=(const Node& o) {
    if (this != &o) {
      element_ = o.element_;
      base_ = o.base_;
      num_steps_ = o.num_steps_;
      copy_steps(o);
    }
    return *this;
  }
  Node& operator=(Node&& o) noexcept {
    element_ = o.element_;
    base_ = std::move(o.base_);
    num_steps_ = o.num_steps_;
    copy_steps(o);
    return *this;
  }
  ~Node() = default;

  // The JSON pointer of this value (RFC 6901, printable). Built on demand: a Node records the
  // path steps from its base as views into the document, so that reading a workspace builds
  // no pointer strings unless a message needs one.
  std::string pointer() const;
  simdjson::dom::element raw() const { return element_; }

  bool is_object() const { return element_.is_object(); }
  bool is_array() const { return element_.is_array(); }
  bool is_number() const { return element_.is_number(); }
  bool is_string() const { return element_.is_string(); }
  bool is_bool() const { return element_.is_bool(); }
  bool is_null() const { return element_.is_null(); }
  // "object", "array", "number", "string", "boolean", "null".
  std::string type_name() const;

  // Object access. `at` throws "missing required field" naming this node's pointer.
  Node at(std::string_view key) const;
  std::optional<Node> get(std::string_view key) const;
  std::vector<std::pair<std::string, Node>> members() const;
  // One pass over an object's members: found[i] is set to the member named keys[i] when there
  // is one. Returns false when some member's key is not in `keys` (then check_keys reports it).
  // Throws "expected object" like `at`. `found` has keys.size() entries.
  bool pick(std::initializer_list<std::string_view> keys, std::optional<Node>* found) const;
  // The required member picked into `found`, or the "missing required field" error of `at`.
  Node required(const std::optional<Node>& found, std::string_view key) const;

  // Array access.
  std::vector<Node> elements() const;
  // The Node of element `index` of this array, `element` being that element (read from raw()):
  // for readers that walk simdjson's array themselves and need a Node only for a message.
  Node element_node(simdjson::dom::element element, size_t index) const { return child(element, index); }
  size_t size() const;  // number of elements (array) or members (object)

  // Scalars; each throws "expected <type>, found <type>" at this node's pointer.
  double as_number() const;          // finite number
  std::string as_string() const;
  std::string_view as_string_view() const;  // valid while the document lives
  bool as_bool() const;
  std::vector<double> as_numbers() const;      // array of finite numbers
  std::vector<std::string> as_strings() const; // array of strings

  // Report every member whose key is not in `allowed` (pyhf's schemas forbid unknown keys; a
  // misspelt optional key would otherwise be ignored silently). `what` names this object in
  // the message ("histosys data"); a close allowed key is suggested ("did you mean 'lo_data'?").
  void check_keys(std::initializer_list<std::string_view> allowed, const char* what, ErrorCollector& problems) const;

  [[noreturn]] void fail(const std::string& what) const;

 private:
  // One reference token: an object key (a view into the document's string buffer) or an
  // array index (key == nullptr).
  struct Step {
    const char* key;
    size_t value;  // key length, or array index
  };
  static constexpr size_t kInlineSteps = 12;  // deeper paths fold into base_

  void copy_steps(const Node& o) { std::memcpy(steps_, o.steps_, sizeof steps_); }  // fixed size: a few moves
  Node child(simdjson::dom::element element, std::string_view key) const;
  Node child(simdjson::dom::element element, size_t index) const;
  Node with_step(simdjson::dom::element element, Step step) const;
  void expect(bool ok, const char* expected) const;

  simdjson::dom::element element_;
  std::shared_ptr<const std::string> base_;  // pointer of the first step's parent; null = "" (the root)
  size_t num_steps_ = 0;
  Step steps_[kInlineSteps];  // the first num_steps_ are set
};

// A parsed document; owns the buffer and the parser that Nodes point into.
struct PendingCheck;  // json_reader.cpp
enum class CheckMode { Now, Deferred };  // see parse()

class Document {
 public:
  Document() = default;
  // Returns its parser to a per-thread pool (parsers keep their buffers, so the next parse
  // of a document of up to the same size allocates nothing); see parse().
  ~Document();
  Document(Document&&) noexcept;
  Document& operator=(Document&& other) noexcept;
  Document(const Document&) = delete;
  Document& operator=(const Document&) = delete;

  Node root() const;
  const std::string& source() const { return source_; }
  // Waits for a deferred structure check (parse(..., CheckMode::Deferred)) and throws the error
  // it found (a duplicate key, too deep a nesting); returns at once for a document checked when
  // it was parsed. Idempotent.
  void check();

 private:
  friend Document parse(std::string text, std::string source, CheckMode mode);
  void wait() noexcept;  // joins a deferred check, keeping its result for check()
  std::string source_;
  std::unique_ptr<PendingCheck> pending_;
  std::unique_ptr<simdjson::dom::parser> parser_;
  simdjson::dom::element root_;
};

// Parse JSON text (RFC 8259, strict: no NaN/Infinity, no comments, no trailing commas, valid
// UTF-8, numbers that fit a double, no duplicate keys, at most kMaxDepth levels). `source`
// names the text in error messages (a file name or "<stdin>"). A syntax error is an
// Error(Input) whose where() is "SOURCE:/json/pointer" (the pointer of the value being read)
// or "SOURCE" before the first value, and whose message gives the byte offset and line:column.
//
// The structure check (duplicate keys, depth) walks the whole document once more after
// simdjson. CheckMode::Deferred runs it on a second thread, while the caller reads the DOM,
// when the document is large (≥ kDeferredCheckBytes) and the process may use two CPUs (its CPU
// affinity and SLURM_CPUS_PER_TASK allow it); the caller must then call Document::check()
// before it uses what it read or reports an error of its own (the check's error comes first:
// a reader's complaint about a document with duplicate keys is not the real problem).
inline constexpr size_t kDeferredCheckBytes = size_t(256) << 10;
Document parse(std::string text, std::string source, CheckMode mode = CheckMode::Now);

// Read a file ("-" reads standard input) and parse it.
Document parse_file(const std::string& path);

// Read a whole file into a string ("-" = stdin); throws Error(Io) when it cannot be read, is a
// directory, or is larger than kMaxDocumentBytes (a stream such as /dev/zero stops there).
std::string read_text(const std::string& path);

}  // namespace hs3fit::json
