#include "admin/wireguard.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <filesystem>
#include <ostream>
#include <thread>

#include "admin/netns.h"
#include "admin/process.h"

namespace salvus::admin {

namespace fs = std::filesystem;
using Net = Cluster::Net;

namespace {

std::string Base64(const unsigned char* p, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  const int len =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), p, static_cast<int>(n));
  out.resize(static_cast<size_t>(len));
  return out;
}

std::string NewPrivateKey() {
  unsigned char k[32];
  if (RAND_bytes(k, sizeof k) != 1) throw std::runtime_error("RAND_bytes failed");
  k[0] &= 248;  // X25519 clamping, as `wg genkey`
  k[31] = static_cast<unsigned char>((k[31] & 127) | 64);
  return Base64(k, sizeof k);
}

uint16_t Port(Net n) { return n == Net::kSalvus ? kSalvusWgPort : kSageWgPort; }

bool HasHub(const Cluster& c, const Host& h) {
  return std::any_of(c.services.begin(), c.services.end(), [&](const Service& s) {
    return s.host == h.name && s.type == ServiceType::kHub;
  });
}

// Who a host's interface on `n` talks to.
std::vector<const Host*> Peers(const Cluster& c, const Host& h, Net n) {
  std::vector<const Host*> out;
  for (const Host& o : c.hosts) {
    if (&o == &h || !c.On(o, n)) continue;
    if (n == Net::kSage && !HasHub(c, h) && !HasHub(c, o)) continue;  // compute to compute
    out.push_back(&o);
  }
  return out;
}

std::expected<std::string, std::string> PrivateKey(const Cluster& c, const StatePaths& p,
                                                   const Host& h, Net n) {
  const fs::path f = p.secrets / ("wg-" + c.WgInterface(h, n) + ".key");
  std::string k = ReadSmallFile(f);
  while (!k.empty() && (k.back() == '\n' || k.back() == '\r')) k.pop_back();
  if (WgPublicKey(k).empty()) {
    k = NewPrivateKey();
    if (auto w = WriteIfChanged(f, k + "\n", 0600); !w) return std::unexpected(w.error());
  }
  return k;
}

}  // namespace

std::string WgPublicKey(const std::string& private_base64) {
  if (private_base64.size() != 44) return "";
  unsigned char raw[33];
  if (EVP_DecodeBlock(raw, reinterpret_cast<const unsigned char*>(private_base64.data()), 44) !=
      33) {
    return "";
  }
  EVP_PKEY* key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, raw, 32);
  if (!key) return "";
  unsigned char pub[32];
  size_t len = sizeof pub;
  const bool ok = EVP_PKEY_get_raw_public_key(key, pub, &len) == 1 && len == 32;
  EVP_PKEY_free(key);
  return ok ? Base64(pub, 32) : "";
}

