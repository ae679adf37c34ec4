// hs3fit::Error — the one exception type of the engine. It carries where the problem is
// (a JSON pointer such as /channels/0/samples/2/data, or a CLI option) and what was expected.
// app/ turns it into a one-line message on stderr and an exit code; numeric kernels never throw.
#pragma once
#include <stdexcept>
#include <string>

namespace hs3fit {

enum class ErrorKind {
  Input,   // malformed or inconsistent workspace, patch or option (exit code 2)
  Usage,   // bad command line (exit code 2)
  Io,      // file not found / unreadable (exit code 2)
  Internal // a bug in hs3fit (exit code 3)
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string where, std::string what);
  ErrorKind kind() const { return kind_; }
  // JSON pointer, file name or option the error is about (may be empty).
  const std::string& where() const { return where_; }
  const std::string& message() const { return message_; }

 private:
  ErrorKind kind_;
  std::string where_;
  std::string message_;
};

// Shorthand for the common case: bad input at a JSON pointer.
[[noreturn]] void throw_input_error(const std::string& pointer, const std::string& what);

// Escape a key for use inside a JSON pointer (RFC 6901: ~ -> ~0, / -> ~1).
std::string json_pointer_escape(const std::string& key);

}  // namespace hs3fit
