#include "eval/evaluator.h"

#include <algorithm>

#include "eval/kernels.h"

namespace hs3fit::eval {

Evaluator::Evaluator(const tape::Tape& tape) : tape_(tape), x_(tape.arena_init), g_(tape.arena_size(), 0.0) {}

void Evaluator::forward(const double* params) {
  std::copy(params, params + tape_.num_params, x_.begin());
  const kernels::Ctx ctx{x_.data(), g_.data(), tape_.consts.data(), tape_.indices.data(), tape_.work_end};
  for (const tape::Instr& in : tape_.code) {
    switch (in.op) {
#define HS3FIT_FORWARD(name, doc) \
  case tape::Op::name: kernels::name::forward(in, ctx); break;
      HS3FIT_TAPE_OPS(HS3FIT_FORWARD)
#undef HS3FIT_FORWARD
    }
  }
}

double Evaluator::nll(const double* params) {
  forward(params);
  return x_[tape_.result];
}

double Evaluator::nll_and_gradient(const double* params, double* gradient) {
  forward(params);
  std::fill(g_.begin(), g_.begin() + tape_.work_end, 0.0);
  g_[tape_.result] = 1.0;
  const kernels::Ctx ctx{x_.data(), g_.data(), tape_.consts.data(), tape_.indices.data(), tape_.work_end};
  for (auto it = tape_.code.rbegin(); it != tape_.code.rend(); ++it) {
    switch (it->op) {
#define HS3FIT_ADJOINT(name, doc) \
  case tape::Op::name: kernels::name::adjoint(*it, ctx); break;
      HS3FIT_TAPE_OPS(HS3FIT_ADJOINT)
#undef HS3FIT_ADJOINT
    }
  }
  std::copy(g_.begin(), g_.begin() + tape_.num_params, gradient);
  return x_[tape_.result];
}

std::vector<double> Evaluator::channel_yields(size_t channel) const {
  const tape::ChannelInfo& c = tape_.channels.at(channel);
  return std::vector<double>(x_.begin() + c.yields, x_.begin() + c.yields + c.nbins);
}

}  // namespace hs3fit::eval
