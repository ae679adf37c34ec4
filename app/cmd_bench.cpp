// hs3fit bench: how fast is each stage of the pipeline on a workspace (parse, build, compile,
// −ln L, −ln L + gradient, Hessian, fit), how much memory does it take, and how does that
// compare with a reference timing file (pyhf's, from shared/reference/pyhf, or an earlier
// `hs3fit bench --json`). `--suite FILE` runs many workspaces and prints one summary table.
// Timing: one warm-up call, then repeated samples (each sample ≥ 1 ms of calls) until the time
// budget is spent; min and median per call are reported. Schema of --json: docs/performance.md.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fmt/format.h>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <spdlog/spdlog.h>
#include <sstream>
#include <fcntl.h>
#include <spawn.h>
#include <time.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "commands.h"
#include "common_options.h"
#include "core/allocator.h"
#include "core/error.h"
#include "eval/evaluator.h"
#include "eval/kernels.h"
#include "fit/minimizer.h"
#include "hs3/graph_simd.h"
#include "json/json_reader.h"
#include "json/json_writer.h"
#include "tape/compiler.h"

extern char** environ;

namespace hs3fit::app {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The clock of the repeated stages: wall time, or (--clock cpu) the process's CPU time, which a
// busy shared machine inflates much less (it then sums the CPU time of every thread).
bool g_cpu_clock = false;
double now_s() {
  if (g_cpu_clock) {
    timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
  }
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

struct BenchSettings {
  double budget_s = 0.3;  // time spent per stage (after the first call)
  int min_samples = 5;
  int threads = 1;
  std::string simd;       // forced SIMD target ("" = best)
  bool fit = true;
  bool process = false;   // also time `hs3fit fit` as a whole process
  int process_runs = 10;
};

// Per-call timing of one stage.
struct Stats {
  double min_s = NAN, median_s = NAN;
  int samples = 0;
  long calls = 0;  // calls per sample
  bool measured() const { return samples > 0; }
};

Stats summarize(std::vector<double> per_call, long calls) {
  Stats s;
  if (per_call.empty()) return s;
  std::sort(per_call.begin(), per_call.end());
  s.min_s = per_call.front();
  const size_t n = per_call.size();
  s.median_s = n % 2 ? per_call[n / 2] : 0.5 * (per_call[n / 2 - 1] + per_call[n / 2]);
  s.samples = static_cast<int>(n);
  s.calls = calls;
  return s;
}

// Warm-up call, then samples of `calls` calls each (calls chosen so a sample takes ≥ 1 ms)
// until the budget is spent and at least `min_samples` were taken. A call slower than a quarter
// of the budget is its own (only) sample: warming up a 30 s fit proves nothing.
Stats measure(const std::function<void()>& fn, const BenchSettings& s) {
  const double t0 = now_s();
  fn();
  const double first = now_s() - t0;
  if (first > 0.25 * s.budget_s && first > 0.05) return summarize({first}, 1);
  const long calls = std::max<long>(1, static_cast<long>(std::ceil(1e-3 / std::max(first, 1e-9))));
  std::vector<double> samples;
  const auto start = Clock::now();
  while (samples.size() < 1000 && (static_cast<int>(samples.size()) < s.min_samples || since(start) < s.budget_s)) {
    const double t = now_s();
    for (long c = 0; c < calls; ++c) fn();
    samples.push_back((now_s() - t) / static_cast<double>(calls));
  }
  return summarize(samples, calls);
}

// Peak and current resident set size from /proc/self/status (bytes; 0 if unavailable).
size_t proc_status_kb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string k = std::string(key) + ":";
  while (std::getline(in, line))
    if (line.compare(0, k.size(), k) == 0) return std::strtoull(line.c_str() + k.size(), nullptr, 10);
  return 0;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      auto p = line.find(':');
      if (p != std::string::npos) return line.substr(line.find_first_not_of(' ', p + 1));
    }
  return "unknown";
}

std::string format_time(double s) {
  if (!std::isfinite(s)) return "-";
  if (s < 1e-6) return fmt::format("{:.1f} ns", s * 1e9);
  if (s < 1e-3) return fmt::format("{:.2f} µs", s * 1e6);
  if (s < 1) return fmt::format("{:.2f} ms", s * 1e3);
  return fmt::format("{:.3f} s", s);
}

std::string format_bytes(double b) {
  if (b < 1024 * 1024) return fmt::format("{:.1f} KiB", b / 1024);
  if (b < 1024.0 * 1024 * 1024) return fmt::format("{:.1f} MiB", b / 1024 / 1024);
  return fmt::format("{:.2f} GiB", b / 1024 / 1024 / 1024);
}

