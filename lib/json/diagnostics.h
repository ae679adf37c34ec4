// Collecting input problems instead of stopping at the first one.
//
// The readers (pyhf workspace, patchset) report every problem to an ErrorCollector. In the
// normal load path the collector is in fail-fast mode: the first problem is thrown as an
// hs3fit::Error at once, so behaviour and cost are those of a plain throwing reader. `hs3fit
// validate` uses collect-all mode: each problem is recorded, the reader skips the broken part
// (a channel, a sample, a modifier, a measurement entry) and goes on with the rest, and checks
// that depend on a broken part are not run (no cascades of follow-up errors).
#pragma once
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"

namespace hs3fit::json {

class ErrorCollector {
 public:
  enum class Mode { FailFast, CollectAll };
  // At most `limit` problems are stored in collect-all mode; later ones are only counted.
  explicit ErrorCollector(Mode mode = Mode::FailFast, size_t limit = 200) : mode_(mode), limit_(limit) {}

  bool collecting() const { return mode_ == Mode::CollectAll; }

  // Record a problem (fail-fast: throw it).
  void add(const Error& e) {
    if (mode_ == Mode::FailFast) throw e;
    ++count_;
    if (problems_.size() < limit_) problems_.push_back(e);
  }
  void add(const std::string& pointer, const std::string& message) {
    add(Error(ErrorKind::Input, pointer.empty() ? std::string("/") : pointer, message));
  }

  // Run one reading step; an input problem it throws is recorded and false returned, so that
  // the caller can skip whatever depended on the step. Internal errors propagate.
  template <class Step>
  bool check(Step&& step) {
    try {
      step();
      return true;
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::Internal) throw;
      add(e);
      return false;
    }
  }

  bool empty() const { return count_ == 0; }
  size_t count() const { return count_; }                     // all problems seen
  const std::vector<Error>& problems() const { return problems_; }  // the first `limit`

 private:
  Mode mode_;
  size_t limit_;
  size_t count_ = 0;
  std::vector<Error> problems_;
};

}  // namespace hs3fit::json
