// The cluster's state folder and the files admin keeps in it:
//   secrets/  (0700) token, ca.key, ca.pem, NAME.key, NAME.pem, pgpass: made
//             once, each 0600, never overwritten
//   conf/     configurations rendered from templates (written only when their
//             content changes)
//   run/      NAME.pid, NAME.monitor.pid, NAME.port, sockets
//   log/      NAME.log, NAME.monitor.log
//   data/     NAME/ (a database's files, a compute server's homes)
#pragma once

#include <sys/types.h>

#include <expected>
#include <filesystem>
#include <string>

#include "admin/cluster.h"

namespace salvus::admin {

struct StatePaths {
  explicit StatePaths(const std::filesystem::path& state)
      : root(state),
        secrets(state / "secrets"),
        conf(state / "conf"),
        run(state / "run"),
        log(state / "log"),
        data(state / "data") {}
  std::filesystem::path root, secrets, conf, run, log, data;
  std::filesystem::path Pidfile(const std::string& service) const {
    return run / (service + ".pid");
  }
  std::filesystem::path MonitorPidfile(const std::string& service) const {
    return run / (service + ".monitor.pid");
  }
  std::filesystem::path Log(const std::string& service) const { return log / (service + ".log"); }
  std::filesystem::path Token() const { return secrets / "token"; }
  std::filesystem::path Ca() const { return secrets / "ca.pem"; }
  std::filesystem::path Cert(const std::string& s) const { return secrets / (s + ".pem"); }
  std::filesystem::path Key(const std::string& s) const { return secrets / (s + ".key"); }
  std::filesystem::path Pgpass() const { return secrets / "pgpass"; }
};

// Makes the folders (state, conf, run, log, data 0755: session uids must
// pass through to their homes; secrets 0700).
std::expected<void, std::string> MakeStateFolders(const StatePaths& p);

// Writes `content` to `path` (mode `mode`) only when it differs from what is
// there, through a temporary file and a rename; whether it wrote.
std::expected<bool, std::string> WriteIfChanged(const std::filesystem::path& path,
                                                const std::string& content, mode_t mode = 0644);

std::string ReadSmallFile(const std::filesystem::path& path);

// The pid in a pidfile, 0 when there is none.
pid_t ReadPid(const std::filesystem::path& path);

// The token, the CA, a certificate per compute, hub and haproxy service
// (for its host's address), the database password: each made when missing.
std::expected<void, std::string> EnsureSecrets(const Cluster& c, const StatePaths& p);

// The database's password (from pgpass), "" if none yet.
std::string DatabasePassword(const StatePaths& p);

}  // namespace salvus::admin
