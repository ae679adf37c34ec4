// What every fuzz target checks on top of the sanitizers: an input problem is an
// hs3fit::Error of an input kind whose message is one printable line of bounded size, and the
// collect-all reader agrees with the fail-fast one (same first problem, no problem ⇔ no throw).
#pragma once
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "core/error.h"
#include "eval/evaluator.h"
#include "json/diagnostics.h"
#include "json/json_reader.h"
#include "model/histfactory_builder.h"
#include "pyhf/pyhf_spec.h"
#include "tape/compiler.h"

namespace hs3fit::fuzz {

[[noreturn]] inline void violated(const char* what, const std::string& detail) {
  std::fprintf(stderr, "INVARIANT VIOLATED: %s\n%s\n", what, detail.substr(0, 4000).c_str());
  std::abort();
}

inline void check_error(const Error& e) {
  if (e.kind() == ErrorKind::Internal) violated("internal error on input", e.what());
  const std::string msg = e.what();
  if (msg.size() > 65536) violated("error message longer than 64 KiB", msg);
  for (unsigned char c : msg)
    if (c < 0x20 || c == 0x7f) violated("control character in an error message", msg);
}

// Read a pyhf workspace both ways, then build, compile and evaluate it.
inline void workspace_pipeline(const json::Node& root) {
  if (!pyhf::looks_like_pyhf(root)) return;
  json::ErrorCollector all(json::ErrorCollector::Mode::CollectAll, 100000);
  pyhf::read_workspace(root, all);
  for (const Error& e : all.problems()) check_error(e);
  pyhf::Workspace ws;
  try {
    ws = pyhf::read_workspace(root);
  } catch (const Error& e) {
    check_error(e);
    if (all.empty()) violated("fail-fast reader threw, collect-all found nothing", e.what());
    if (std::string(all.problems().front().what()) != e.what())
      violated("fail-fast and collect-all disagree on the first problem", std::string(e.what()) + "\n" + all.problems().front().what());
    return;
  }
  if (!all.empty()) violated("collect-all found problems, fail-fast did not", all.problems().front().what());
  json::ErrorCollector selected(json::ErrorCollector::Mode::CollectAll);
  pyhf::check_measurement(ws, ws.measurements.front(), std::nullopt, selected);
  for (const Error& e : selected.problems()) check_error(e);
  model::Model m;
  try {
    m = model::build_from_pyhf(ws);
  } catch (const Error& e) {
    check_error(e);
    return;
  }
  if (!selected.empty()) violated("check_measurement found a problem the builder accepted", selected.problems().front().what());
  tape::Tape tape = tape::compile(m);
  eval::Evaluator ev(tape);
  std::vector<double> x = m.initial_values();
  std::vector<double> g(x.size());
  ev.nll_and_gradient(x.data(), g.data());
  ev.nll(x.data());
}

inline void quiet_logging() { spdlog::set_level(spdlog::level::off); }

}  // namespace hs3fit::fuzz
