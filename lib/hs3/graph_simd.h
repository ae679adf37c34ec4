// SIMD kernels (Google Highway, dynamic dispatch: the best instruction set of the running CPU)
// for the per-event hot loops of the HS3 graph evaluator (graph.cpp): element-wise arithmetic,
// exp, log and the two-component log-sum-exp of a mixture, forward and adjoint. Lanes outside
// the range where Highway's exp/log are accurate (|x| > 700 for exp; non-positive, subnormal or
// non-finite input for log) are computed with <cmath>, so results match std:: to ≤ 2 ulp and
// NaN/inf propagate as in scalar code.
#pragma once
#include <cstddef>

namespace hs3fit::hs3::simd {

// The instruction set the kernels run with ("AVX3", "AVX2", ...: Highway's name).
const char* target();

enum class Binary { Add, Sub, Mul, Div };

void binary(Binary op, const double* a, const double* b, double* out, size_t n);
void exp(const double* a, double* out, size_t n);
void log(const double* a, double* out, size_t n);
// out = ln(c0·e^{l0} + c1·e^{l1}); e0, e1 (unless null) receive e^{l_i − out} (for the adjoint).
void logmix2(const double* c0, const double* c1, const double* l0, const double* l1, double* out, double* e0, double* e1, size_t n);
// Adjoint of logmix2: gc_i += g·e_i, gl_i += g·c_i·e_i.
void logmix2_adjoint(const double* c0, const double* c1, const double* e0, const double* e1, const double* g,
                     double* gc0, double* gc1, double* gl0, double* gl1, size_t n);
// Adjoints of a·b and a/b (v = a/b): ga += g·b, gb += g·a; ga += g/b, gb −= g·v/b.
void mul_adjoint(const double* a, const double* b, const double* g, double* ga, double* gb, size_t n);
void div_adjoint(const double* b, const double* v, const double* g, double* ga, double* gb, size_t n);
// Fused log-densities: out = −k − ((x − μ)·s)² and out = x·a − b, with their adjoints
// (gx may be null: an observable needs none; g = 0 lanes contribute nothing).
void gauss_log(const double* x, const double* mu, const double* s, const double* k, double* out, size_t n);
void gauss_log_adjoint(const double* x, const double* mu, const double* s, const double* g, double* gx, double* gmu, double* gs, double* gk, size_t n);
void lin_log(const double* x, const double* a, const double* b, double* out, size_t n);
void lin_log_adjoint(const double* x, const double* a, const double* g, double* gx, double* ga, double* gb, size_t n);
// Σ w_i·x_i (w = null: Σ x_i)
double dot(const double* w, const double* x, size_t n);

}  // namespace hs3fit::hs3::simd
