// The interpreted tape evaluator: a forward sweep for −ln L, a reverse sweep for its exact
// gradient. Owns the arena and adjoint buffers; evaluation never allocates.
#pragma once
#include <vector>

#include "tape/tape.h"

namespace hs3fit::eval {

class Evaluator {
 public:
  explicit Evaluator(const tape::Tape& tape);

  // −ln L at the full parameter vector `params` (Tape::num_params values).
  double nll(const double* params);
  // −ln L and its gradient (written to `gradient`, num_params values).
  double nll_and_gradient(const double* params, double* gradient);

  // Expected yields of a channel after the last evaluation (tape.channels[i]).
  std::vector<double> channel_yields(size_t channel) const;
  const tape::Tape& tape() const { return tape_; }
  size_t num_params() const { return tape_.num_params; }

 private:
  void forward(const double* params);
  const tape::Tape& tape_;
  std::vector<double> x_;  // arena values
  std::vector<double> g_;  // arena adjoints
};

}  // namespace hs3fit::eval
