// Lowering of a Model to the instruction tape.
#pragma once
#include "model/model.h"
#include "tape/tape.h"

namespace hs3fit::tape {

// Compile the negative log-likelihood −ln L(θ) of `model` (main Poisson terms of every channel
// plus every constraint term, with full normalisation constants as pyhf).
// Parameter-independent work is done here once: interpolation coefficients, lnΓ(n+1) sums,
// constant normalisation terms, and modifier-free samples stay constant slots.
Tape compile(const model::Model& model);

}  // namespace hs3fit::tape
