// Logging setup: everything goes to stderr through spdlog; results go to stdout.
#pragma once

namespace hs3fit {

// verbosity: -1 quiet (errors only), 0 warnings+info, 1 debug, 2 trace.
void init_logging(int verbosity);

// True when stderr is a terminal (progress output is shown only then).
bool stderr_is_terminal();

}  // namespace hs3fit
