#include "admin/files.h"

#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "admin/process.h"
#include "core/hex.h"

namespace salvus::admin {

namespace fs = std::filesystem;

namespace {

// The OpenSSL configuration of the cluster CA: a CA that signs only leaves,
// and leaves that are servers and clients but never CAs.
constexpr const char* kOpensslConfig = R"([req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth,clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
)";

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return core::HexEncode(raw);
}

std::expected<void, std::string> WriteSecret(const fs::path& path, const std::string& content) {
  auto w = WriteIfChanged(path, content, 0600);
  if (!w) return std::unexpected(w.error());
  return {};
}

std::expected<void, std::string> Openssl(const std::vector<std::string>& args,
                                         const StatePaths& p) {
  std::vector<std::string> argv{"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  const mode_t old = umask(077);
  ProcessOptions o;
  o.cwd = p.secrets.string();
  RunResult r = Run(argv, o);
  umask(old);
  if (!r.ok()) return std::unexpected(Quote(argv) + ": " + r.output);
  return {};
}

}  // namespace

std::expected<void, std::string> MakeStateFolders(const StatePaths& p) {
  for (const auto& [dir, mode] :
       {std::pair{p.root, 0755}, std::pair{p.secrets, 0700}, std::pair{p.conf, 0755},
        std::pair{p.run, 0755}, std::pair{p.log, 0755}, std::pair{p.data, 0755}}) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return std::unexpected("cannot make " + dir.string() + ": " + ec.message());
    if (chmod(dir.c_str(), static_cast<mode_t>(mode)) != 0) {
      return std::unexpected("chmod " + dir.string() + ": " + std::strerror(errno));
    }
  }
  return {};
}

std::string ReadSmallFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string s(1 << 20, '\0');
  in.read(s.data(), static_cast<std::streamsize>(s.size()));
  s.resize(static_cast<size_t>(in.gcount()));
  return s;
}

pid_t ReadPid(const fs::path& path) {
  std::istringstream in(ReadSmallFile(path));
  long pid = 0;
  if (!(in >> pid) || pid <= 0 || pid > 1 << 30) return 0;
  return static_cast<pid_t>(pid);
}

std::expected<bool, std::string> WriteIfChanged(const fs::path& path, const std::string& content,
                                                mode_t mode) {
  std::error_code ec;
  if (fs::exists(path, ec) && ReadSmallFile(path) == content) {
    chmod(path.c_str(), mode);
    return false;
  }
  const fs::path tmp = path.string() + ".new";
  {
    fs::remove(tmp, ec);
    const mode_t old = umask(0077);
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    umask(old);
    out << content;
    if (!out.flush()) return std::unexpected("cannot write " + tmp.string());
  }
  if (chmod(tmp.c_str(), mode) != 0 || rename(tmp.c_str(), path.c_str()) != 0) {
    return std::unexpected("cannot write " + path.string() + ": " + std::strerror(errno));
  }
  return true;
}

std::expected<void, std::string> EnsureSecrets(const Cluster& c, const StatePaths& p) {
  if (!fs::exists(p.Token())) {
    if (auto r = WriteSecret(p.Token(), RandomHex(32) + "\n"); !r) return r;
  }
  if (DatabasePassword(p).empty()) {
    // host:port:database:user:password, for every database host (libpq's
    // PGPASSFILE): the password never appears on a command line.
    if (auto r = WriteSecret(p.Pgpass(), "*:*:*:postgres:" + RandomHex(24) + "\n"); !r) return r;
  }
  if (auto r = WriteSecret(p.secrets / "openssl.cnf", kOpensslConfig); !r) return r;
  const std::vector<std::string> key{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                     "-nodes"};
  if (!fs::exists(p.Ca()) || !fs::exists(p.secrets / "ca.key")) {
    std::vector<std::string> args{"req", "-config", "openssl.cnf", "-extensions", "ca", "-x509"};
    args.insert(args.end(), key.begin(), key.end());
    args.insert(args.end(), {"-keyout", "ca.key", "-out", "ca.pem", "-days", "3650", "-subj",
                             "/CN=salvus cluster " + c.name + " CA"});
    if (auto r = Openssl(args, p); !r) return r;
  }
  for (const Service& s : c.services) {
    if (s.type != ServiceType::kCompute && s.type != ServiceType::kHub &&
        s.type != ServiceType::kHaproxy) {
      continue;
    }
    if (fs::exists(p.Cert(s.name)) && fs::exists(p.Key(s.name))) continue;
    const Host& h = *c.FindHost(s.host);
    const bool ip =
        h.kind != HostKind::kSsh || h.address.find_first_not_of("0123456789.") == std::string::npos;
    std::vector<std::string> args{"req",   "-config", "openssl.cnf", "-extensions", "leaf",
                                  "-x509", "-CA",     "ca.pem",      "-CAkey",      "ca.key"};
    args.insert(args.end(), key.begin(), key.end());
    std::string san = std::string(ip ? "IP:" : "DNS:") + h.address;
    if (c.ServiceAddress(s) != h.address) san += ",IP:" + c.ServiceAddress(s);
    if (s.type == ServiceType::kHaproxy && !c.floating_address.empty()) {
      san += ",IP:" + c.floating_address;  // the site's address
    }
    args.insert(args.end(), {"-keyout", s.name + ".key", "-out", s.name + ".pem", "-days", "825",
                             "-subj", "/CN=" + s.name, "-addext", "subjectAltName=" + san});
    if (auto r = Openssl(args, p); !r) return r;
  }
  for (const auto& e : fs::directory_iterator(p.secrets)) {
    chmod(e.path().c_str(), 0600);
  }
  return {};
}

std::string DatabasePassword(const StatePaths& p) {
  std::string s = ReadSmallFile(p.Pgpass());
  const auto colon = s.rfind(':');
  if (colon == std::string::npos) return "";
  s = s.substr(colon + 1);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace salvus::admin
