// The minimizer's large-model machinery against its dense counterpart: the Hessian from a
// coloured (sparse) set of gradient differences equals the dense finite-difference Hessian,
// selected inversion gives the errors of the full inverse, the sparsity pattern from the tape is
// exact, and fits with the pattern land on the same minimum with the same errors.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "eval/evaluator.h"
#include "fit/minimizer.h"
#include "tape/compiler.h"
#include "test_scaling_support.h"

namespace {
struct Setup {
  hs3fit::model::Model model;
  hs3fit::tape::Tape tape;
  std::unique_ptr<hs3fit::eval::Evaluator> ev;
  hs3fit::fit::Objective objective() const {
    hs3fit::eval::Evaluator* e = ev.get();
    return [e](const double* x, double* g) { return g ? e->nll_and_gradient(x, g) : e->nll(x); };
  }
};
std::unique_ptr<Setup> setup(const hs3test::GeneratedSize& z) {
  auto s = std::make_unique<Setup>();
  s->model = hs3test::generated_model(z);
  s->tape = hs3fit::tape::compile(s->model);
  s->ev = std::make_unique<hs3fit::eval::Evaluator>(s->tape);
  return s;
}
}  // namespace

TEST_CASE("parameter_coupling lists exactly the parameters that share a bin", "[scaling]") {
  hs3test::GeneratedSize z;
  z.channels = 3;
  z.bins = 2;
  z.global_nps = 1;
  z.local_nps_per_channel = 1;
  auto s = setup(z);
  const auto rows = s->tape.parameter_coupling();
  const auto& m = s->model;
  REQUIRE(rows.size() == m.parameters.size());
  // Expected: parameters affecting a common bin (any sample of it); constrained ones with themselves.
  for (size_t i = 0; i < m.parameters.size(); ++i) {
    std::vector<uint32_t> expect;
    for (const auto& ch : m.channels)
      for (size_t b = 0; b < ch.nbins(); ++b) {
        std::vector<uint32_t> in_bin;
        for (const auto& smp : ch.samples)
          for (const auto& mod : smp.modifiers)
            in_bin.push_back(mod.per_bin() ? static_cast<uint32_t>(mod.bin_params[b]) : mod.param);
        if (std::find(in_bin.begin(), in_bin.end(), i) != in_bin.end()) expect.insert(expect.end(), in_bin.begin(), in_bin.end());
      }
    for (const auto& c : m.constraints)
      if (c.param == i) expect.push_back(static_cast<uint32_t>(i));
    std::sort(expect.begin(), expect.end());
    expect.erase(std::unique(expect.begin(), expect.end()), expect.end());
    INFO("parameter " << m.parameters[i].name);
    CHECK(rows[i] == expect);
  }
}

TEST_CASE("the coloured sparse Hessian gives HESSE's dense result with far fewer gradients", "[scaling]") {
  hs3test::GeneratedSize z;
  z.channels = 30;
  z.bins = 4;
  auto s = setup(z);
  const auto& m = s->model;
  hs3fit::fit::FitOptions dense, sparse;
  sparse.hessian_structure = s->tape.parameter_coupling();
  const std::vector<double> x = m.initial_values();
  int calls_dense = 0, calls_sparse = 0;
  hs3fit::fit::Objective f = s->objective();
  auto counted = [&](int& calls) {
    return hs3fit::fit::Objective([&f, &calls](const double* y, double* g) { ++calls; return f(y, g); });
  };
  const auto hd = hs3fit::fit::hesse(counted(calls_dense), m.parameters, x, dense);
  const auto hs = hs3fit::fit::hesse(counted(calls_sparse), m.parameters, x, sparse);
  REQUIRE(hd.valid);
  REQUIRE(hs.valid);
  CHECK(calls_sparse * 4 < calls_dense);
  const auto n = static_cast<Eigen::Index>(hd.free.size());
  REQUIRE(hs.covariance.rows() == n);
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < n; ++j)
      CHECK(hs.covariance(i, j) == Approx(hd.covariance(i, j)).epsilon(1e-6).margin(1e-9 * std::sqrt(hd.covariance(i, i) * hd.covariance(j, j))));
}

TEST_CASE("selected inversion gives the errors of the full inverse", "[scaling]") {
  hs3test::GeneratedSize z;
  z.channels = 40;
  z.bins = 3;
  auto s = setup(z);
  hs3fit::fit::FitOptions full, diagonal;
  full.hessian_structure = diagonal.hessian_structure = s->tape.parameter_coupling();
  diagonal.max_covariance_parameters = 0;
  const std::vector<double> x = s->model.initial_values();
  const auto a = hs3fit::fit::hesse(s->objective(), s->model.parameters, x, full);
  const auto b = hs3fit::fit::hesse(s->objective(), s->model.parameters, x, diagonal);
  REQUIRE(a.valid);
  REQUIRE(b.valid);
  CHECK(b.covariance.size() == 0);
  for (size_t i = 0; i < a.errors.size(); ++i) CHECK(b.errors[i] == Approx(a.errors[i]).epsilon(1e-9));
}

TEST_CASE("fits with the Hessian's sparsity pattern find the dense fit's minimum and errors", "[scaling]") {
  hs3test::GeneratedSize z;
  z.channels = 40;
  z.bins = 3;
  auto s = setup(z);
  hs3fit::fit::FitOptions dense, sparse;
  sparse.hessian_structure = s->tape.parameter_coupling();
  const auto rd = hs3fit::fit::minimize(s->objective(), s->model.parameters, dense);
  const auto rs = hs3fit::fit::minimize(s->objective(), s->model.parameters, sparse);
  REQUIRE(rd.converged);
  REQUIRE(rs.converged);
  CHECK(rs.hessian_colors * 4 < static_cast<int>(rs.free.size()));
  CHECK(std::fabs(rs.nll - rd.nll) <= 1e-9 * std::max(1.0, std::fabs(rd.nll)));
  for (size_t i = 0; i < rd.values.size(); ++i) {
    INFO("parameter " << s->model.parameters[i].name);
    CHECK(std::fabs(rs.values[i] - rd.values[i]) <= 1e-3 * rd.errors[i]);
    CHECK(rs.errors[i] == Approx(rd.errors[i]).epsilon(1e-5));
  }
}

TEST_CASE("without a sparsity pattern, models above max_dense_parameters are judged by a Hessian-free EDM", "[scaling]") {
  hs3test::GeneratedSize z;
  z.channels = 20;
  z.bins = 3;
  auto s = setup(z);
  hs3fit::fit::FitOptions dense, hessian_free;
  hessian_free.max_dense_parameters = 10;
  const auto rd = hs3fit::fit::minimize(s->objective(), s->model.parameters, dense);
  const auto rh = hs3fit::fit::minimize(s->objective(), s->model.parameters, hessian_free);
  REQUIRE(rd.converged);
  CHECK(rh.converged);
  CHECK(rh.edm < rh.edm_goal);
  CHECK(std::fabs(rh.nll - rd.nll) <= 1e-7);
  CHECK_FALSE(rh.covariance_valid);
}
