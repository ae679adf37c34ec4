// The fast load path (lazy JSON pointers, one DOM walk for duplicate keys and depth) must name
// exactly the places the eager reader named.
#include <catch2/catch.hpp>

#include <optional>
#include <string>

#include "core/error.h"
#include "json/json_reader.h"
#include "test_support.h"
#include "workspace.h"

using hs3fit::Error;
using hs3fit::json::parse;

namespace {
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

Error parse_error(const std::string& text) {
  try {
    parse(text, "t.json");
  } catch (const Error& e) {
    return e;
  }
  FAIL("no error for " << text.substr(0, 80));
  throw;
}

// {"k0": {"k1": ... {"k<n-1>": LEAF} ... }} and the pointer of LEAF written out by hand.
std::string nested_objects(int n, const std::string& leaf, std::string& pointer) {
  std::string text;
  pointer.clear();
  for (int i = 0; i < n; ++i) {
    text += "{\"k" + std::to_string(i) + "\": ";
    pointer += "/k" + std::to_string(i);
  }
  text += leaf;
  text += std::string(static_cast<size_t>(n), '}');
  return text;
}
}  // namespace

TEST_CASE("pointers of deeply nested values are exact beyond the inline path steps", "[json]") {
  for (int depth : {1, 11, 12, 13, 25, 40}) {
    std::string expected;
    const std::string text = nested_objects(depth, "[0, [1, \"x\"]]", expected);
    auto doc = parse(text, "t.json");
    hs3fit::json::Node node = doc.root();
    for (int i = 0; i < depth; ++i) node = node.at("k" + std::to_string(i));  // the key strings die here
    INFO("depth " << depth);
    CHECK(node.pointer() == expected);
    const hs3fit::json::Node leaf = node.elements()[1].elements()[1];
    CHECK(leaf.pointer() == expected + "/1/1");
    try {
      leaf.as_number();
      FAIL("a string read as a number");
    } catch (const Error& e) {
      CHECK(e.where() == expected + "/1/1");
      CHECK(contains(e.message(), "expected number, found string"));
    }
  }
}

TEST_CASE("keys are escaped in lazily built pointers, members and array elements alike", "[json]") {
  auto doc = parse(R"({"a/b": [{"c~d": [1, 2, "x"]}], "e": {"f": 1}})", "t.json");
  const auto root = doc.root();
  const auto arr = root.at(std::string("a/b")).elements()[0].at("c~d");
  CHECK(arr.pointer() == "/a~1b/0/c~0d");
  try {
    arr.as_numbers();
    FAIL("a string read as a number");
  } catch (const Error& e) {
    CHECK(e.where() == "/a~1b/0/c~0d/2");
  }
  const auto members = root.members();
  REQUIRE(members.size() == 2);
  CHECK(members[1].second.at("f").pointer() == "/e/f");
  CHECK(root.get("missing") == std::nullopt);
  try {
    root.at("e").at("g");
    FAIL("missing key found");
  } catch (const Error& e) {
    CHECK(e.where() == "/e");
    CHECK(contains(e.message(), "missing required field 'g'"));
  }
}

TEST_CASE("too deep nesting takes precedence over an earlier duplicate key", "[json]") {
  // The duplicate comes first in the text, the nesting deeper than 256 levels after it: the
  // depth error is reported, at the byte offset of the first bracket beyond the limit.
  const std::string deep = std::string(hs3fit::json::kMaxDepth, '[') + std::string(hs3fit::json::kMaxDepth, ']');
  const std::string text = "[{\"k\": 1, \"k\": 2}, " + deep + "]";
  const Error e = parse_error(text);
  CHECK(contains(e.message(), "nesting deeper than 256"));
  CHECK(contains(e.message(), "byte offset " + std::to_string(text.find(deep) + hs3fit::json::kMaxDepth - 1)));
  // Without the extra level, the duplicate is what is wrong.
  const Error dup = parse_error("{\"k\": 1, \"k\": 2, \"d\": " + std::string(hs3fit::json::kMaxDepth - 1, '[') +
                                std::string(hs3fit::json::kMaxDepth - 1, ']') + "}");
  CHECK(dup.where() == "t.json:/k");
}

TEST_CASE("the first duplicate key is reported: document order, then the smallest key of an object", "[json]") {
  CHECK(parse_error(R"({"b": 1, "a": 1, "b": 2, "a": 2})").where() == "t.json:/a");
  CHECK(parse_error(R"({"x": {"q": 1, "q": 2}, "y": {"p": 1, "p": 2}})").where() == "t.json:/x/q");
  // An object larger than the pairwise-comparison limit.
  std::string big = "{";
  for (int i = 40; i > 0; --i) big += "\"m" + std::to_string(i) + "\": " + std::to_string(i) + ", ";
  big += "\"m7\": 0, \"m30\": 0}";
  CHECK(parse_error(big).where() == "t.json:/m30");
  CHECK(parse_error("[[], {\"o\": [{\"z\": 1, \"z\": 1}]}]").where() == "t.json:/1/o/0/z");
}

