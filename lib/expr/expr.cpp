#include "expr/expr.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>

#include "core/error.h"

namespace hs3fit::expr {

namespace {

struct FunctionInfo {
  const char* canonical;
  int arity;
};

const std::map<std::string, FunctionInfo>& functions() {
  static const std::map<std::string, FunctionInfo> table = {
      {"exp", {"exp", 1}},     {"log", {"log", 1}},       {"ln", {"log", 1}},       {"sqrt", {"sqrt", 1}},
      {"abs", {"abs", 1}},     {"fabs", {"abs", 1}},      {"pow", {"pow", 2}},      {"min", {"min", 2}},
      {"max", {"max", 2}},     {"sin", {"sin", 1}},       {"cos", {"cos", 1}},      {"tan", {"tan", 1}},
      {"asin", {"asin", 1}},   {"acos", {"acos", 1}},     {"atan", {"atan", 1}},    {"atan2", {"atan2", 2}},
      {"sinh", {"sinh", 1}},   {"cosh", {"cosh", 1}},     {"tanh", {"tanh", 1}},    {"erf", {"erf", 1}},
      {"erfc", {"erfc", 1}},   {"floor", {"floor", 1}},   {"ceil", {"ceil", 1}},    {"log10", {"log10", 1}},
      {"exp2", {"exp2", 1}},   {"ifelse", {"ifelse", 3}}, {"lgamma", {"lgamma", 1}},
      // ROOT's TMath spellings (SPEC §6.2)
      {"TMath::Exp", {"exp", 1}},   {"TMath::Log", {"log", 1}},   {"TMath::Sqrt", {"sqrt", 1}},
      {"TMath::Abs", {"abs", 1}},   {"TMath::Power", {"pow", 2}}, {"TMath::Min", {"min", 2}},
      {"TMath::Max", {"max", 2}},   {"TMath::Sin", {"sin", 1}},   {"TMath::Cos", {"cos", 1}},
      {"TMath::Tan", {"tan", 1}},   {"TMath::ASin", {"asin", 1}}, {"TMath::ACos", {"acos", 1}},
      {"TMath::ATan", {"atan", 1}}, {"TMath::ATan2", {"atan2", 2}}, {"TMath::Erf", {"erf", 1}},
      {"TMath::Erfc", {"erfc", 1}}, {"TMath::Log10", {"log10", 1}}, {"TMath::SinH", {"sinh", 1}},
      {"TMath::CosH", {"cosh", 1}}, {"TMath::TanH", {"tanh", 1}}, {"TMath::Floor", {"floor", 1}},
      {"TMath::Ceil", {"ceil", 1}}, {"TMath::LnGamma", {"lgamma", 1}},
      {"TMath::Pi", {"pi", 0}},     {"TMath::E", {"euler", 0}},
      {"std::exp", {"exp", 1}},     {"std::log", {"log", 1}},     {"std::sqrt", {"sqrt", 1}},
      {"std::abs", {"abs", 1}},     {"std::pow", {"pow", 2}},
  };
  return table;
}

class Parser {
 public:
  Parser(const std::string& text, const std::string& pointer) : s_(text), ptr_(pointer) {}

  Expr parse_all() {
    Expr e = ternary();
    skip();
    if (i_ < s_.size()) fail("unexpected '" + std::string(1, s_[i_]) + "'");
    return e;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw_input_error(ptr_, "expression '" + s_ + "': " + what + " at column " + std::to_string(i_ + 1));
  }
  void skip() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  // Whether the text at i_ starts with `tok` (the first character compared first: most tries fail there).
  bool at(const char* tok) const {
    if (i_ >= s_.size() || s_[i_] != tok[0]) return false;
    const size_t n = std::char_traits<char>::length(tok);
    return s_.compare(i_, n, tok) == 0;
  }
  bool eat(const char* tok) {
    skip();
    if (!at(tok)) return false;
    i_ += std::char_traits<char>::length(tok);
    return true;
  }
  bool peek(const char* tok) {
    skip();
    return at(tok);
  }
  static Expr binary(const std::string& op, Expr a, Expr b) {
    Expr e;
    e.kind = Kind::Binary;
    e.name = op;
    e.args.push_back(std::move(a));
    e.args.push_back(std::move(b));
    return e;
  }

