#include "tape/interpolation.h"

namespace hs3fit::interp {

double evaluate(model::Interp code, double t, double nom, double up, double down, double* derivative) {
  double c[8];
  fill_coefficients(code, nom, up, down, c);
  double d = 0, v = 0;
  switch (code) {
    case model::Interp::Code0: v = code0(t, c, d); break;
    case model::Interp::Code1: v = code1(t, c, d); break;
    case model::Interp::Code2: v = code2(t, c, d); break;
    case model::Interp::Code4: v = code4(t, c, d); break;
    case model::Interp::Code4p: v = code4p(t, c, d); break;
  }
  if (derivative) *derivative = d;
  return v;
}

}  // namespace hs3fit::interp
