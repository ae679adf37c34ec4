// SIMD kernels (Google Highway, dynamic dispatch: the best instruction set of the running CPU)
// for the per-event hot loops of the HS3 graph evaluator (graph.cpp): element-wise arithmetic,
// exp, log and the two-component log-sum-exp of a mixture, forward and adjoint. Lanes outside
// the range where Highway's exp/log are accurate (|x| > 700 for exp; non-positive, subnormal or
// non-finite input for log) are computed with <cmath>, so results match std:: to ≤ 2 ulp and
// NaN/inf propagate as in scalar code.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace hs3fit::hs3::simd {

// The instruction set the kernels run with ("AVX3", "AVX2", ...: Highway's name).
const char* target();
// Targets compiled in that this CPU runs, best first, lower case ("avx3", ..., "scalar": Highway's name for EMU128).
std::vector<std::string> targets();
// For tests: dispatch every Highway kernel of the process to this target ("" = the best again).
// Not thread-safe; false if the CPU lacks it.
bool force_target(const std::string& name);

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
// The fused per-event likelihood of a two-component mixture over observable columns (the
// signal-over-background shape of most unbinned fits): returns Σ_i w_i ln(c0 e^{l0(x0_i)} +
// c1 e^{l1(x1_i)}) (w null: all 1; zero weights contribute nothing), each l_k a Gaussian
// log-density −κ − ((x − μ)·s)² (p = μ, s, κ) or a linear one x·a − b (p = a, b). With grad (8
// doubles) adds Σ w_i ∂/∂(c0, c1, p[0][0..2], p[1][0..2]) — scalar parameters, so the adjoint is
// a reduction, with no per-event buffers.
enum class Comp : unsigned char { Gauss, Lin };
struct Mix2 {
  Comp kind[2] = {Comp::Gauss, Comp::Gauss};
  double c[2] = {0, 0};
  double p[2][3] = {{0, 0, 0}, {0, 0, 0}};
};
double mix2(const Mix2& m, const double* x0, const double* x1, const double* w, size_t n, double* grad);
// Σ w_i·x_i (w = null: Σ x_i)
double dot(const double* w, const double* x, size_t n);

}  // namespace hs3fit::hs3::simd
