// A streaming JSON writer for results (stdout). Non-finite numbers are written as null,
// doubles with the shortest representation that round-trips.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace hs3fit::json {

class Writer {
 public:
  explicit Writer(int indent = 2) : indent_(indent) {}

  Writer& begin_object();
  Writer& end_object();
  Writer& begin_array();
  Writer& end_array();
  Writer& key(std::string_view k);
  Writer& value(double v);
  Writer& value(long long v);
  Writer& value(int v) { return value(static_cast<long long>(v)); }
  Writer& value(size_t v) { return value(static_cast<long long>(v)); }
  Writer& value(bool v);
  Writer& value(std::string_view v);
  Writer& value(const char* v) { return value(std::string_view(v)); }
  Writer& null();
  // Arrays written on one line (numbers, matrix rows).
  Writer& numbers(const std::vector<double>& values);
  Writer& strings(const std::vector<std::string>& values);

  const std::string& str() const { return out_; }

 private:
  void before_value();
  void newline();
  std::string out_;
  int indent_;
  struct Level { bool is_object; bool empty; bool inline_array; };
  std::vector<Level> stack_;
  bool after_key_ = false;
};

std::string quote(std::string_view s);
std::string format_number(double v);  // shortest round-trip, "null" if not finite
void append_number(std::string& out, double v);  // the same, appended

}  // namespace hs3fit::json
