#include "admin/netns.h"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "admin/process.h"

namespace salvus::admin {

namespace {

std::expected<void, std::string> Ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  RunResult r = Run(argv);
  if (!r.ok()) return std::unexpected(Quote(argv) + ": " + r.output);
  return {};
}

}  // namespace

bool NetnsExists(const std::string& name) { return std::filesystem::exists("/run/netns/" + name); }

bool InterfaceExists(const std::string& name) {
  return std::filesystem::exists("/sys/class/net/" + name);
}

std::vector<int> NetnsPids(const std::string& name) {
  std::vector<int> pids;
  if (!NetnsExists(name)) return pids;
  RunResult r = Run({"ip", "netns", "pids", name});
  std::istringstream in(r.output);
  for (int pid; in >> pid;) pids.push_back(pid);
  return pids;
}

std::expected<void, std::string> CreateNetwork(const Cluster& c) {
  if (!c.HasNetns()) return {};
  if (geteuid() != 0) {
    return std::unexpected("netns hosts need root (network namespaces, a bridge)");
  }
  const std::string br = c.Bridge();
  if (!InterfaceExists(br)) {
    if (auto r = Ip({"link", "add", br, "type", "bridge"}); !r) return r;
    if (auto r =
            Ip({"addr", "add", c.bridge_address + "/" + std::to_string(c.prefix_len), "dev", br});
        !r) {
      return r;
    }
  }
  if (auto r = Ip({"link", "set", br, "up"}); !r) return r;
  for (size_t i = 0; i < c.hosts.size(); ++i) {
    const Host& h = c.hosts[i];
    if (h.kind != HostKind::kNetns) continue;
    const std::string ns = c.Netns(h);
    const std::string veth = c.Veth(i);
    if (!NetnsExists(ns)) {
      if (auto r = Ip({"netns", "add", ns}); !r) return r;
    }
    if (auto r = Ip({"-n", ns, "link", "set", "lo", "up"}); !r) return r;
    if (!InterfaceExists(veth)) {
      if (auto r = Ip({"link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns});
          !r) {
        return r;
      }
      if (auto r = Ip({"-n", ns, "addr", "add", h.address + "/" + std::to_string(c.prefix_len),
                       "dev", "eth0"});
          !r) {
        return r;
      }
    }
    if (auto r = Ip({"link", "set", veth, "master", br, "up"}); !r) return r;
    if (auto r = Ip({"-n", ns, "link", "set", "eth0", "up"}); !r) return r;
  }
  return {};
}

std::vector<std::string> DestroyNetwork(const Cluster& c) {
  std::vector<std::string> left;
  // The cluster's namespaces and veths: those of its hosts, and any other
  // named like them (a host since removed from the cluster file).
  std::set<std::string> namespaces, veths;
  for (size_t i = 0; i < c.hosts.size(); ++i) {
    if (c.hosts[i].kind != HostKind::kNetns) continue;
    namespaces.insert(c.Netns(c.hosts[i]));
    veths.insert(c.Veth(i));
  }
  const std::regex ours_ns(c.name + "-[a-z][a-z0-9-]*"), ours_veth(c.name + "v[0-9]+");
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/run/netns", ec)) {
    const std::string n = e.path().filename();
    if (std::regex_match(n, ours_ns)) namespaces.insert(n);
  }
  for (const auto& e : std::filesystem::directory_iterator("/sys/class/net", ec)) {
    const std::string n = e.path().filename();
    if (std::regex_match(n, ours_veth)) veths.insert(n);
  }
  for (const std::string& ns : namespaces) {
    // Whatever still runs there (a service admin lost track of) goes first:
    // a namespace deleted under a live process lives on with it.
    for (int round = 0; round < 50; ++round) {
      auto pids = NetnsPids(ns);
      if (pids.empty()) break;
      for (int pid : pids) kill(pid, round < 10 ? SIGTERM : SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (auto p = NetnsPids(ns); !p.empty()) {
      left.push_back("processes still in " + ns + " (" + std::to_string(p.size()) + ")");
    }
    if (NetnsExists(ns)) {
      if (auto r = Ip({"netns", "del", ns}); !r) left.push_back(r.error());
    }
  }
  for (const std::string& veth : veths) {
    // A veth goes with its peer in the namespace, a moment later.
    for (int i = 0; i < 100 && InterfaceExists(veth); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (InterfaceExists(veth)) {
      if (auto r = Ip({"link", "del", veth}); !r && InterfaceExists(veth)) {
        left.push_back(r.error());
      }
    }
  }
  if (InterfaceExists(c.Bridge())) {
    if (auto r = Ip({"link", "del", c.Bridge()}); !r) left.push_back(r.error());
  }
  // wireguard-go's control sockets (machine-wide) of interfaces now gone.
  const std::regex ours_wg(c.name + "[sg][0-9]+\\.sock");
  for (const auto& e : std::filesystem::directory_iterator("/var/run/wireguard", ec)) {
    if (std::regex_match(e.path().filename().string(), ours_wg)) {
      std::filesystem::remove(e.path(), ec);
    }
  }
  return left;
}

}  // namespace salvus::admin
