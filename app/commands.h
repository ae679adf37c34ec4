// Subcommands register themselves: each app/cmd_*.cpp defines one static CommandRegistration
// with the function that adds its CLI11 subcommand. main.cpp calls them all, in name order.
#pragma once
#include <functional>
#include <map>
#include <string>

namespace CLI { class App; }

namespace hs3fit::app {

// The registration function adds the subcommand to `app`; its callback sets `exit_code`.
using RegisterFn = std::function<void(CLI::App& app, int& exit_code)>;

std::map<std::string, RegisterFn>& command_registry();

struct CommandRegistration {
  CommandRegistration(const std::string& name, RegisterFn fn) { command_registry()[name] = std::move(fn); }
};

}  // namespace hs3fit::app
