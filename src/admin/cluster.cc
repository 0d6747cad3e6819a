#include "admin/cluster.h"

#include <arpa/inet.h>
#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <tuple>

namespace salvus::admin {

namespace {

// An error in the file: "FILE:LINE: what".
struct Error {
  std::string text;
};

class Reader {
 public:
  Reader(const toml::table& t, std::string where, std::string file)
      : t_(t), where_(std::move(where)), file_(std::move(file)) {}

  // Every key present must be one of `known`.
  void Only(std::initializer_list<std::string_view> known) const {
    for (const auto& [k, v] : t_) {
      if (std::find(known.begin(), known.end(), k.str()) == known.end()) {
        throw Error{At(v) + "unknown key " + where_ + "." + std::string(k.str())};
      }
    }
  }

  std::string String(std::string_view key, std::string fallback, bool required = false) const {
    const toml::node* n = t_.get(key);
    if (!n) {
      if (required) throw Error{At(t_) + where_ + " needs " + std::string(key)};
      return fallback;
    }
    auto s = n->value<std::string>();
    if (!n->is_string() || !s) throw Error{At(*n) + Key(key) + " must be a string"};
    if (s->size() > 1024) throw Error{At(*n) + Key(key) + " is longer than 1024 bytes"};
    return *s;
  }

  int64_t Integer(std::string_view key, int64_t fallback, int64_t lo, int64_t hi) const {
    const toml::node* n = t_.get(key);
    if (!n) return fallback;
    if (!n->is_integer()) throw Error{At(*n) + Key(key) + " must be an integer"};
    const int64_t v = n->as_integer()->get();
    if (v < lo || v > hi) {
      throw Error{At(*n) + Key(key) + " must be in " + std::to_string(lo) + ".." +
                  std::to_string(hi)};
    }
    return v;
  }

  std::string At(const toml::node& n) const {
    return file_ + ":" + std::to_string(n.source().begin.line) + ": ";
  }
  std::string Key(std::string_view key) const { return where_ + "." + std::string(key); }

