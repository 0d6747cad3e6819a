// `salvus doctor`: checks that this machine can run `salvus up` (and a
// compute server) as it would, and says what to fix: Sage importable, the
// sandbox (root, cgroups), a free block of session uids, the port, the data
// folder, the web client. Starts nothing that stays.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "cli/up_places.h"
#include "compute/cgroup.h"
#include "compute/sandbox.h"
#include "compute/session_mounts.h"
#include "compute/state_dir.h"
#include "core/spawn.h"

extern char** environ;

namespace salvus::cli {

namespace {

namespace fs = std::filesystem;

struct DoctorFlags {
  std::string data = "data";
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  std::string web = DefaultWebDir();
  std::string kernel = "sage";
};

enum class Verdict { kOk, kWarn, kFail };

struct Report {
  int failures = 0;
  void Say(Verdict v, const std::string& what, const std::string& fix = "") {
    static const char* kWord[] = {"ok  ", "warn", "FAIL"};
    std::cout << kWord[static_cast<int>(v)] << "  " << what << "\n";
    if (!fix.empty()) std::cout << "      fix: " << fix << "\n";
    failures += v == Verdict::kFail;
  }
};

// Imports Sage in /usr/bin/python3, as the zygote does; seconds it took, or
// -1 with its last words in *err.
double ImportSage(std::string* err) {
  const auto t0 = std::chrono::steady_clock::now();
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
  char* const argv[] = {const_cast<char*>("python3"), const_cast<char*>("-c"),
                        const_cast<char*>("import sage.all"), nullptr};
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, "/usr/bin/python3", &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(pipefd[1]);
  if (rc != 0) {
    close(pipefd[0]);
    *err = "cannot run /usr/bin/python3";
    return -1;
  }
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(pipefd[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(pipefd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    const size_t last = out.find_last_of('\n', out.size() >= 2 ? out.size() - 2 : 0);
    *err = out.empty() ? "python3 failed" : out.substr(last == std::string::npos ? 0 : last + 1);
    while (!err->empty() && err->back() == '\n') err->pop_back();
    return -1;
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

bool PortFree(const std::string& host, uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) {
    close(fd);
    return false;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

int RunDoctor(const DoctorFlags& f) {
  Report r;
  const bool root = geteuid() == 0;
  // The math.
  if (f.kernel == "sage") {
    std::string err;
    const double s = ImportSage(&err);
    if (s < 0) {
      r.Say(Verdict::kFail, "Sage does not import in /usr/bin/python3: " + err,
            "apt-get install sagemath (or run with --kernel python)");
    } else {
      r.Say(Verdict::kOk, "Sage imports in /usr/bin/python3 (" +
                              std::to_string(static_cast<int>(s * 1000)) + " ms)");
    }
  }
  // The sandbox.
  if (!root) {
    r.Say(Verdict::kWarn,
          "not root: sessions run as this user, with rlimits only (no uids, cgroups or "
          "namespaces of their own)",
          "run salvus as root (or a service with Delegate=yes) to sandbox sessions");
  } else {
    auto cg = compute::SessionCgroups::Create();
    if (cg) {
      r.Say(Verdict::kOk, std::string("sessions get cgroups of their own (cgroup v") +
                              (cg->version() == compute::SessionCgroups::Version::kV2 ? "2" : "1") +
                              ", below " + fs::path(cg->parents().front()).parent_path().string() +
                              ")");
    } else {
      r.Say(Verdict::kWarn, "sessions cannot get cgroups: " + cg.error(),
            "give salvus a cgroup of its own (systemd: Delegate=yes) to cap sessions' memory");
    }
    char scratch[] = "/tmp/salvus-doctor-XXXXXX";
    if (mkdtemp(scratch) != nullptr) {
      if (auto m = compute::TrySessionMounts(std::string(scratch) + "/trial"); m) {
        r.Say(Verdict::kOk,
              "sessions get mount namespaces of their own (private /tmp, a disk cap, the "
              "rest read-only, their own /proc)");
      } else {
        r.Say(Verdict::kFail, "sessions cannot get mount namespaces: " + m.error(),
              "Linux 5.12 or later, and salvus as real root (not in a user namespace)");
      }
      rmdir(scratch);
    }
    if (auto n = compute::CanIsolateNetwork(); n) {
      r.Say(Verdict::kOk, "sessions get no network (an empty network namespace each)");
    } else {
      r.Say(Verdict::kWarn, "cells would reach this machine's network: " + n.error(),
            "allow network namespaces (e.g. outside a container that forbids them)");
    }
    auto block = PickUidBlock(200000, 1000, 10);
    if (block) {
      r.Say(Verdict::kOk, "session uids " + std::to_string(*block) + ".." +
                              std::to_string(*block + 999) + " are free");
    } else {
      r.Say(Verdict::kFail, block.error(), "stop what runs with those uids, or pass --uid-base");
    }
  }
  // Where browsers connect.
  if (PortFree(f.host, f.port)) {
    r.Say(Verdict::kOk, "port " + f.host + ":" + std::to_string(f.port) + " is free");
  } else {
    r.Say(Verdict::kFail, "port " + f.host + ":" + std::to_string(f.port) + " is taken",
          "stop what listens there, or pass --port (0: any free port)");
  }
  // The data folder.
  const std::string data = fs::absolute(f.data).lexically_normal().string();
  const std::string closed = compute::FirstClosedToOthers(data);
  if (!root || closed.empty()) {
    r.Say(Verdict::kOk, "data folder " + data + (fs::exists(data) ? "" : " (to be created)"));
  } else {
    r.Say(Verdict::kWarn,
          closed +
              " lets no other user through: session homes go to a folder of their own in "
              "/var/lib/salvus (removed when up stops)",
          "none needed; or keep --data where others may pass (chmod o+x " + closed + ")");
  }
  // The page.
  if (fs::exists(f.web + "/index.html")) {
    r.Say(Verdict::kOk, "web client in " + f.web);
  } else {
    r.Say(Verdict::kFail, "no web client in " + f.web, "make (builds web/dist), or pass --web");
  }
  std::cout << (r.failures == 0 ? "salvus up should run here\n"
                                : std::to_string(r.failures) + " problem(s) to fix first\n");
  return r.failures == 0 ? 0 : 1;
}

}  // namespace

Command AddDoctorCommand(CLI::App& app) {
  auto f = std::make_shared<DoctorFlags>();
  CLI::App* c = app.add_subcommand(
      "doctor", "Check that this machine can run `salvus up`, and say what to fix");
  c->add_option("--data", f->data, "the data folder up would use")->capture_default_str();
  c->add_option("--host", f->host, "the address browsers would connect to")->capture_default_str();
  c->add_option("--port", f->port, "the port browsers would connect to")->capture_default_str();
  c->add_option("--web", f->web, "folder of the built web client")->capture_default_str();
  c->add_option("--kernel", f->kernel, "sage or python")->capture_default_str();
  return {c, [f] { return RunDoctor(*f); }};
}

}  // namespace salvus::cli
