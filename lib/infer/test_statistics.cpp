#include "infer/test_statistics.h"

#include <algorithm>

#include "core/error.h"

namespace hs3fit::infer {

TestStat parse_test_stat(const std::string& name, const std::string& option) {
  if (name == "q0") return TestStat::Q0;
  if (name == "q" || name == "qmu") return TestStat::Qmu;
  if (name == "qtilde" || name == "qmu_tilde") return TestStat::QmuTilde;
  if (name == "t" || name == "tmu") return TestStat::Tmu;
  if (name == "ttilde" || name == "tmu_tilde") return TestStat::TmuTilde;
  throw Error(ErrorKind::Usage, option, "unknown test statistic '" + name + "' (expected qtilde, q, q0, t or ttilde)");
}

const char* to_string(TestStat ts) {
  switch (ts) {
    case TestStat::Q0: return "q0";
    case TestStat::Qmu: return "q";
    case TestStat::QmuTilde: return "qtilde";
    case TestStat::Tmu: return "t";
    case TestStat::TmuTilde: return "ttilde";
  }
  return "?";
}

bool is_tilde(TestStat ts) { return ts == TestStat::QmuTilde || ts == TestStat::TmuTilde; }

double test_statistic(TestStat ts, double mu, double nll_conditional, double nll_free, double poi_hat) {
  const double t = std::max(2.0 * (nll_conditional - nll_free), 0.0);
  switch (ts) {
    case TestStat::Tmu:
    case TestStat::TmuTilde: return t;
    case TestStat::Qmu:
    case TestStat::QmuTilde: return poi_hat > mu ? 0.0 : t;
    case TestStat::Q0: return poi_hat < 0 ? 0.0 : t;
  }
  return t;
}

}  // namespace hs3fit::infer