 private:
  const toml::table& t_;
  std::string where_;
  std::string file_;
};

std::optional<uint32_t> Ipv4(const std::string& s) {
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

// Whether `a` is a host address of the network holding `net` (prefix
// `len`): not the network's own address nor its broadcast.
bool HostAddressIn(uint32_t a, uint32_t net, int len) {
  const uint32_t mask = ~uint32_t{0} << (32 - len);
  return (a & mask) == (net & mask) && (a & ~mask) != 0 && (a & ~mask) != ~mask;
}

const std::regex kClusterName("[a-z][a-z0-9]{0,9}");
const std::regex kHostName("[a-z][a-z0-9-]{0,19}");
const std::regex kServiceName("[a-z][a-z0-9-]{0,31}");
// A host name or an address for ssh hosts: no spaces, no shell or YAML
// specials (it goes into a rendered inventory).
const std::regex kSshAddress("[A-Za-z0-9.:-]{1,253}");
const std::regex kSshUser("[a-z_][a-z0-9_-]{0,31}");

uint16_t DefaultPort(ServiceType t) {
  switch (t) {
    case ServiceType::kPostgresql:
      return 5432;
    case ServiceType::kMemcached:
      return 11211;
    case ServiceType::kCompute:
      return 6000;
    case ServiceType::kHub:
      return 8080;
    case ServiceType::kHaproxy:
      return 80;
  }
  return 0;
}

const toml::array* ArrayOfTables(const toml::table& root, std::string_view key,
                                 const std::string& file) {
  const toml::node* n = root.get(key);
  if (!n) return nullptr;
  const toml::array* a = n->as_array();
  if (!a || !a->is_array_of_tables()) {
    throw Error{file + ":" + std::to_string(n->source().begin.line) + ": " + std::string(key) +
                " must be written [[" + std::string(key) + "]]"};
  }
  return a;
}

void ParseClusterTable(const toml::table& root, const std::string& file,
                       const std::filesystem::path& dir, Cluster* c) {
  const toml::node* n = root.get("cluster");
  if (!n || !n->is_table()) throw Error{file + ": needs a [cluster] table"};
  Reader r(*n->as_table(), "cluster", file);
  r.Only({"name", "state_dir", "site", "public_origin", "bridge_address", "web", "floating_address",
          "salvus_network", "sage_network"});
  c->name = r.String("name", "", true);
  if (!std::regex_match(c->name, kClusterName)) {
    throw Error{r.At(*n) +
                "cluster.name must be a lowercase letter and up to 9 lowercase letters "
                "or digits (it prefixes namespace and interface names): " +
                c->name};
  }
  const std::string state = r.String("state_dir", "state");
  if (state.empty()) throw Error{r.At(*n) + "cluster.state_dir is empty"};
  c->state_dir = (dir / state).lexically_normal();
  if (const std::string web = r.String("web", ""); !web.empty()) {
    c->web = (dir / web).lexically_normal().string();
  }
  c->site = r.String("site", "default");
  if (!std::regex_match(c->site, kServiceName)) {
    throw Error{r.At(*n) + "cluster.site must be lowercase letters, digits and -: " + c->site};
  }
  c->public_origin = r.String("public_origin", "");
  if (!c->public_origin.empty() &&
      !std::regex_match(c->public_origin, std::regex("https?://[A-Za-z0-9.:\\[\\]-]+"))) {
    throw Error{r.At(*n) +
                "cluster.public_origin must be http(s)://HOST[:PORT]: " + c->public_origin};
  }
  const std::string bridge = r.String("bridge_address", "");
  if (!bridge.empty()) {
    const auto slash = bridge.find('/');
    std::smatch m;
    if (slash == std::string::npos || !Ipv4(bridge.substr(0, slash)) ||
        !std::regex_match(bridge.substr(slash + 1), std::regex("(1[6-9]|2[0-9]|30)"))) {
      throw Error{r.At(*n) +
                  "cluster.bridge_address must be an IPv4 address and a prefix length "
                  "16..30, e.g. 10.214.0.1/24: " +
                  bridge};
    }
    c->bridge_address = bridge.substr(0, slash);
    c->prefix_len = std::stoi(bridge.substr(slash + 1));
  }
  for (auto [key, net, prefix] :
       {std::tuple{"salvus_network", &c->salvus_network, &c->salvus_prefix},
        std::tuple{"sage_network", &c->sage_network, &c->sage_prefix}}) {
    const std::string v = r.String(key, "");
    if (v.empty()) continue;
    const auto slash = v.find('/');
    const auto a = Ipv4(v.substr(0, slash));
    if (slash == std::string::npos || !a ||
        !std::regex_match(v.substr(slash + 1), std::regex("(1[6-9]|2[0-9])"))) {
      throw Error{r.At(*n) + "cluster." + key +
                  " must be a network address and a prefix 16..29, e.g. 10.214.1.0/24: " + v};
    }
    *prefix = std::stoi(v.substr(slash + 1));
    if ((*a & ~(~uint32_t{0} << (32 - *prefix))) != 0) {
      throw Error{r.At(*n) + "cluster." + key + " has host bits set: " + v};
    }
    *net = v.substr(0, slash);
  }
  if (c->salvus_network.empty() != c->sage_network.empty()) {
    throw Error{r.At(*n) + "cluster.salvus_network and cluster.sage_network go together"};
  }
  c->floating_address = r.String("floating_address", "");
  if (!c->floating_address.empty()) {
    if (c->bridge_address.empty() || !Ipv4(c->floating_address)) {
      throw Error{r.At(*n) +
                  "cluster.floating_address must be an IPv4 address in "
                  "cluster.bridge_address's network: " +
                  c->floating_address};
    }
    const uint32_t a = *Ipv4(c->floating_address), b = *Ipv4(c->bridge_address);
    if (!HostAddressIn(a, b, c->prefix_len) || a == b) {
      throw Error{r.At(*n) + "cluster.floating_address " + c->floating_address +
                  " is not a host address in the bridge's network (other than the bridge's)"};
    }
  }
}

void ParseHosts(const toml::table& root, const std::string& file, Cluster* c) {
  const toml::array* hosts = ArrayOfTables(root, "hosts", file);
  if (!hosts || hosts->empty()) throw Error{file + ": no [[hosts]]"};
  if (hosts->size() > kMaxHosts) {
    throw Error{file + ": more than " + std::to_string(kMaxHosts) + " hosts"};
  }
  std::set<std::string> addresses;
  for (const toml::node& node : *hosts) {
    const toml::table& t = *node.as_table();
    Host h;
    Reader r(t, "hosts", file);
    r.Only({"name", "kind", "address", "ssh_user", "ssh_port"});
    h.name = r.String("name", "", true);
    if (!std::regex_match(h.name, kHostName)) {
      throw Error{r.At(t) +
                  "hosts.name must be a lowercase letter, then up to 19 lowercase "
                  "letters, digits or -: " +
                  h.name};
    }
    if (c->FindHost(h.name)) throw Error{r.At(t) + "two hosts are named " + h.name};
    const std::string kind = r.String("kind", "", true);
    if (kind == "local") {
      h.kind = HostKind::kLocal;
    } else if (kind == "netns") {
      h.kind = HostKind::kNetns;
    } else if (kind == "ssh") {
      h.kind = HostKind::kSsh;
    } else {
      throw Error{r.At(t) + "hosts.kind must be local, netns or ssh: " + kind};
    }
    h.address = r.String("address", h.kind == HostKind::kLocal ? "127.0.0.1" : "",
                         h.kind != HostKind::kLocal);
    if (h.kind == HostKind::kSsh) {
      if (!std::regex_match(h.address, kSshAddress)) {
        throw Error{r.At(t) + "hosts.address of ssh host " + h.name +
                    " must be a host name or address: " + h.address};
      }
      h.ssh_user = r.String("ssh_user", "");
      if (!h.ssh_user.empty() && !std::regex_match(h.ssh_user, kSshUser)) {
        throw Error{r.At(t) + "hosts.ssh_user is not a user name: " + h.ssh_user};
      }
      h.ssh_port = static_cast<uint16_t>(r.Integer("ssh_port", 22, 1, 65535));
    } else {
      if (t.contains("ssh_user") || t.contains("ssh_port")) {
        throw Error{r.At(t) + "ssh_user and ssh_port are for ssh hosts only (" + h.name + ")"};
      }
      if (!Ipv4(h.address)) {
        throw Error{r.At(t) + "hosts.address of " + h.name +
                    " must be an IPv4 address: " + h.address};
      }
    }
    if (h.kind == HostKind::kNetns) {
      if (c->bridge_address.empty()) {
        throw Error{r.At(t) + "netns host " + h.name + " needs cluster.bridge_address"};
      }
      const uint32_t a = *Ipv4(h.address), b = *Ipv4(c->bridge_address);
      if (!HostAddressIn(a, b, c->prefix_len) || a == b) {
        throw Error{r.At(t) + "hosts.address " + h.address + " of " + h.name +
                    " is not a host address in " + c->bridge_address + "/" +
                    std::to_string(c->prefix_len) + " other than the bridge's"};
      }
    }
    if (h.kind != HostKind::kLocal && !addresses.insert(h.address).second) {
      throw Error{r.At(t) + "two hosts have the address " + h.address};
    }
    c->hosts.push_back(std::move(h));
  }
  if (std::count_if(c->hosts.begin(), c->hosts.end(),
                    [](const Host& h) { return h.kind == HostKind::kLocal; }) > 1) {
    throw Error{file + ": more than one local host (this machine is one host)"};
  }
}

ServiceType ParseType(const std::string& s, const Reader& r, const toml::node& at) {
  for (ServiceType t : {ServiceType::kPostgresql, ServiceType::kMemcached, ServiceType::kCompute,
                        ServiceType::kHub, ServiceType::kHaproxy}) {
    if (s == ServiceTypeName(t)) return t;
  }
  throw Error{r.At(at) +
              "services.type must be postgresql, memcached, compute, hub or haproxy: " + s};
}

void ParseServices(const toml::table& root, const std::string& file, Cluster* c) {
  const toml::array* services = ArrayOfTables(root, "services", file);
  if (!services || services->empty()) throw Error{file + ": no [[services]]"};
  if (services->size() > kMaxServices) {
    throw Error{file + ": more than " + std::to_string(kMaxServices) + " services"};
  }
  std::map<ServiceType, int> counts;
  std::set<std::pair<std::string, uint16_t>> ports;
  std::set<std::string> names;
  for (const toml::node& node : *services) {
    const toml::table& t = *node.as_table();
    Reader r(t, "services", file);
    r.Only({"type", "name", "host", "port", "kernel", "uid_base", "uid_count", "max_sessions",
            "stats_port", "tls_port"});
    Service s;
    s.type = ParseType(r.String("type", "", true), r, t);
    s.name =
        r.String("name", std::string(ServiceTypeName(s.type)) + std::to_string(++counts[s.type]));
    if (!std::regex_match(s.name, kServiceName)) {
      throw Error{r.At(t) + "services.name must be lowercase letters, digits and -: " + s.name};
    }
    if (!names.insert(s.name).second) throw Error{r.At(t) + "two services are named " + s.name};
    s.host = r.String("host", "", true);
    const Host* h = c->FindHost(s.host);
    if (!h) throw Error{r.At(t) + "service " + s.name + " is on an unknown host " + s.host};
    s.port = static_cast<uint16_t>(r.Integer("port", DefaultPort(s.type), 1, 65535));
    const bool compute = s.type == ServiceType::kCompute;
    const bool haproxy = s.type == ServiceType::kHaproxy;
    for (std::string_view k : {"kernel", "uid_base", "uid_count", "max_sessions"}) {
      if (!compute && t.contains(k)) {
        throw Error{r.At(t) + "services." + std::string(k) + " is for compute services only (" +
                    s.name + ")"};
      }
    }
    if (!haproxy && (t.contains("stats_port") || t.contains("tls_port"))) {
      throw Error{r.At(t) + "services.stats_port and tls_port are for haproxy only (" + s.name +
                  ")"};
    }
    if (compute) {
      s.kernel = r.String("kernel", "sage");
      if (s.kernel != "sage" && s.kernel != "python") {
        throw Error{r.At(t) + "services.kernel must be sage or python: " + s.kernel};
      }
      if (!t.contains("uid_base")) {
        throw Error{r.At(t) + "compute service " + s.name +
                    " needs uid_base (the first of the uids its sessions run as)"};
      }
      s.uid_base = static_cast<uint32_t>(r.Integer("uid_base", 0, 1000, 4000000000LL));
      s.uid_count = static_cast<uint32_t>(r.Integer("uid_count", 1000, 1, 1000000));
      s.max_sessions = static_cast<uint32_t>(r.Integer("max_sessions", 32, 1, 100000));
    }
    if (haproxy) {
      s.stats_port = static_cast<uint16_t>(r.Integer("stats_port", 8404, 1, 65535));
      s.tls_port = static_cast<uint16_t>(r.Integer("tls_port", 443, 1, 65535));
      for (uint16_t p : {s.stats_port, s.tls_port}) {
        if (p == s.port || !ports.insert({h->address, p}).second) {
          throw Error{r.At(t) + "port " + std::to_string(p) + " on " + h->name + " is taken twice"};
        }
      }
    }
    if (!ports.insert({h->address, s.port}).second) {
      throw Error{r.At(t) + "port " + std::to_string(s.port) + " on " + h->name +
                  " is taken twice"};
    }
    c->services.push_back(std::move(s));
  }
}

// What a working cluster needs, and what must not overlap.
void CheckWhole(const Cluster& c, const std::string& file) {
  auto n = [&](ServiceType t) { return c.OfType(t).size(); };
  if (n(ServiceType::kPostgresql) > 1) {
    throw Error{file + ": more than one postgresql service (replication is not built yet)"};
  }
  if (n(ServiceType::kHub) > 0 &&
      (n(ServiceType::kPostgresql) == 0 || n(ServiceType::kCompute) == 0)) {
    throw Error{file + ": hubs need a postgresql service and at least one compute service"};
  }
  if (n(ServiceType::kHaproxy) > 0 && n(ServiceType::kHub) == 0) {
    throw Error{file + ": haproxy needs at least one hub"};
  }
  if (!c.floating_address.empty()) {
    const auto proxies = c.OfType(ServiceType::kHaproxy);
    if (proxies.size() < 2) {
      throw Error{file + ": cluster.floating_address needs two haproxy services (or more)"};
    }
    for (const Service* x : proxies) {
      if (x->port != proxies.front()->port || x->tls_port != proxies.front()->tls_port) {
        throw Error{file +
                    ": cluster.floating_address: every haproxy must listen on the same "
                    "port (the site's)"};
      }
      if (c.FindHost(x->host)->kind != HostKind::kNetns) {
        throw Error{file + ": cluster.floating_address: haproxy " + x->name +
                    " is not on a netns host (keepalived is deployed on netns hosts only)"};
      }
    }
    for (const Host& h : c.hosts) {
      if (h.address == c.floating_address) {
        throw Error{file + ": cluster.floating_address is host " + h.name + "'s address"};
      }
    }
  }
  if (c.WireGuard()) {
    const size_t most =
        std::min(size_t{1} << (32 - c.salvus_prefix), size_t{1} << (32 - c.sage_prefix)) - 2;
    if (c.hosts.size() > most) {
      throw Error{file + ": more hosts than tunnel addresses in salvus_network or sage_network"};
    }
    for (const Host& h : c.hosts) {
      if (h.kind != HostKind::kNetns) {
        throw Error{file + ": WireGuard networks are deployed on netns hosts only (" + h.name +
                    " is " + std::string(HostKindName(h.kind)) + ")"};
      }
      // A compute host holds compute servers only: a rooted one gains nothing.
      if (c.On(h, Cluster::Net::kSage) && c.On(h, Cluster::Net::kSalvus) &&
          std::any_of(c.services.begin(), c.services.end(), [&](const Service& s) {
            return s.host == h.name && s.type == ServiceType::kCompute;
          })) {
        throw Error{file + ": host " + h.name +
                    " runs compute beside other services; with WireGuard a compute host runs "
                    "compute servers only"};
      }
    }
  }
  const auto computes = c.OfType(ServiceType::kCompute);
  for (size_t i = 0; i < computes.size(); ++i) {
    for (size_t j = i + 1; j < computes.size(); ++j) {
      const Service& a = *computes[i];
      const Service& b = *computes[j];
      if (a.uid_base < uint64_t{b.uid_base} + b.uid_count &&
          b.uid_base < uint64_t{a.uid_base} + a.uid_count) {
        throw Error{file + ": the uid blocks of " + a.name + " and " + b.name + " overlap"};
      }
    }
  }
}

}  // namespace

std::expected<Cluster, std::string> ParseCluster(std::string_view text,
                                                 const std::filesystem::path& file) {
  const std::string name = file.string();
  if (text.size() > kMaxClusterFileBytes) {
    return std::unexpected(name + ": larger than " + std::to_string(kMaxClusterFileBytes) +
                           " bytes");
  }
  try {
    toml::table root;
    try {
      root = toml::parse(text, name);
    } catch (const toml::parse_error& e) {
      return std::unexpected(name + ":" + std::to_string(e.source().begin.line) + ": " +
                             std::string(e.description()));
    }
    for (const auto& [k, v] : root) {
      if (k != "cluster" && k != "hosts" && k != "services") {
        return std::unexpected(name + ":" + std::to_string(v.source().begin.line) +
                               ": unknown key " + std::string(k.str()));
      }
    }
    Cluster c;
    const auto dir = std::filesystem::absolute(file).parent_path();
    ParseClusterTable(root, name, dir, &c);
    ParseHosts(root, name, &c);
    ParseServices(root, name, &c);
    std::stable_sort(c.services.begin(), c.services.end(),
                     [](const Service& a, const Service& b) { return a.type < b.type; });
    CheckWhole(c, name);
    return c;
  } catch (const Error& e) {
    return std::unexpected(e.text);
  }
}

std::expected<Cluster, std::string> LoadCluster(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::unexpected("cannot read the cluster file " + file.string());
  std::string text(kMaxClusterFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  return ParseCluster(text, file);
}

}  // namespace salvus::admin
