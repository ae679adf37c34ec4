// JSON Patch (RFC 6902) against the examples of RFC 6902 Appendix A, plus the failure modes
// bad patches must hit: one Error at the op's pointer, no crash, no unbounded growth.
#include <catch2/catch.hpp>

#include <string>

#include "core/error.h"
#include "json/json_reader.h"
#include "json/json_tree.h"

using hs3fit::Error;
namespace json = hs3fit::json;

namespace {

// Apply `patch` to `doc` (JSON texts) and return the result in canonical form.
std::string patched(const std::string& doc, const std::string& patch) {
  json::Document d = json::parse(doc, "doc");
  json::Document p = json::parse(patch, "patch");
  json::Value tree = json::to_tree(d.root());
  json::apply_json_patch(tree, p.root());
  return json::serialize(tree);
}

std::string canonical(const std::string& text) {
  json::Document d = json::parse(text, "expected");
  return json::serialize(json::to_tree(d.root()));
}

Error patch_error(const std::string& doc, const std::string& patch) {
  try {
    patched(doc, patch);
  } catch (const Error& e) {
    return e;
  }
  FAIL("patch applied without error: " << patch);
  throw;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("JSON Patch reproduces RFC 6902 Appendix A", "[json][patch]") {
  struct Example { const char* section; std::string doc, patch, result; };
  const std::vector<Example> examples = {
      {"A.1", R"({"foo": "bar"})", R"([{"op": "add", "path": "/baz", "value": "qux"}])", R"({"foo": "bar", "baz": "qux"})"},
      {"A.2", R"({"foo": ["bar", "baz"]})", R"([{"op": "add", "path": "/foo/1", "value": "qux"}])", R"({"foo": ["bar", "qux", "baz"]})"},
      {"A.3", R"({"baz": "qux", "foo": "bar"})", R"([{"op": "remove", "path": "/baz"}])", R"({"foo": "bar"})"},
      {"A.4", R"({"foo": ["bar", "qux", "baz"]})", R"([{"op": "remove", "path": "/foo/1"}])", R"({"foo": ["bar", "baz"]})"},
      {"A.5", R"({"baz": "qux", "foo": "bar"})", R"([{"op": "replace", "path": "/baz", "value": "boo"}])", R"({"baz": "boo", "foo": "bar"})"},
      {"A.6", R"({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}})",
       R"([{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}])",
       R"({"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}})"},
      {"A.7", R"({"foo": ["all", "grass", "cows", "eat"]})", R"([{"op": "move", "from": "/foo/1", "path": "/foo/3"}])",
       R"({"foo": ["all", "cows", "eat", "grass"]})"},
      {"A.8", R"({"baz": "qux", "foo": ["a", 2, "c"]})",
       R"([{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}])",
       R"({"baz": "qux", "foo": ["a", 2, "c"]})"},
      {"A.10", R"({"foo": "bar"})", R"([{"op": "add", "path": "/child", "value": {"grandchild": {}}}])",
       R"({"foo": "bar", "child": {"grandchild": {}}})"},
      {"A.11", R"({"foo": "bar"})", R"([{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}])", R"({"foo": "bar", "baz": "qux"})"},
      {"A.14", R"({"/": 9, "~1": 10})", R"([{"op": "test", "path": "/~01", "value": 10}])", R"({"/": 9, "~1": 10})"},
      {"A.16", R"({"foo": ["bar"]})", R"([{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}])", R"({"foo": ["bar", ["abc", "def"]]})"},
      {"copy", R"({"a": {"b": 1}})", R"([{"op": "copy", "from": "/a", "path": "/a/c"}])", R"({"a": {"b": 1, "c": {"b": 1}}})"},
      {"root", R"({"a": 1})", R"([{"op": "replace", "path": "", "value": [1]}])", R"([1])"},
  };
  for (const Example& ex : examples) {
    INFO(ex.section);
    CHECK(patched(ex.doc, ex.patch) == canonical(ex.result));
  }
}