std::expected<void, std::string> StartWireGuard(const Cluster& c, const StatePaths& p,
                                                std::ostream& out) {
  if (!c.WireGuard()) return {};
  int interfaces = 0;
  for (const Host& h : c.hosts) {
    for (Net n : {Net::kSalvus, Net::kSage}) {
      if (!c.On(h, n)) continue;
      const std::string ns = c.Netns(h), dev = c.WgInterface(h, n);
      auto key = PrivateKey(c, p, h, n);
      if (!key) return std::unexpected(key.error());
      std::string conf =
          fmt::format("[Interface]\nPrivateKey = {}\nListenPort = {}\n", *key, Port(n));
      for (const Host* o : Peers(c, h, n)) {
        auto k = PrivateKey(c, p, *o, n);
        if (!k) return std::unexpected(k.error());
        conf += fmt::format("\n[Peer]\nPublicKey = {}\nEndpoint = {}:{}\nAllowedIPs = {}/32\n",
                            WgPublicKey(*k), o->address, Port(n), c.TunnelAddress(*o, n));
      }
      const fs::path conf_file = p.secrets / (dev + ".conf");
      if (auto w = WriteIfChanged(conf_file, conf, 0600); !w) return std::unexpected(w.error());
      const fs::path sock = "/var/run/wireguard/" + dev + ".sock";
      const fs::path pidfile = p.run / ("wg-" + dev + ".pid");
      if (!Alive(ReadPid(pidfile)) || !fs::exists(sock)) {
        ProcessOptions o;
        o.netns = ns;
        o.log = (p.log / ("wg-" + dev + ".log")).string();
        o.env = {"LOG_LEVEL=error"};
        auto pid = Launch({"wireguard-go", "-f", dev}, o);
        if (!pid) return std::unexpected("wireguard-go " + dev + ": " + pid.error());
        if (auto w = WriteIfChanged(pidfile, std::to_string(*pid) + "\n"); !w) {
          return std::unexpected(w.error());
        }
        // Its control socket comes a moment after it starts.
        for (int i = 0; i < 250 && !fs::exists(sock); ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        if (!fs::exists(sock))
          return std::unexpected("wireguard-go " + dev + " made no " + sock.string());
      }
      ProcessOptions in;
      in.netns = ns;
      for (const auto& argv : std::vector<std::vector<std::string>>{
               {"wg", "setconf", dev, conf_file.string()},
               {"ip", "addr", "replace",
                c.TunnelAddress(h, n) + "/" +
                    std::to_string(n == Net::kSalvus ? c.salvus_prefix : c.sage_prefix),
                "dev", dev},
               {"ip", "link", "set", dev, "up"}}) {
        RunResult r = Run(argv, in);
        if (!r.ok()) return std::unexpected(Quote(argv) + " in " + ns + ": " + r.output);
      }
      ++interfaces;
    }
  }
  out << "wireguard: " << interfaces << " interfaces (salvus " << c.salvus_network << "/"
      << c.salvus_prefix << ", sage " << c.sage_network << "/" << c.sage_prefix << ")\n";
  return {};
}

std::string FirewallRules(const Cluster& c, const Host& h) {
  if (!c.WireGuard() || HasHub(c, h)) return "";
  const bool compute = c.On(h, Net::kSage);
  const bool haproxy = std::any_of(c.services.begin(), c.services.end(), [&](const Service& s) {
    return s.host == h.name && s.type == ServiceType::kHaproxy;
  });
  if (haproxy) return "";  // the public side
  const Net n = compute ? Net::kSage : Net::kSalvus;
  std::string peers_under, peers_tunnel, ports;
  for (const Host* o : Peers(c, h, n)) {
    peers_under += (peers_under.empty() ? "" : ", ") + o->address;
    peers_tunnel += (peers_tunnel.empty() ? "" : ", ") + c.TunnelAddress(*o, n);
  }
  for (const Service& s : c.services) {
    if (s.host == h.name) ports += (ports.empty() ? "" : ", ") + std::to_string(s.port);
  }
  if (peers_under.empty() || ports.empty()) return "";
  const std::string dev = c.WgInterface(h, n);
  return fmt::format(
      "# Rendered by salvus admin ({role} host {host}); replaced at each start.\n"
      "table inet salvus {{}}\n"
      "delete table inet salvus\n"
      "table inet salvus {{\n"
      "  chain input {{\n"
      "    type filter hook input priority 0; policy drop;\n"
      "    iif lo accept\n"
      "    ct state established,related accept\n"
      "    udp dport {wg} ip saddr {{ {under} }} accept\n"
      "    iifname \"{dev}\" tcp dport {{ {ports} }} ip saddr {{ {tunnel} }} accept\n"
      "  }}\n"
      "  chain output {{\n"
      "    type filter hook output priority 0; policy {out};\n"
      "    oif lo accept\n"
      "    ct state established,related accept\n"
      "    udp sport {wg} ip daddr {{ {under} }} accept\n"
      "  }}\n"
      "}}\n",
      fmt::arg("role", compute ? "compute" : "database"), fmt::arg("host", h.name),
      fmt::arg("wg", Port(n)), fmt::arg("under", peers_under), fmt::arg("dev", dev),
      fmt::arg("ports", ports), fmt::arg("tunnel", peers_tunnel),
      fmt::arg("out", compute ? "drop" : "accept"));
}

std::expected<void, std::string> ApplyFirewall(const Cluster& c, const StatePaths& p,
                                               std::ostream& out) {
  int hosts = 0;
  for (const Host& h : c.hosts) {
    const std::string rules = FirewallRules(c, h);
    if (rules.empty() || h.kind != HostKind::kNetns) continue;
    const fs::path f = p.conf / (h.name + ".nft");
    if (auto w = WriteIfChanged(f, rules, 0644); !w) return std::unexpected(w.error());
    ProcessOptions in;
    in.netns = c.Netns(h);
    RunResult r = Run({"nft", "-f", f.string()}, in);
    if (!r.ok())
      return std::unexpected("nft -f " + f.string() + " in " + in.netns + ": " + r.output);
    ++hosts;
  }
  if (hosts > 0) out << "nftables: rules on " << hosts << " hosts\n";
  return {};
}

}  // namespace salvus::admin