// Size of the model in the unit the per-element cost is quoted in: Σ over channels of
// bins × Σ over samples of max(1, modifiers on the sample) — one (bin, sample, modifier)
// triple per unit, a sample without modifiers counting once.
struct ModelSize {
  size_t channels = 0, bins = 0, samples = 0, modifiers = 0, parameters = 0, free_parameters = 0, units = 0;
};

ModelSize model_size(const model::Model& m) {
  ModelSize z;
  z.channels = m.channels.size();
  for (const auto& c : m.channels) {
    z.bins += c.nbins();
    for (const auto& s : c.samples) {
      ++z.samples;
      z.modifiers += s.modifiers.size();
      z.units += c.nbins() * std::max<size_t>(1, s.modifiers.size());
    }
  }
  z.parameters = m.parameters.size();
  for (const auto& p : m.parameters) z.free_parameters += p.fixed ? 0 : 1;
  return z;
}

// The stages in display order; `ref` is the matching key of pyhf's timings_s.
struct StageDef {
  const char* key;
  const char* label;
};
constexpr StageDef kStages[] = {
    {"parse", "parse (read + JSON)"}, {"build", "build model"},       {"compile", "compile tape"},
    {"nll", "NLL"},                   {"nll_grad", "NLL + gradient"}, {"hessian", "Hessian (HESSE)"},
    {"fit", "fit (minimize + HESSE)"}, {"process", "hs3fit fit, whole process"},
};

struct BenchResult {
  std::string workspace;
  size_t bytes = 0;
  ModelSize size;
  std::map<std::string, Stats> stages;
  std::string tape_summary;
  size_t tape_ops = 0, tape_slots = 0, tape_consts = 0, tape_indices = 0, tape_bytes = 0, shards = 0;
  tape::Tape::Folding folding;
  size_t peak_rss = 0;
  std::string simd_target;
  int threads = 1;
  // fit outcome
  bool fit_ran = false, converged = false;
  double twice_nll = NAN, edm = NAN;
  int iterations = 0, gradient_evaluations = 0, hessian_evaluations = 0, hessian_colors = 0, hessians = 0;
  double coupling_s = NAN;  // Tape::parameter_coupling (Hessian sparsity), once per fit
  std::string status;
  double fit_minimize_s = NAN, fit_hessian_s = NAN;
  // General HS3 likelihoods (unbinned, continuous pdfs): evaluated on the HS3 graph, sized in events.
  bool general = false;
  size_t events = 0, graph_nodes = 0;
  std::string general_summary;
};

double per_unit_ns(const BenchResult& r, const char* stage) {
  auto it = r.stages.find(stage);
  if (r.general || it == r.stages.end() || !it->second.measured() || r.size.units == 0) return NAN;
  return it->second.min_s * 1e9 / static_cast<double>(r.size.units);
}

// General HS3 models: time per event (unbinned entry, bin or point of the paired data).
double per_event_ns(const BenchResult& r, const char* stage) {
  auto it = r.stages.find(stage);
  if (!r.general || it == r.stages.end() || !it->second.measured() || r.events == 0) return NAN;
  return it->second.min_s * 1e9 / static_cast<double>(r.events);
}

double stage_min(const BenchResult& r, const char* stage) {
  auto it = r.stages.find(stage);
  return it == r.stages.end() ? NAN : it->second.min_s;
}

// parse + build + compile per MB of JSON (general HS3: no compile stage, the build lowers).
double load_ms_per_mb(const BenchResult& r) {
  const double compile = r.general ? 0.0 : stage_min(r, "compile");
  return (stage_min(r, "parse") + stage_min(r, "build") + compile) * 1e3 / (static_cast<double>(r.bytes) / 1e6);
}

// The command line of `hs3fit fit` for the same model (for --process).
std::vector<std::string> fit_command_line(const ModelOptions& m) {
  std::vector<std::string> a = {"-q", "fit", m.workspace, "--json"};
  for (const auto& p : m.patches) a.insert(a.end(), {"-p", p});
  if (!m.patchset.empty()) a.insert(a.end(), {"--patchset", m.patchset});
  if (!m.measurement.empty()) a.insert(a.end(), {"--measurement", m.measurement});
  if (!m.poi.empty()) a.insert(a.end(), {"--poi", m.poi});
  for (const auto& s : m.set) a.insert(a.end(), {"--set", s});
  for (const auto& s : m.fix) a.insert(a.end(), {"--fix", s});
  for (const auto& s : m.release) a.insert(a.end(), {"--float", s});
  for (const auto& s : m.bounds) a.insert(a.end(), {"--bounds", s});
  if (!m.normsys_interp.empty()) a.insert(a.end(), {"--normsys-interp", m.normsys_interp});
  if (!m.histosys_interp.empty()) a.insert(a.end(), {"--histosys-interp", m.histosys_interp});
  if (!m.analysis.empty()) a.insert(a.end(), {"--analysis", m.analysis});
  for (const auto& l : m.likelihoods) a.insert(a.end(), {"--likelihood", l});
  if (!m.shapesys_vals.empty()) a.insert(a.end(), {"--shapesys-vals", m.shapesys_vals});
  return a;
}

