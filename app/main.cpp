// hs3fit: statistical inference on HS3 and pyhf JSON likelihoods.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "common_options.h"
#include "core/error.h"
#include "core/log.h"
#include "eval/evaluator.h"

namespace hs3fit::app {
std::map<std::string, RegisterFn>& command_registry() {
  static std::map<std::string, RegisterFn> registry;
  return registry;
}
}  // namespace hs3fit::app

int main(int argc, char** argv) {
  using namespace hs3fit;
  CLI::App app{"hs3fit: fits, scans and limits on HS3 and pyhf JSON likelihoods"};
  app.require_subcommand(1);
  app.fallthrough();  // -v/-q also work after the subcommand
  app.set_version_flag("--version", "hs3fit 0.1.0");
  int verbose = 0;
  bool quiet = false;
  app.add_flag("-v,--verbose", verbose, "More log output on stderr (-vv for debug)");
  app.add_flag("-q,--quiet", quiet, "Only errors on stderr");
  int threads = 0;
  app.add_option("--threads", threads,
                 "Threads per likelihood evaluation (default 0 = automatic: SLURM_CPUS_PER_TASK or every CPU, one "
                 "thread for small models); results are bit-identical for any count")
      ->check(CLI::Range(0, 1024));
  app.parse_complete_callback([&] {
    app::global_options().verbosity = verbose;
    app::global_options().quiet = quiet;
    eval::set_default_threads(threads);
    init_logging(quiet ? -1 : verbose == 0 ? 0 : verbose);
  });
  init_logging(0);

  int exit_code = app::kExitOk;
  // Only the subcommand being run is built (building all of CLI11's subcommands and options is a
  // quarter of the start-up); without one (help, a typo) all are, so help and errors list them.
  const auto& registry = app::command_registry();
  auto run = registry.end();
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads") {
      ++i;  // the only global option with a separate value
      continue;
    }
    if (!a.empty() && a[0] == '-') continue;
    run = registry.find(a);
    break;
  }
  if (run != registry.end()) {
    run->second(app, exit_code);
  } else {
    for (auto& [name, register_command] : registry) register_command(app, exit_code);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : app::kExitBadInput;
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
    return e.kind() == ErrorKind::Internal ? app::kExitInternal : app::kExitBadInput;
  } catch (const std::bad_alloc&) {
    spdlog::error("out of memory");
    return app::kExitInternal;
  } catch (const std::exception& e) {
    spdlog::error("internal error: {}", e.what());
    return app::kExitInternal;
  }
  return exit_code;
}
