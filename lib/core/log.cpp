#include "core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

namespace hs3fit {

void init_logging(int verbosity) {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = spdlog::stderr_color_st("hs3fit");
    l->set_pattern("[%^%l%$] %v");
    spdlog::set_default_logger(l);
    return l;
  }();
  if (verbosity < 0) spdlog::set_level(spdlog::level::err);
  else if (verbosity == 0) spdlog::set_level(spdlog::level::info);
  else if (verbosity == 1) spdlog::set_level(spdlog::level::debug);
  else spdlog::set_level(spdlog::level::trace);
}

bool stderr_is_terminal() { return isatty(STDERR_FILENO) != 0; }

}  // namespace hs3fit