namespace {
// The error of parse(text, mode) followed by check(): the same wherever the check ran.
std::optional<Error> checked_error(const std::string& text, hs3fit::json::CheckMode mode) {
  try {
    auto doc = parse(text, "t.json", mode);
    (void)doc.root().is_array();  // a reader at work while the check may still run
    doc.check();
    doc.check();  // idempotent
  } catch (const Error& e) {
    return e;
  }
  return std::nullopt;
}

// A large array (beyond kDeferredCheckBytes) around `inner`: a deferred check runs on its thread.
std::string padded(const std::string& inner) {
  std::string pad;
  while (pad.size() < hs3fit::json::kDeferredCheckBytes) pad += "[0.125, 1e-3, \"s\", {\"a\": 1, \"b\": [2]}], ";
  return "[" + pad + inner + "]";
}
}  // namespace

TEST_CASE("a deferred structure check reports what the immediate one reports", "[json]") {
  using hs3fit::json::CheckMode;
  const std::string deep = std::string(hs3fit::json::kMaxDepth, '[') + std::string(hs3fit::json::kMaxDepth, ']');
  for (const std::string& inner : {std::string("{\"k\": 1}"), std::string("{\"x\": {\"q\": 1, \"q\": 2}}"), deep,
                                   "{\"k\": 1, \"k\": 2}, " + deep}) {
    const std::string text = padded(inner);
    INFO(inner.substr(0, 40));
    const auto now = checked_error(text, CheckMode::Now);
    const auto deferred = checked_error(text, CheckMode::Deferred);
    REQUIRE(now.has_value() == deferred.has_value());
    if (now) {
      CHECK(deferred->where() == now->where());
      CHECK(deferred->message() == now->message());
    }
  }
  CHECK(!checked_error(padded("1"), CheckMode::Deferred));
  CHECK(checked_error(padded("{\"x\": {\"q\": 1, \"q\": 2}}"), CheckMode::Deferred)->where().find("/q") != std::string::npos);
  // Moved documents carry their pending check along; a document dropped unchecked joins it.
  auto doc = parse(padded("{\"q\": 1, \"q\": 2}"), "t.json", CheckMode::Deferred);
  hs3fit::json::Document moved = std::move(doc);
  CHECK_THROWS_AS(moved.check(), Error);
  { auto dropped = parse(padded("{\"q\": 1, \"q\": 2}"), "t.json", CheckMode::Deferred); }
}

TEST_CASE("loading a large workspace: a duplicate key outranks the reader's own complaint", "[json]") {
  // A pyhf workspace with an unknown top-level key (the reader refuses it) that makes the file
  // larger than kDeferredCheckBytes, with and without a duplicate key in a sample.
  auto workspace = [](bool duplicate) {
    std::string pad;
    while (pad.size() < hs3fit::json::kDeferredCheckBytes) pad += "1.5, ";
    return std::string(R"({"channels": [{"name": "c", "samples": [{"name": "s", "data": [1.0],)") +
           (duplicate ? R"( "data": [2.0],)" : "") +
           R"( "modifiers": [{"name": "mu", "type": "normfactor", "data": null}]}]}],
        "observations": [{"name": "c", "data": [1.0]}],
        "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": []}}],
        "version": "1.0.0", "padding": [)" + pad + "0]}";
  };
  hs3test::TempFile plain(workspace(false)), dup(workspace(true));
  try {
    hs3fit::load_model(plain.path(), {});
    FAIL("the unknown key was accepted");
  } catch (const Error& e) {
    CHECK(e.where().find("/padding") != std::string::npos);
  }
  try {
    hs3fit::load_model(dup.path(), {});
    FAIL("the duplicate key was accepted");
  } catch (const Error& e) {
    CHECK(e.where().find("/channels/0/samples/0/data") != std::string::npos);
    CHECK(contains(e.message(), "duplicate key"));
  }
}

TEST_CASE("errors in a file given by absolute path name it once", "[json]") {
  hs3test::TempFile bad_json("{\"channels\": [1,]}"), bad_value(R"({"channels": 3, "observations": [], "measurements": [], "version": "1.0.0"})");
  REQUIRE(bad_json.path()[0] == '/');
  try {
    hs3fit::load_model(bad_json.path(), {});
    FAIL("invalid JSON accepted");
  } catch (const Error& e) {
    CHECK(e.where().rfind(bad_json.path(), 0) == 0);
    CHECK(e.where().find(bad_json.path() + ":" + bad_json.path()) == std::string::npos);
  }
  try {
    hs3fit::load_model(bad_value.path(), {});
    FAIL("channels: 3 accepted");
  } catch (const Error& e) {
    CHECK(e.where() == bad_value.path() + ":/channels");
  }
}
