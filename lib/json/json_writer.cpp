#include "json/json_writer.h"

#include <cmath>
#include <fmt/compile.h>
#include <fmt/format.h>

namespace hs3fit::json {

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) out += fmt::format("\\u{:04x}", c);
        else out += static_cast<char>(c);
    }
  }
  out += '"';
  return out;
}

std::string format_number(double v) {
  std::string out;
  append_number(out, v);
  return out;
}

// Shortest round-trip form (fmt's "{}"), with the format compiled: a fit's JSON writes
// thousands of numbers (its correlation matrix), and the runtime format parse and a string per
// number were ~1000 instructions each.
void append_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[40];  // the longest shortest-form double, "-2.2250738585072014e-308", is 24
  out.append(buf, fmt::format_to(buf, FMT_COMPILE("{}"), v));
}

void Writer::newline() {
  if (indent_ <= 0) return;
  out_ += '\n';
  out_.append(stack_.size() * static_cast<size_t>(indent_), ' ');
}

void Writer::before_value() {
  if (after_key_) { after_key_ = false; return; }
  if (stack_.empty()) return;
  Level& top = stack_.back();
  if (!top.empty) out_ += top.inline_array ? ", " : ",";
  if (!top.inline_array) newline();
  top.empty = false;
}

Writer& Writer::begin_object() {
  before_value();
  out_ += '{';
  stack_.push_back({true, true, false});
  return *this;
}

Writer& Writer::end_object() {
  bool empty = stack_.back().empty;
  stack_.pop_back();
  if (!empty) newline();
  out_ += '}';
  if (stack_.empty()) out_ += '\n';
  return *this;
}

Writer& Writer::begin_array() {
  before_value();
  out_ += '[';
  stack_.push_back({false, true, false});
  return *this;
}

Writer& Writer::end_array() {
  bool empty = stack_.back().empty;
  bool inl = stack_.back().inline_array;
  stack_.pop_back();
  if (!empty && !inl) newline();
  out_ += ']';
  return *this;
}

Writer& Writer::key(std::string_view k) {
  before_value();
  out_ += quote(k);
  out_ += indent_ > 0 ? ": " : ":";
  after_key_ = true;
  return *this;
}

Writer& Writer::value(double v) { before_value(); append_number(out_, v); return *this; }
Writer& Writer::value(long long v) { before_value(); out_ += fmt::format("{}", v); return *this; }
Writer& Writer::value(bool v) { before_value(); out_ += v ? "true" : "false"; return *this; }
Writer& Writer::value(std::string_view v) { before_value(); out_ += quote(v); return *this; }
Writer& Writer::null() { before_value(); out_ += "null"; return *this; }

Writer& Writer::numbers(const std::vector<double>& values) {
  before_value();
  out_ += '[';
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out_ += ", ";
    append_number(out_, values[i]);
  }
  out_ += ']';
  return *this;
}

Writer& Writer::strings(const std::vector<std::string>& values) {
  before_value();
  out_ += '[';
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out_ += ", ";
    out_ += quote(values[i]);
  }
  out_ += ']';
  return *this;
}

}  // namespace hs3fit::json