// Wall time of one run of this executable with `args`, stdout/stderr to /dev/null.
double run_self(const std::vector<std::string>& args) {
  std::vector<std::string> argv_s = {"/proc/self/exe"};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  // Resolve the link once so the child's exec does not depend on our /proc entry.
  static const std::string self = [] {
    std::vector<char> buf(4096);
    ssize_t n = readlink("/proc/self/exe", buf.data(), buf.size() - 1);
    return n > 0 ? std::string(buf.data(), static_cast<size_t>(n)) : std::string("/proc/self/exe");
  }();
  auto t0 = Clock::now();
  pid_t pid;
  int rc = posix_spawn(&pid, self.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw Error(ErrorKind::Io, self, "cannot start a child process for --process");
  int status = 0;
  waitpid(pid, &status, 0);
  const double dt = since(t0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) > 1)
    throw Error(ErrorKind::Input, "--process", "`hs3fit fit` failed on this workspace (exit status " + std::to_string(WEXITSTATUS(status)) + ")");
  return dt;
}

// The fit (minimize + HESSE) and HESSE alone at its minimum, counting the gradient evaluations
// HESSE needs; the outcome goes into r.
void bench_fit(BenchResult& r, const fit::Objective& f, const std::vector<model::Parameter>& parameters, const fit::FitOptions& fo,
               const BenchSettings& s) {
  fit::FitResult fr;
  r.stages["fit"] = measure([&] { fr = fit::minimize(f, parameters, fo); }, s);
  r.fit_ran = true;
  r.converged = fr.converged;
  r.twice_nll = 2 * fr.nll;
  r.edm = fr.edm;
  r.status = fr.status;
  r.iterations = fr.iterations;
  r.gradient_evaluations = fr.function_evaluations;
  r.fit_minimize_s = fr.time_minimize_s;
  r.fit_hessian_s = fr.time_hessian_s;
  int calls = 0;
  fit::Objective counted = [&](const double* x, double* grad) { ++calls; return f(x, grad); };
  r.stages["hessian"] = measure([&] { calls = 0; fit::hesse(counted, parameters, fr.values, fo); }, s);
  r.hessian_evaluations = calls;
  r.hessian_colors = fr.hessian_colors;
  r.hessians = fr.hessians;
}

// Peak memory, and the whole `hs3fit fit` process (--process).
void finish_bench(BenchResult& r, const ModelOptions& mo, const BenchSettings& s) {
  r.peak_rss = proc_status_kb("VmHWM") * 1024;
  if (s.process) {
    const auto args = fit_command_line(mo);
    run_self(args);  // warm-up (page cache)
    std::vector<double> t;
    for (int i = 0; i < s.process_runs; ++i) t.push_back(run_self(args));
    r.stages["process"] = summarize(t, 1);
  }
}

// The stages of a general HS3 likelihood (built straight onto the HS3 graph: its build stage
// includes what compile is for the binned tape): −ln L, −ln L + gradient, fit, HESSE.
void bench_general(BenchResult& r, const LoadedModel& lm, const BenchSettings& s) {
  r.general = true;
  r.events = lm.general->events;
  r.graph_nodes = lm.general->graph_nodes;
  r.general_summary = lm.general->summary();
  r.simd_target = hs3::simd::target();
  r.threads = 1;
  const std::vector<double> x0 = lm.model.initial_values();
  std::vector<double> g(x0.size());
  r.stages["nll"] = measure([&] { lm.objective(x0.data(), nullptr); }, s);
  r.stages["nll_grad"] = measure([&] { lm.objective(x0.data(), g.data()); }, s);
  if (s.fit) {
    const fit::Objective f(lm.objective);
    fit::FitOptions fo;
    bench_fit(r, f, lm.model.parameters, fo, s);
  }
}

