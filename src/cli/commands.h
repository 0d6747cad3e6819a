// Subcommands of the salvus binary. Each registers its options on the app
// and returns a runner to call if it was chosen.
#pragma once

#include <CLI/CLI.hpp>
#include <expected>
#include <functional>
#include <string>
#include <vector>

#include "hub/server.h"

namespace salvus::cli {

struct Command {
  CLI::App* app;
  std::function<int()> run;
};

Command AddAdminCommand(CLI::App& app);
Command AddComputeCommand(CLI::App& app);
Command AddDoctorCommand(CLI::App& app);
Command AddExecCommand(CLI::App& app);
Command AddHubCommand(CLI::App& app);
Command AddMonitorCommand(CLI::App& app);
Command AddStatusCommand(CLI::App& app);
Command AddUpCommand(CLI::App& app);
Command AddVaultCommand(CLI::App& app);

// The built web client: BIN/../share/salvus/web when installed, else the
// source tree's web/dist.
std::string DefaultWebDir();

// Shared by hub and up.
int WaitForSignal();
void BlockStopSignals();
std::expected<hub::HubOptions, std::string> HubOptionsFrom(const std::string& listen,
                                                           const std::vector<std::string>& compute,
                                                           const std::string& token_file,
                                                           const std::string& web);
// --reconnect-grace, --max-message-rate, --max-connections, the caps on
// sessions and the ceiling of their limits, and what a proxy in front
// needs (--proxy-from, --public-origin) into `o` (the seconds of the
// grace period go through `grace_s`).
void AddHubLimitOptions(CLI::App* c, hub::HubOptions* o, double* grace_s);
// Copies what AddHubLimitOptions sets (but the grace period) from `from`.
void CopyHubLimits(const hub::HubOptions& from, hub::HubOptions* to);

}  // namespace salvus::cli
