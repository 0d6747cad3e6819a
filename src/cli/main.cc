// salvus: one binary, one subcommand per process kind (DESIGN.md).
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.h"
#include "core/metrics.h"
#include "version.h"

namespace {

int Run(int argc, char** argv) {
  CLI::App app{"Salvus: Sage in the browser, computed on a cluster"};
  app.set_version_flag("--version", "salvus " SALVUS_VERSION " (" SALVUS_COMMIT ")");
  app.require_subcommand(1);
  auto compute = salvus::cli::AddComputeCommand(app);
  auto exec = salvus::cli::AddExecCommand(app);
  auto hub = salvus::cli::AddHubCommand(app);
  auto up = salvus::cli::AddUpCommand(app);
  auto monitor = salvus::cli::AddMonitorCommand(app);
  auto status = salvus::cli::AddStatusCommand(app);
  auto doctor = salvus::cli::AddDoctorCommand(app);
  auto vault = salvus::cli::AddVaultCommand(app);
  auto admin = salvus::cli::AddAdminCommand(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help is a "success"; any other usage error exits 2, like other tools.
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  // Every /metrics (hub, compute) names the build it comes from.
  salvus::core::metrics::Default()
      .gauge("salvus_build_info", "The version and commit of this binary (always 1).",
             "version=\"" SALVUS_VERSION "\",commit=\"" SALVUS_COMMIT "\"")
      .Set(1);
  if (app.got_subcommand(compute.app)) return compute.run();
  if (app.got_subcommand(exec.app)) return exec.run();
  if (app.got_subcommand(hub.app)) return hub.run();
  if (app.got_subcommand(up.app)) return up.run();
  if (app.got_subcommand(monitor.app)) return monitor.run();
  if (app.got_subcommand(status.app)) return status.run();
  if (app.got_subcommand(doctor.app)) return doctor.run();
  if (app.got_subcommand(vault.app)) return vault.run();
  if (app.got_subcommand(admin.app)) return admin.run();
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // What a subcommand does not handle ends here, said in one line, rather
  // than in std::terminate.
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "salvus: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "salvus: an unexpected error\n";
  }
  return 1;
}
