#include "core/error.h"

namespace hs3fit {

namespace {
std::string compose(const std::string& where, const std::string& what) {
  return where.empty() ? what : where + ": " + what;
}
}  // namespace

Error::Error(ErrorKind kind, std::string where, std::string what)
    : std::runtime_error(compose(where, what)), kind_(kind), where_(std::move(where)),
      message_(std::move(what)) {}

void throw_input_error(const std::string& pointer, const std::string& what) {
  throw Error(ErrorKind::Input, pointer.empty() ? std::string("/") : pointer, what);
}

std::string json_pointer_escape(const std::string& key) {
  std::string out;
  out.reserve(key.size());
  for (char c : key) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

}  // namespace hs3fit
