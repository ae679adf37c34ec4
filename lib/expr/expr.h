// The HS3 expression language (generic_dist / generic_function, SPEC §6.3 superset), parsed ONCE
// into a small syntax tree. The tree is lowered onto the HS3 evaluation graph (hs3/graph.h),
// which evaluates it with derivatives; strings are never interpreted at evaluation time.
//
// Grammar (precedence low → high): ternary `c ? a : b` (right-assoc), `||`, `&&`,
// `== != === !==`, `< <= > >=`, `+ -`, `* /`, unary `- + !`, power `^` / `**` (right-assoc,
// -x^2 = -(x^2), 2^-1 allowed), postfix: numbers, PI, EULER, TRUE, FALSE, identifiers
// (`TMath::Exp` style prefixes allowed), calls `f(args)`, parentheses.
#pragma once
#include <memory>
#include <string>
#include <vector>

namespace hs3fit::expr {

enum class Kind { Number, Symbol, Unary, Binary, Call, Ternary };

struct Expr {
  Kind kind = Kind::Number;
  double value = 0;              // Number
  std::string name;              // Symbol name; Unary/Binary operator ("-", "!", "+", "**" → "^", "<=", ...); Call function (canonical)
  std::vector<Expr> args;        // operands / call arguments / (cond, then, else)
};

// Parse `text`; errors are hs3fit::Error(Input) at `pointer` naming the column and the problem.
Expr parse(const std::string& text, const std::string& pointer);

// Canonical function name for a call (`TMath::Exp` → "exp", `TMath::Power` → "pow", ...), or ""
// if the function is not supported. `arity` receives the number of arguments it takes.
std::string canonical_function(const std::string& name, int* arity);

// Every symbol (variable name) the expression references, in first-use order, without duplicates.
std::vector<std::string> symbols(const Expr& e);

}  // namespace hs3fit::expr
