// Expected yields per channel, sample and bin at a parameter point, computed directly from the
// Model (not through the tape): for yield tables (pre-/post-fit) and as an independent
// cross-check of the compiled tape in tests.
#pragma once
#include <string>
#include <vector>

#include "model/model.h"

namespace hs3fit::model {

struct SampleYields {
  std::string name;
  std::vector<double> bins;
  double total = 0;
};

struct ChannelYields {
  std::string name;
  std::vector<SampleYields> samples;
  std::vector<double> expected;  // Σ samples, per bin
  std::vector<double> observed;
  double expected_total = 0, observed_total = 0;
};

std::vector<ChannelYields> expected_yields(const Model& model, const std::vector<double>& params);

}  // namespace hs3fit::model
