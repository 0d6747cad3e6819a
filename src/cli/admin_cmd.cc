// `salvus admin`: see src/admin/admin.h.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <memory>

#include "admin/admin.h"
#include "cli/commands.h"

namespace salvus::cli {

namespace {

struct AdminFlags {
  std::string cluster;
  std::vector<std::string> services;
  std::string service;
  std::string what;  // rolling-restart's: "hubs"
  bool purge = false;
  double start_timeout_s = 180;
};

std::string SelfPath() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "salvus" : p.string();
}

}  // namespace

Command AddAdminCommand(CLI::App& app) {
  auto f = std::make_shared<AdminFlags>();
  CLI::App* c = app.add_subcommand(
      "admin",
      "Run a cluster from one file (deploy/README.md): its network, secrets and services, "
      "started in order and each healthy before the next");
  c->add_option("--cluster", f->cluster, "the cluster file (TOML)")->required();
  c->add_option("--start-timeout", f->start_timeout_s, "seconds one service has to become healthy")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 3600.0));
  c->require_subcommand(1);
  CLI::App* start = c->add_subcommand(
      "start",
      "start the services (all, or those named: a name, a type, or its plural: hub1, hub, hubs)");
  start->add_option("service", f->services, "services to start");
  CLI::App* stop = c->add_subcommand("stop", "stop the services, in reverse order");
  stop->add_option("service", f->services, "services to stop");
  CLI::App* restart = c->add_subcommand("restart", "stop then start one service");
  restart->add_option("service", f->service, "the service")->required();
  CLI::App* rolling = c->add_subcommand(
      "rolling-restart",
      "restart the hubs one at a time, each out of haproxy and back healthy before the next");
  rolling->add_option("what", f->what, "hubs")->required()->check(CLI::IsMember({"hubs"}));
  CLI::App* status = c->add_subcommand(
      "status", "every service: host, pid, state, health (exit 1 unless all run and are healthy)");
  CLI::App* destroy =
      c->add_subcommand("destroy", "stop everything; remove the namespaces, interfaces and bridge");
  destroy->add_flag("--purge", f->purge, "remove the state folder too (secrets and data)");
  return {c, [=] {
            auto cluster = admin::LoadCluster(f->cluster);
            if (!cluster) {
              std::cerr << "salvus admin: " << cluster.error() << "\n";
              return 2;
            }
            admin::AdminOptions o;
            o.salvus = SelfPath();
            o.start_timeout = std::chrono::seconds(static_cast<int64_t>(f->start_timeout_s));
            // One admin at a time changes a cluster (status only reads).
            if (!c->got_subcommand(status)) {
              std::error_code ec;
              std::filesystem::create_directories(cluster->state_dir, ec);
              const std::string lock = (cluster->state_dir / "admin.lock").string();
              const int fd = open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
              if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
                std::cerr << "salvus admin: another salvus admin is working on this cluster ("
                          << lock << " is locked)\n";
                return 1;
              }
              // Held until this process exits.
            }
            std::expected<void, std::string> r;
            if (c->got_subcommand(status))
              return admin::ClusterStatus(*cluster, o, std::cout) ? 0 : 1;
            if (c->got_subcommand(start)) {
              r = admin::StartCluster(*cluster, f->services, o, std::cout);
            } else if (c->got_subcommand(stop)) {
              r = admin::StopCluster(*cluster, f->services, o, std::cout);
            } else if (c->got_subcommand(restart)) {
              r = admin::RestartService(*cluster, f->service, o, std::cout);
            } else if (c->got_subcommand(rolling)) {
              r = admin::RollingRestartHubs(*cluster, o, std::cout);
            } else if (c->got_subcommand(destroy)) {
              r = admin::DestroyCluster(*cluster, f->purge, o, std::cout);
            }
            if (!r) {
              std::cerr << "salvus admin: " << r.error() << "\n";
              return 1;
            }
            return 0;
          }};
}

}  // namespace salvus::cli