TEST_CASE("failing JSON Patch ops are errors at the op, as RFC 6902 Appendix A requires", "[json][patch]") {
  // A.9: a failed test; A.12: adding to a nonexistent target; A.13 (invalid op); A.15: a test
  // comparing a string with a number.
  const Error a9 = patch_error(R"({"baz": "qux"})", R"([{"op": "test", "path": "/baz", "value": "bar"}])");
  CHECK(a9.where() == "/0");
  CHECK(contains(a9.message(), "test failed"));
  const Error a12 = patch_error(R"({"foo": "bar"})", R"([{"op": "add", "path": "/baz/bat", "value": "qux"}])");
  CHECK(a12.where() == "/0");
  CHECK(contains(a12.message(), "'/baz' does not exist"));
  const Error a15 = patch_error(R"({"/": 9, "~1": 10})", R"([{"op": "test", "path": "/~01", "value": "10"}])");
  CHECK(contains(a15.message(), "test failed"));
  const Error a13 = patch_error(R"({})", R"([{"op": "add", "path": "/a", "value": 1}, {"op": "launch", "path": "/a"}])");
  CHECK(a13.where() == "/1/op");
}

TEST_CASE("array indices in patch paths are checked strictly", "[json][patch]") {
  const std::string doc = R"({"a": [1, 2]})";
  CHECK(contains(patch_error(doc, R"([{"op": "remove", "path": "/a/2"}])").message(), "out of range: '/a' has 2 elements"));
  CHECK(contains(patch_error(doc, R"([{"op": "remove", "path": "/a/01"}])").message(), "not an array index"));
  CHECK(contains(patch_error(doc, R"([{"op": "remove", "path": "/a/-"}])").message(), "not an array index"));
  CHECK(contains(patch_error(doc, R"([{"op": "remove", "path": "/a/99999999999999999999999999"}])").message(), "out of range"));
  CHECK(contains(patch_error(doc, R"([{"op": "add", "path": "/a/3", "value": 0}])").message(), "out of range"));
  CHECK(patched(doc, R"([{"op": "add", "path": "/a/2", "value": 3}])") == canonical(R"({"a": [1, 2, 3]})"));
  CHECK(contains(patch_error(doc, R"([{"op": "add", "path": "a", "value": 0}])").message(), "must be empty or start with '/'"));
  CHECK(patch_error(doc, R"([{"op": "add", "path": "a", "value": 0}])").where() == "/0/path");
  CHECK(contains(patch_error(doc, R"([{"op": "add", "path": "/a~", "value": 0}])").message(), "'~' must be followed"));
}

TEST_CASE("move into its own child and removing the root are refused", "[json][patch]") {
  CHECK(contains(patch_error(R"({"a": {"b": 1}})", R"([{"op": "move", "from": "/a", "path": "/a/c"}])").message(), "own child"));
  CHECK(contains(patch_error(R"({"a": 1})", R"([{"op": "remove", "path": ""}])").message(), "whole document"));
}

TEST_CASE("replace keeps the member's position", "[json][patch]") {
  CHECK(patched(R"({"a": 1, "b": 2, "c": 3})", R"([{"op": "replace", "path": "/a", "value": 9}])") == R"({"a":9,"b":2,"c":3})");
}

TEST_CASE("a patch cannot grow a document without bound or nest it too deep", "[json][patch]") {
  std::string bomb = "[";
  for (int i = 0; i < 64; ++i) bomb += std::string(i ? "," : "") + R"({"op": "copy", "from": "", "path": "/x)" + std::to_string(i) + "\"}";
  bomb += "]";
  const Error grow = patch_error(R"({"data": [1, 2, 3, 4, 5, 6, 7, 8]})", bomb);
  CHECK(contains(grow.message(), "grow beyond"));
  std::string deep = "[";
  for (int i = 0; i < 300; ++i) deep += std::string(i ? "," : "") + R"({"op": "copy", "from": "/a", "path": "/a/a"})";
  deep += "]";
  CHECK(contains(patch_error(R"({"a": {}})", deep).message(), "deeper than 256"));
}

TEST_CASE("malformed patch documents report every op problem in collect mode", "[json][patch]") {
  json::Document p = json::parse(R"([{"op": "add", "path": "/a"}, 7, {"op": "copy", "path": "/b"}, {"path": "/c"}])", "p");
  json::ErrorCollector all(json::ErrorCollector::Mode::CollectAll);
  json::check_json_patch(p.root(), all);
  REQUIRE(all.count() == 4);
  CHECK(all.problems()[0].where() == "/0");
  CHECK(contains(all.problems()[0].message(), "'value'"));
  CHECK(all.problems()[1].where() == "/1");
  CHECK(contains(all.problems()[2].message(), "'from'"));
  CHECK(contains(all.problems()[3].message(), "'op'"));
}