  Expr ternary() {
    Expr c = logical_or();
    if (eat("?")) {
      Expr a = ternary();
      if (!eat(":")) fail("expected ':' of a ternary");
      Expr b = ternary();
      Expr e;
      e.kind = Kind::Ternary;
      e.args = {std::move(c), std::move(a), std::move(b)};
      return e;
    }
    return c;
  }
  Expr logical_or() {
    Expr a = logical_and();
    while (eat("||")) a = binary("||", std::move(a), logical_and());
    return a;
  }
  Expr logical_and() {
    Expr a = equality();
    while (eat("&&")) a = binary("&&", std::move(a), equality());
    return a;
  }
  Expr equality() {
    Expr a = relational();
    for (;;) {
      if (eat("===")) a = binary("===", std::move(a), relational());
      else if (eat("!==")) a = binary("!==", std::move(a), relational());
      else if (eat("==")) a = binary("==", std::move(a), relational());
      else if (eat("!=")) a = binary("!=", std::move(a), relational());
      else return a;
    }
  }
  Expr relational() {
    Expr a = additive();
    for (;;) {
      if (eat("<=")) a = binary("<=", std::move(a), additive());
      else if (eat(">=")) a = binary(">=", std::move(a), additive());
      else if (eat("<")) a = binary("<", std::move(a), additive());
      else if (eat(">")) a = binary(">", std::move(a), additive());
      else return a;
    }
  }
  Expr additive() {
    Expr a = multiplicative();
    for (;;) {
      if (eat("+")) a = binary("+", std::move(a), multiplicative());
      else if (eat("-")) a = binary("-", std::move(a), multiplicative());
      else return a;
    }
  }
  Expr multiplicative() {
    Expr a = unary();
    for (;;) {
      if (peek("**")) return a;  // handled by power()
      if (eat("*")) a = binary("*", std::move(a), unary());
      else if (eat("/")) a = binary("/", std::move(a), unary());
      else return a;
    }
  }
  Expr unary() {
    skip();
    for (const char* op : {"-", "+", "!"}) {
      if (peek("!=")) break;
      if (eat(op)) {
        Expr e;
        e.kind = Kind::Unary;
        e.name = op;
        e.args.push_back(unary());
        return e;
      }
    }
    return power();
  }
  Expr power() {
    Expr base = postfix();
    if (eat("**") || eat("^")) return binary("^", std::move(base), unary());
    return base;
  }
  Expr postfix() {
    skip();
    if (i_ >= s_.size()) fail("unexpected end of expression");
    const char c = s_[i_];
    if (c == '(') {
      ++i_;
      Expr e = ternary();
      if (!eat(")")) fail("expected ')'");
      return e;
    }
    if (std::isdigit(static_cast<unsigned char>(c)) || (c == '.' && i_ + 1 < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_ + 1])))) {
      const char* begin = s_.c_str() + i_;
      char* end = nullptr;
      const double v = std::strtod(begin, &end);
      if (end == begin) fail("bad number");
      i_ += static_cast<size_t>(end - begin);
      Expr e;
      e.value = v;
      return e;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      std::string id = identifier();
      while (s_.compare(i_, 2, "::") == 0) {
        i_ += 2;
        if (i_ >= s_.size() || !(std::isalpha(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_')) fail("expected a name after '::'");
        id += "::" + identifier();
      }
      if (i_ < s_.size() && s_[i_] == '(') {  // a call: no space allowed before '(' (SPEC §6.1)
        ++i_;
        int arity = 0;
        std::string canon = canonical_function(id, &arity);
        if (canon.empty()) fail("unknown function '" + id + "'");
        Expr e;
        e.kind = Kind::Call;
        e.name = canon;
        if (!eat(")")) {
          do e.args.push_back(ternary());
          while (eat(","));
          if (!eat(")")) fail("expected ')' or ',' in the arguments of '" + id + "'");
        }
        if (static_cast<int>(e.args.size()) != arity)
          fail("'" + id + "' takes " + std::to_string(arity) + " argument(s), found " + std::to_string(e.args.size()));
        if (canon == "pi" || canon == "euler") {
          Expr n;
          n.value = canon == "pi" ? M_PI : M_E;
          return n;
        }
        return e;
      }
      Expr e;
      if (id == "PI") e.value = M_PI;
      else if (id == "EULER") e.value = M_E;
      else if (id == "TRUE" || id == "true") e.value = 1;
      else if (id == "FALSE" || id == "false") e.value = 0;
      else {
        e.kind = Kind::Symbol;
        e.name = id;
      }
      return e;
    }
    fail("unexpected '" + std::string(1, c) + "'");
  }
  std::string identifier() {
    size_t start = i_;
    while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_')) ++i_;
    return s_.substr(start, i_ - start);
  }

  const std::string& s_;
  const std::string& ptr_;
  size_t i_ = 0;
};

void collect(const Expr& e, std::vector<std::string>& out) {
  if (e.kind == Kind::Symbol) {
    for (const auto& s : out)
      if (s == e.name) return;
    out.push_back(e.name);
  }
  for (const Expr& a : e.args) collect(a, out);
}

}  // namespace

std::string canonical_function(const std::string& name, int* arity) {
  auto it = functions().find(name);
  if (it == functions().end()) return "";
  if (arity) *arity = it->second.arity;
  return it->second.canonical;
}

Expr parse(const std::string& text, const std::string& pointer) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) throw_input_error(pointer, "empty expression");
  return Parser(text, pointer).parse_all();
}

std::vector<std::string> symbols(const Expr& e) {
  std::vector<std::string> out;
  collect(e, out);
  return out;
}

}  // namespace hs3fit::expr
