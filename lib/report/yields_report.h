// Yield tables: expected events per channel and sample (pre-fit and/or post-fit) and observed.
#pragma once
#include <string>
#include <vector>

#include "model/yields.h"

namespace hs3fit::report {

// `postfit` may be empty (pre-fit table only).
std::string yields_table(const std::vector<model::ChannelYields>& prefit, const std::vector<model::ChannelYields>& postfit);
std::string yields_json(const std::vector<model::ChannelYields>& prefit, const std::vector<model::ChannelYields>& postfit);

}  // namespace hs3fit::report