BenchResult run_bench(const ModelOptions& mo, const BenchSettings& s) {
  BenchResult r;
  r.workspace = mo.workspace;
  r.threads = s.threads;
  LoadOptions lo = to_load_options(mo);
  lo.general_hs3 = true;  // unbinned HS3: timed on lm.objective

  // parse + build: load_model times both internally; one warm-up load, then samples (their
  // warnings are the warm-up's again: not repeated).
  std::vector<double> parse_t, build_t;
  LoadedModel lm = load_model(mo.workspace, lo);
  r.bytes = lm.bytes;
  {
    const auto level = spdlog::get_level();
    spdlog::set_level(std::max(level, spdlog::level::err));
    struct Restore {
      spdlog::level::level_enum l;
      ~Restore() { spdlog::set_level(l); }
    } restore{level};
    const auto start = Clock::now();
    while (parse_t.size() < 200 && (static_cast<int>(parse_t.size()) < s.min_samples || since(start) < s.budget_s)) {
      LoadedModel again = load_model(mo.workspace, lo);
      parse_t.push_back(again.parse_s);
      build_t.push_back(again.build_s);
      if (since(start) > 10 * s.budget_s) break;  // huge workspaces: a few samples are enough
    }
  }
  r.stages["parse"] = summarize(parse_t, 1);
  r.stages["build"] = summarize(build_t, 1);
  r.size = model_size(lm.model);
  if (lm.objective) {
    bench_general(r, lm, s);
    finish_bench(r, mo, s);
    return r;
  }

  tape::Tape tp = tape::compile(lm.model);
  r.stages["compile"] = measure([&] { tape::Tape t = tape::compile(lm.model); (void)t; }, s);
  r.tape_summary = tp.summary();
  r.tape_ops = tp.code.size();
  r.tape_slots = tp.arena_size();
  r.tape_consts = tp.consts.size();
  r.tape_indices = tp.indices.size();
  r.tape_bytes = tp.bytes();

  eval::EvaluatorOptions eo;
  eo.threads = s.threads;
  eo.simd_target = s.simd;
  eval::Evaluator ev(tp, eo);
  r.simd_target = ev.simd_target();
  r.threads = ev.threads();
  r.shards = tp.shards.size();
  r.folding = tp.folding;
  const std::vector<double> x0 = lm.model.initial_values();
  std::vector<double> g(x0.size());
  r.stages["nll"] = measure([&] { ev.nll(x0.data()); }, s);
  r.stages["nll_grad"] = measure([&] { ev.nll_and_gradient(x0.data(), g.data()); }, s);

  fit::Objective f = [&ev](const double* x, double* grad) { return grad ? ev.nll_and_gradient(x, grad) : ev.nll(x); };
  if (s.fit) {
    fit::FitOptions fo;
    auto tc = Clock::now();
    fo.hessian_structure = tp.parameter_coupling();
    r.coupling_s = since(tc);
    bench_fit(r, f, lm.model.parameters, fo, s);
  }
  finish_bench(r, mo, s);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Reference timings: pyhf's (shared/reference/pyhf/<case>.json, key timings_s) or an earlier
// `hs3fit bench --json` (key stages). Both become stage → seconds.

struct Reference {
  std::string tool;  // "pyhf 0.7.6" / "hs3fit bench"
  std::string path;
  std::map<std::string, double> stages;
};

Reference read_reference(const std::string& path) {
  json::Document doc = json::parse_file(path);
  json::Node root = doc.root();
  Reference ref;
  ref.path = path;
  auto num = [](const json::Node& obj, const char* key) -> std::optional<double> {
    auto v = obj.get(key);
    if (!v || !v->is_number()) return std::nullopt;
    return v->as_number();
  };
  if (auto t = root.get("timings_s")) {
    ref.tool = "pyhf";
    if (auto v = root.get("versions"))
      if (auto p = v->get("pyhf")) ref.tool += " " + p->as_string();
    auto parse = num(*t, "json_parse_and_patch");
    auto validate = num(*t, "workspace_validate");
    auto build = num(*t, "model_build");
    auto data = num(*t, "data_build");
    auto imports = num(*t, "python_imports");
    auto load = num(*t, "load_total");
    auto fitt = num(*t, "fit");
    if (parse) ref.stages["parse"] = *parse;
    if (validate && build) ref.stages["build"] = *validate + *build + data.value_or(0.0);
    if (auto v = num(*t, "nll_eval_mean")) ref.stages["nll"] = *v;
    if (fitt) ref.stages["fit"] = *fitt;
    // pyhf's whole process: interpreter imports + load + fit (what `hs3fit fit` does in one run).
    if (imports && load && fitt) ref.stages["process"] = *imports + *load + *fitt;
  } else if (auto st = root.get("stages")) {
    ref.tool = "hs3fit bench";
    if (auto tool = root.get("tool"); tool && tool->is_string()) ref.tool = tool->as_string();  // e.g. bench/pyhs3-timings
    for (const auto& [key, val] : st->members())
      if (auto m = num(val, "min_s")) ref.stages[key] = *m;
  } else {
    root.fail("not a timing reference: expected 'timings_s' (pyhf reference) or 'stages' (hs3fit bench --json)");
  }
  return ref;
}

// ---------------------------------------------------------------------------------------------
// Output

std::string compiled_targets() {
  std::string out;
  for (const auto& t : eval::simd_targets()) out += (out.empty() ? "" : ",") + t;
  return out;
}

void write_environment(json::Writer& w, const BenchSettings& s, const std::string& simd) {
  w.key("environment").begin_object();
  w.key("cpu").value(cpu_model());
  w.key("logical_cpus").value(static_cast<long long>(std::thread::hardware_concurrency()));
  w.key("simd_target").value(simd);
  w.key("simd_targets_available").value(compiled_targets());
  w.key("threads").value(s.threads);
  w.key("clock").value(g_cpu_clock ? "cpu" : "wall");
  w.key("compiler").value(std::string("g++ ") + __VERSION__);
  w.key("allocator").value(allocator_name());
#ifdef NDEBUG
  w.key("build").value("release");
#else
  w.key("build").value("debug");
#endif
  w.key("hs3fit").value("0.1.0");
  w.end_object();
}

void write_result_json(json::Writer& w, const BenchResult& r, const std::optional<Reference>& ref) {
  w.key("workspace").begin_object();
  w.key("path").value(r.workspace);
  w.key("bytes").value(r.bytes);
  w.key("channels").value(r.size.channels);
  w.key("bins").value(r.size.bins);
  w.key("samples").value(r.size.samples);
  w.key("modifiers").value(r.size.modifiers);
  w.key("parameters").value(r.size.parameters);
  w.key("free_parameters").value(r.size.free_parameters);
  w.key("units").value(r.size.units);
  w.key("kind").value(r.general ? "general" : "binned");
  if (r.general) {
    w.key("events").value(r.events);
    w.key("graph_nodes").value(r.graph_nodes);
  }
  w.end_object();
  if (!r.general) {
  w.key("tape").begin_object();
  w.key("ops").value(r.tape_ops);
  w.key("slots").value(r.tape_slots);
  w.key("coefficients").value(r.tape_consts);
  w.key("indices").value(r.tape_indices);
  w.key("bytes").value(r.tape_bytes);
  w.key("shards").value(r.shards);
  w.key("pruned_modifiers").value(r.folding.pruned_modifiers);
  w.key("shared_entries").value(r.folding.shared_entries);
  w.key("shared_products").value(r.folding.shared_products);
  w.key("constant_yields").value(r.folding.constant_yields);
  w.key("summary").value(r.tape_summary);
  w.end_object();
  }
  w.key("stages").begin_object();
  for (const auto& st : kStages) {
    auto it = r.stages.find(st.key);
    if (it == r.stages.end() || !it->second.measured()) continue;
    w.key(st.key).begin_object();
    w.key("min_s").value(it->second.min_s);
    w.key("median_s").value(it->second.median_s);
    w.key("samples").value(it->second.samples);
    w.key("calls_per_sample").value(static_cast<long long>(it->second.calls));
    w.end_object();
  }
  w.end_object();
  w.key("per_unit_ns").begin_object();
  w.key("nll").value(per_unit_ns(r, "nll"));
  w.key("nll_grad").value(per_unit_ns(r, "nll_grad"));
  w.end_object();
  if (r.general) {
    w.key("per_event_ns").begin_object();
    w.key("nll").value(per_event_ns(r, "nll"));
    w.key("nll_grad").value(per_event_ns(r, "nll_grad"));
    w.end_object();
  }
  w.key("parse_compile_ms_per_mb").value(load_ms_per_mb(r));
  if (r.fit_ran) {
    w.key("fit").begin_object();
    w.key("status").value(r.status);
    w.key("converged").value(r.converged);
    w.key("twice_nll").value(r.twice_nll);
    w.key("edm").value(r.edm);
    w.key("iterations").value(r.iterations);
    w.key("gradient_evaluations").value(r.gradient_evaluations);
    w.key("hessian_gradient_evaluations").value(r.hessian_evaluations);
    w.key("hessian_colors").value(r.hessian_colors);
    w.key("hessians").value(r.hessians);
    w.key("coupling_s").value(r.coupling_s);
    w.key("minimize_s").value(r.fit_minimize_s);
    w.key("hessian_s").value(r.fit_hessian_s);
    w.end_object();
  }
  w.key("memory").begin_object();
  w.key("peak_rss_bytes").value(r.peak_rss);
  w.end_object();
  if (ref) {
    w.key("compare").begin_object();
    w.key("tool").value(ref->tool);
    w.key("path").value(ref->path);
    w.key("stages").begin_object();
    for (const auto& [key, t] : ref->stages) {
      w.key(key).begin_object();
      w.key("reference_s").value(t);
      const double ours = stage_min(r, key.c_str());
      w.key("hs3fit_s").value(ours);
      w.key("speedup").value(t / ours);
      w.end_object();
    }
    w.end_object();
    w.end_object();
  }
}

std::string result_table(const BenchResult& r, const std::optional<Reference>& ref) {
  std::string out;
  out += fmt::format("workspace   {}  ({:.2f} MB)\n", r.workspace, static_cast<double>(r.bytes) / 1e6);
  if (r.general) {
    out += fmt::format("model       general HS3 likelihood: {} events, {} parameters ({} free)\n", r.events, r.size.parameters,
                       r.size.free_parameters);
    out += fmt::format("graph       {} (parse + build includes lowering to the graph: no separate compile stage)\n", r.general_summary);
  } else {
    out += fmt::format("model       {} channels, {} bins, {} samples, {} modifiers, {} parameters ({} free); {} bin·sample·modifier units\n",
                       r.size.channels, r.size.bins, r.size.samples, r.size.modifiers, r.size.parameters, r.size.free_parameters,
                       r.size.units);
    out += fmt::format("tape        {}  ({})\n", r.tape_summary, format_bytes(static_cast<double>(r.tape_bytes)));
    out += fmt::format("folding     {} modifier entries pruned, {} shared normsys entries, {} shared factor lists, {} constant yields\n",
                       r.folding.pruned_modifiers, r.folding.shared_entries, r.folding.shared_products, r.folding.constant_yields);
  }
  out += fmt::format("machine     {} ({} logical CPUs), SIMD {}, threads {}, {}\n\n", cpu_model(), std::thread::hardware_concurrency(),
                     r.simd_target, r.threads, allocator_name());
  std::string hdr = fmt::format("{:<28} {:>11} {:>11} {:>8}", "stage", "min", "median", "samples");
  if (ref) hdr += fmt::format(" {:>12} {:>9}", ref->tool, "speedup");
  out += hdr + "\n";
  for (const auto& st : kStages) {
    auto it = r.stages.find(st.key);
    if (it == r.stages.end() || !it->second.measured()) continue;
    const Stats& x = it->second;
    std::string line = fmt::format("{:<28} {:>11} {:>11} {:>8}", st.label, format_time(x.min_s), format_time(x.median_s),
                                   fmt::format("{}x{}", x.samples, x.calls));
    if (ref) {
      auto rt = ref->stages.find(st.key);
      if (rt != ref->stages.end())
        line += fmt::format(" {:>12} {:>8.0f}×", format_time(rt->second), rt->second / x.min_s);
    }
    out += line + "\n";
  }
  out += "\n";
  if (r.general)
    out += fmt::format("per event   NLL {:.3f} ns, NLL+gradient {:.3f} ns per event (one thread)\n", per_event_ns(r, "nll"),
                       per_event_ns(r, "nll_grad"));
  else
    out += fmt::format("per unit    NLL {:.3f} ns, NLL+gradient {:.3f} ns per bin·sample·modifier\n", per_unit_ns(r, "nll"),
                       per_unit_ns(r, "nll_grad"));
  out += fmt::format("load        parse+build+compile {:.2f} ms per MB of JSON\n", load_ms_per_mb(r));
  if (r.fit_ran)
    out += fmt::format("fit         {}, twice_nll {:.10f}, EDM {:.3g}, {} iterations, {} gradient evaluations, {} Hessians\n"
                       "hessian     {} gradient pairs per Hessian ({} free parameters; HESSE alone: {} gradients); sparsity pattern {}\n",
                       r.status, r.twice_nll, r.edm, r.iterations, r.gradient_evaluations, r.hessians, r.hessian_colors,
                       r.size.free_parameters, r.hessian_evaluations, format_time(r.coupling_s));
  out += fmt::format("memory      peak RSS {}\n", format_bytes(static_cast<double>(r.peak_rss)));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Suites: one line per case, `name workspace [ref=FILE] [measurement=NAME] [patch=FILE[:NAME]]
// [analysis=NAME] [likelihood=NAME]... [fit=0] [process=1]`; '#' starts a comment; paths are relative to the suite file;
// ${VAR} is replaced by the environment variable VAR.

struct SuiteCase {
  std::string name;
  ModelOptions model;
  std::string reference;
  bool fit = true;
  bool process = false;
};

std::string expand_env(const std::string& s, const std::string& where) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '$' && i + 1 < s.size() && s[i + 1] == '{') {
      size_t end = s.find('}', i);
      if (end == std::string::npos) throw Error(ErrorKind::Input, where, "unterminated ${ in '" + s + "'");
      std::string var = s.substr(i + 2, end - i - 2);
      const char* v = std::getenv(var.c_str());
      if (!v) throw Error(ErrorKind::Input, where, "environment variable " + var + " is not set");
      out += v;
      i = end;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<SuiteCase> read_suite(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(ErrorKind::Io, path, "cannot read suite file");
  const std::string dir = path.find('/') == std::string::npos ? std::string(".") : path.substr(0, path.rfind('/'));
  auto resolve = [&](const std::string& p) { return (p.empty() || p[0] == '/' || p == "-") ? p : dir + "/" + p; };
  std::vector<SuiteCase> cases;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    const std::string where = fmt::format("{}:{}", path, lineno);
    if (auto h = line.find('#'); h != std::string::npos) line.resize(h);
    std::istringstream ss(line);
    std::vector<std::string> words;
    for (std::string w; ss >> w;) words.push_back(expand_env(w, where));
    if (words.empty()) continue;
    if (words.size() < 2) throw Error(ErrorKind::Input, where, "expected 'name workspace [key=value ...]'");
    SuiteCase c;
    c.name = words[0];
    c.model.workspace = resolve(words[1]);
    for (size_t i = 2; i < words.size(); ++i) {
      auto eq = words[i].find('=');
      if (eq == std::string::npos) throw Error(ErrorKind::Input, where, "expected key=value, found '" + words[i] + "'");
      const std::string key = words[i].substr(0, eq), val = words[i].substr(eq + 1);
      if (key == "ref") c.reference = resolve(val);
      else if (key == "measurement") c.model.measurement = val;
      else if (key == "patch") c.model.patches.push_back(resolve(val));
      else if (key == "fit") c.fit = val != "0";
      else if (key == "process") c.process = val != "0";
      else if (key == "analysis") c.model.analysis = val;
      else if (key == "likelihood") c.model.likelihoods.push_back(val);
      else throw Error(ErrorKind::Input, where, "unknown key '" + key + "' (expected ref, measurement, patch, analysis, likelihood, fit, process)");
    }
    cases.push_back(std::move(c));
  }
  if (cases.empty()) throw Error(ErrorKind::Input, path, "suite file lists no workspaces");
  return cases;
}

std::string suite_table(const std::vector<SuiteCase>& cases, const std::vector<BenchResult>& results,
                        const std::vector<std::optional<Reference>>& refs) {
  std::string out = fmt::format("| {:<36} | {:>6} | {:>6} | {:>6} | {:>8} | {:>8} | {:>9} | {:>7} | {:>9} | {:>9} | {:>7} | {:>9} | {:>9} | {:>7} |\n",
                                "case", "MB", "params", "units", "load/MB", "NLL", "NLL+grad", "ns/unit", "fit",
                                "ref fit", "speedup", "process", "ref proc", "speedup");
  out += "|" + std::string(38, '-') + "|" + std::string(8, '-') + "|" + std::string(8, '-') + "|" + std::string(8, '-') + "|" +
         std::string(10, '-') + "|" + std::string(10, '-') + "|" + std::string(11, '-') + "|" + std::string(9, '-') + "|" +
         std::string(11, '-') + "|" + std::string(11, '-') + "|" + std::string(9, '-') + "|" + std::string(11, '-') + "|" +
         std::string(11, '-') + "|" + std::string(9, '-') + "|\n";
  for (size_t i = 0; i < cases.size(); ++i) {
    const BenchResult& r = results[i];
    const double mb = static_cast<double>(r.bytes) / 1e6;
    const double load_ms_mb = load_ms_per_mb(r);
    auto ref_stage = [&](const char* k) {
      if (!refs[i]) return static_cast<double>(NAN);
      auto it = refs[i]->stages.find(k);
      return it == refs[i]->stages.end() ? static_cast<double>(NAN) : it->second;
    };
    const double fit = stage_min(r, "fit"), proc = stage_min(r, "process");
    const double rfit = ref_stage("fit"), rproc = ref_stage("process");
    auto ratio = [](double a, double b) { return std::isfinite(a) && std::isfinite(b) ? fmt::format("{:.0f}×", a / b) : std::string("-"); };
    // General HS3 cases are sized in events ("ev"), their cost per event.
    const std::string units = r.general ? fmt::format("{}ev", r.events) : std::to_string(r.size.units);
    const double ns = r.general ? per_event_ns(r, "nll_grad") : per_unit_ns(r, "nll_grad");
    out += fmt::format("| {:<36} | {:>6.2f} | {:>6} | {:>6} | {:>5.2f} ms | {:>8} | {:>9} | {:>7.3f} | {:>9} | {:>9} | {:>7} | {:>9} | {:>9} | {:>7} |\n",
                       cases[i].name, mb, r.size.parameters, units, load_ms_mb, format_time(stage_min(r, "nll")),
                       format_time(stage_min(r, "nll_grad")), ns, format_time(fit), format_time(rfit),
                       ratio(rfit, fit), format_time(proc), format_time(rproc), ratio(rproc, proc));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

struct BenchCommand {
  ModelOptions model;
  BenchSettings settings;
  bool json = false;
  std::string compare;
  std::string suite;
  std::vector<std::string> skip;
  bool no_fit = false;
  std::string clock = "wall";
};

void register_bench(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<BenchCommand>();
  CLI::App* cmd = app.add_subcommand("bench", "Time every stage (parse, build, compile, NLL, gradient, Hessian, fit) and memory");
  add_model_options(cmd, opts->model);
  // The workspace is not required with --suite.
  cmd->get_option("workspace")->required(false);
  cmd->add_flag("--json", opts->json, "Print the result as JSON (schema in docs/performance.md)");
  cmd->add_option("--compare", opts->compare,
                  "Reference timings to compare with: shared/reference/pyhf/<case>.json (timings_s) or an earlier bench --json");
  cmd->add_option("--suite", opts->suite, "Run every workspace of a suite file (see bench/suite.txt) and print one table");
  cmd->add_option("--skip", opts->skip, "With --suite: skip the case of this name (repeatable)");
  cmd->add_option("--threads", opts->settings.threads, "Evaluator threads")->check(CLI::Range(1, 256));
  cmd->add_option("--simd", opts->settings.simd, "Force a SIMD target (scalar, sse4, avx2, avx3; default: the best the CPU has)");
  cmd->add_option("--budget", opts->settings.budget_s, "Seconds of timing per stage (default 0.3)")->check(CLI::PositiveNumber);
  cmd->add_option("--min-samples", opts->settings.min_samples, "Minimum samples per stage (default 5)")->check(CLI::Range(1, 1000));
  cmd->add_flag("--no-fit", opts->no_fit, "Skip the fit and Hessian stages");
  cmd->add_option("--clock", opts->clock, "wall (default) or cpu: process CPU time for the repeated stages (busy machines)")
      ->check(CLI::IsMember({"wall", "cpu"}));
  cmd->add_flag("--process", opts->settings.process, "Also time `hs3fit fit` as a whole process (spawned, stdout discarded)");
  cmd->add_option("--process-runs", opts->settings.process_runs, "Runs for --process (default 10)")->check(CLI::Range(1, 1000));
  cmd->callback([opts, &exit_code] {
    BenchSettings s = opts->settings;
    s.fit = !opts->no_fit;
    g_cpu_clock = opts->clock == "cpu";
    if (!opts->suite.empty()) {
      std::vector<SuiteCase> cases = read_suite(opts->suite);
      cases.erase(std::remove_if(cases.begin(), cases.end(),
                                 [&](const SuiteCase& c) {
                                   return std::find(opts->skip.begin(), opts->skip.end(), c.name) != opts->skip.end();
                                 }),
                  cases.end());
      std::vector<BenchResult> results;
      std::vector<std::optional<Reference>> refs;
      for (const SuiteCase& c : cases) {
        spdlog::info("bench {}", c.name);
        BenchSettings cs = s;
        cs.fit = s.fit && c.fit;
        cs.process = s.process || c.process;
        results.push_back(run_bench(c.model, cs));
        refs.push_back(c.reference.empty() ? std::nullopt : std::optional<Reference>(read_reference(c.reference)));
        if (results.back().fit_ran && !results.back().converged) exit_code = kExitNotConverged;
      }
      if (opts->json) {
        json::Writer w;
        w.begin_object();
        w.key("schema").value("hs3fit-bench-suite/1");
        w.key("suite").value(opts->suite);
        write_environment(w, s, results.empty() ? std::string() : results[0].simd_target);
        w.key("cases").begin_array();
        for (size_t i = 0; i < cases.size(); ++i) {
          w.begin_object();
          w.key("name").value(cases[i].name);
          write_result_json(w, results[i], refs[i]);
          w.end_object();
        }
        w.end_array();
        w.end_object();
        print(w.str() + "\n");
      } else {
        print(fmt::format("machine: {} ({} logical CPUs), SIMD {}, threads {}\n\n", cpu_model(), std::thread::hardware_concurrency(),
                          results.empty() ? std::string() : results[0].simd_target, s.threads) +
              suite_table(cases, results, refs));
      }
      return;
    }
    if (opts->model.workspace.empty()) throw Error(ErrorKind::Usage, "bench", "a workspace or --suite FILE is required");
    std::optional<Reference> ref;
    if (!opts->compare.empty()) ref = read_reference(opts->compare);
    BenchResult r = run_bench(opts->model, s);
    if (r.fit_ran && !r.converged) exit_code = kExitNotConverged;
    if (opts->json) {
      json::Writer w;
      w.begin_object();
      w.key("schema").value("hs3fit-bench/1");
      write_environment(w, s, r.simd_target);
      write_result_json(w, r, ref);
      w.end_object();
      print(w.str() + "\n");
    } else {
      print(result_table(r, ref));
    }
  });
}

}  // namespace

static CommandRegistration registration("bench", register_bench);

}  // namespace hs3fit::app
