// Lowering of a Model to the instruction tape.
#pragma once
#include <cstdint>

#include "model/model.h"
#include "tape/tape.h"

namespace hs3fit::tape {

struct CompileOptions {
  // Channels are grouped into shards of about this many bin·sample·modifier units (at most
  // max_shards); smaller models get one shard. A property of the model, never of the thread
  // count, so results are the same for any number of threads.
  uint64_t shard_units = 16384;
  uint32_t max_shards = 64;
};

// Compile the negative log-likelihood −ln L(θ) of `model` (main Poisson terms of every channel
// plus every constraint term, with full normalisation constants as pyhf).
// Parameter-independent work is done here once: interpolation coefficients, lnΓ(n+1) sums,
// constant normalisation terms; modifiers that are identically 1 (normsys with hi = lo = 1) or
// 0 (histosys bins with hi = lo = nominal) are pruned, identical normsys entries and identical
// per-sample factor lists are computed once, and yields that depend on no parameter are folded
// into per-bin constants. Each sample's chain (histosys deltas, scalar factors, per-bin factors)
// is fused into batched ops over the whole shard.
Tape compile(const model::Model& model);
Tape compile(const model::Model& model, const CompileOptions& options);

}  // namespace hs3fit::tape
