// One registration function per subcommand (app/cmd_*.cpp).
#pragma once

namespace CLI { class App; }

namespace hs3fit::app {

void register_fit(CLI::App& app, int& exit_code);
void register_eval(CLI::App& app, int& exit_code);

}  // namespace hs3fit::app
