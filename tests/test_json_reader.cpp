// lib/json reading: strict RFC 8259 syntax with the byte offset, line:column and JSON pointer
// of the first problem, duplicate keys, limits, and the helpers that keep messages one line.
#include <catch2/catch.hpp>

#include <string>

#include "core/error.h"
#include "json/diagnostics.h"
#include "json/json_reader.h"

using hs3fit::Error;
using hs3fit::json::parse;

namespace {

// The error of parsing `text` (source "t.json"); fails the test if it parses.
Error parse_error(const std::string& text) {
  try {
    parse(text, "t.json");
  } catch (const Error& e) {
    return e;
  }
  FAIL("parsed without error: " << text);
  throw;  // unreachable
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("valid JSON parses, including edge values RFC 8259 allows", "[json]") {
  const char* texts[] = {"0", "-0", "1e308", "-1.5E-3", "4.9e-324", "18446744073709551615", "-9223372036854775808",
                         "\"\\u00e9\\ud83d\\ude00\\n\\/\"", "[]", "{}", " [ 1 , { \"a\" : [ null , true , false ] } ] ",
                         "\"\xce\xbc\xf0\x9f\x98\x80\""};
  for (const char* t : texts) {
    INFO(t);
    CHECK_NOTHROW(parse(t, "t.json"));
  }
  auto doc = parse("{\"a\": [1.5, 2], \"b/c~d\": {\"x\": 3}}", "t.json");
  CHECK(doc.root().at("a").as_numbers() == std::vector<double>{1.5, 2});
  CHECK(doc.root().at("b/c~d").at("x").pointer() == "/b~1c~0d/x");  // RFC 6901 escaping
}

TEST_CASE("syntax errors give byte offset, line, column and the pointer of the value being read", "[json]") {
  struct Case {
    std::string text;
    size_t offset;
    std::string line_col, where, what;
  };
  const std::vector<Case> cases = {
      {"{\"a\": [1, 2,, 3]}", 12, "line 1, column 13", "t.json:/a/2", "expected a value, found ','"},
      {"{\"a\": [1, 2 3]}", 12, "line 1, column 13", "t.json:/a/1", "expected ',' or ']'"},
      {"{\"a\": 1,\n \"b\": NaN}", 15, "line 2, column 7", "t.json:/b", "NaN"},
      {"{\"a\": 1,\n \"b\": -Infinity}", 15, "line 2, column 7", "t.json:/b", "Infinity"},
      {"[1e999]", 1, "line 1, column 2", "t.json:/0", "out of range"},
      {"[-1e999]", 1, "line 1, column 2", "t.json:/0", "out of range"},
      {"[123456789012345678901234567890]", 1, "line 1, column 2", "t.json:/0", "64 bits"},
      {"[01]", 1, "line 1, column 2", "t.json:/0", "leading zeros"},
      {"[1.]", 1, "line 1, column 2", "t.json:/0", "after '.'"},
      {"[1e+]", 1, "line 1, column 2", "t.json:/0", "exponent"},
      {"{\"a\" 1}", 5, "line 1, column 6", "t.json:/a", "expected ':'"},
      {"{\"a\": 1,}", 8, "line 1, column 9", "t.json", "trailing comma"},
      {"[1,]", 3, "line 1, column 4", "t.json:/1", "trailing comma"},
      {"{'a': 1}", 1, "line 1, column 2", "t.json", "double quotes"},
      {"{\"a\": 'x'}", 6, "line 1, column 7", "t.json:/a", "double quotes"},
      {"{\"a\": \"x\\q\"}", 8, "line 1, column 9", "t.json:/a", "invalid escape"},
      {"{\"a\": \"\\u12\"}", 7, "line 1, column 8", "t.json:/a", "4 hexadecimal digits"},
      {"{\"a\": \"\\udc00\"}", 7, "line 1, column 8", "t.json:/a", "low surrogate"},
      {"{\"a\": \"\\ud800x\"}", 7, "line 1, column 8", "t.json:/a", "high surrogate"},
      {"{\"a\": \"x\ny\"}", 8, "line 1, column 9", "t.json:/a", "control character 0x0A"},
      {"{\"a\": \"\xc3\x28\"}", 7, "line 1, column 8", "t.json:/a", "invalid UTF-8 byte 0xC3"},
      {"{\"a\": \"\xf4\x90\x80\x80\"}", 7, "line 1, column 8", "t.json:/a", "invalid UTF-8"},   // > U+10FFFF
      {"{\"k\xff\": 1}", 3, "line 1, column 4", "t.json", "invalid UTF-8 byte 0xFF"},
      {"{\"a\": tru}", 6, "line 1, column 7", "t.json:/a", "unexpected word 'tru'"},
      {"{\"a\": 1} x", 9, "line 1, column 10", "t.json", "after the end of the JSON value"},
      {"{\"a\": /* c */ 1}", 6, "line 1, column 7", "t.json:/a", "comments"},
      {"[1, {\"b\": [true, \"x", 20, "", "t.json:/1/b/1", "not closed"},
      {"{", 1, "", "t.json", "1 unclosed object"},
      {"[[[", 3, "", "t.json:/0/0/0", "3 unclosed arrays"},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    const Error e = parse_error(c.text);
    CHECK(e.kind() == hs3fit::ErrorKind::Input);
    CHECK(e.where() == c.where);
    if (c.offset < c.text.size()) CHECK(contains(e.message(), "at byte offset " + std::to_string(c.offset) + " (" + c.line_col + ")"));
    else CHECK(contains(e.message(), "at end of input (byte offset " + std::to_string(c.text.size()) + ")"));
    CHECK(contains(e.message(), c.what));
  }
}

TEST_CASE("empty input, whitespace and excessive nesting are refused with a clear message", "[json]") {
  CHECK(contains(parse_error("").message(), "empty file"));
  CHECK(contains(parse_error(" \n\t").message(), "only whitespace"));
  const Error deep = parse_error(std::string(hs3fit::json::kMaxDepth + 1, '[') + std::string(hs3fit::json::kMaxDepth + 1, ']'));
  CHECK(contains(deep.message(), "nesting deeper than 256"));
  CHECK(contains(deep.message(), "byte offset 256"));
  CHECK_NOTHROW(parse(std::string(hs3fit::json::kMaxDepth, '[') + std::string(hs3fit::json::kMaxDepth, ']'), "t.json"));
  // Brackets inside strings do not count.
  CHECK_NOTHROW(parse("[\"" + std::string(1000, '[') + "\"]", "t.json"));
}

TEST_CASE("duplicate keys are an error at the duplicated member", "[json]") {
  const Error e = parse_error("{\"a\": {\"x\": 1, \"y\": [{\"k\": 1, \"k\": 2}]}}");
  CHECK(e.where() == "t.json:/a/y/0/k");
  CHECK(contains(e.message(), "duplicate key 'k'"));
  CHECK_NOTHROW(parse("[{\"k\": 1}, {\"k\": 2}]", "t.json"));  // same key in different objects
}

TEST_CASE("safe_quote escapes control characters and cuts long text at a UTF-8 boundary", "[json]") {
  using hs3fit::json::safe_quote;
  CHECK(safe_quote("abc") == "'abc'");
  CHECK(safe_quote("a\nb\tc") == "'a\\nb\\tc'");
  CHECK(safe_quote(std::string("\x1b[31m", 5)) == "'\\u001b[31m'");
  CHECK(safe_quote(std::string("x\0y", 3)) == "'x\\u0000y'");
  CHECK(safe_quote("\xc2\x85") == "'\\u0085'");          // C1 control (NEL)
  CHECK(safe_quote("\xce\xbc") == "'\xce\xbc'");         // μ stays
  CHECK(safe_quote("\xff") == "'\\xff'");                // not UTF-8
  CHECK(safe_quote(std::string(10, 'a') + "\xce\xbc", 11) == "'aaaaaaaaaa...'");
  CHECK(safe_quote(std::string(1000, 'a')).size() == 80 + 5);
}

TEST_CASE("check_keys reports unknown keys with a suggestion, every one in collect mode", "[json]") {
  auto doc = parse("{\"name\": \"x\", \"lo_dta\": [1], \"zzz\": 1}", "t.json");
  hs3fit::json::ErrorCollector all(hs3fit::json::ErrorCollector::Mode::CollectAll);
  doc.root().check_keys({"name", "hi_data", "lo_data"}, "histosys data", all);
  REQUIRE(all.count() == 2);
  CHECK(all.problems()[0].where() == "/lo_dta");
  CHECK(contains(all.problems()[0].message(), "did you mean 'lo_data'?"));
  CHECK(all.problems()[1].where() == "/zzz");
  CHECK(contains(all.problems()[1].message(), "allowed: name, hi_data, lo_data"));
  hs3fit::json::ErrorCollector first;
  CHECK_THROWS_AS(doc.root().check_keys({"name"}, "x", first), Error);
}

TEST_CASE("pointers of keys with control characters stay printable", "[json]") {
  auto doc = parse("{\"a\\nb\": {\"c\": 1}}", "t.json");
  const auto members = doc.root().members();
  REQUIRE(members.size() == 1);
  CHECK(members[0].second.pointer() == "/a\\nb");
  CHECK(members[0].second.at("c").pointer() == "/a\\nb/c");
}

TEST_CASE("read_text refuses directories and missing files with an Io error", "[json]") {
  try {
    hs3fit::json::read_text("/");
    FAIL("read a directory");
  } catch (const Error& e) {
    CHECK(e.kind() == hs3fit::ErrorKind::Io);
    CHECK(contains(e.message(), "directory"));
  }
  CHECK_THROWS_AS(hs3fit::json::read_text("/nonexistent/file.json"), Error);
  CHECK(hs3fit::json::read_text("/dev/null").empty());
}
