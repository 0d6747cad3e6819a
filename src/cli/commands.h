// Subcommands of the salvus binary. Each registers its options on the app
// and returns a runner to call if it was chosen.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace salvus::cli {

struct Command {
  CLI::App* app;
  std::function<int()> run;
};

Command AddComputeCommand(CLI::App& app);
Command AddExecCommand(CLI::App& app);

}  // namespace salvus::cli
