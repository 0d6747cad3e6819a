// `salvus vault` and `salvus vault init`: see src/vault/server.h.
#include <signal.h>
#include <sodium.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/metrics_server.h"
#include "core/token.h"
#include "vault/email_index.h"
#include "vault/keys_file.h"
#include "vault/mail.h"
#include "vault/mailer.h"
#include "vault/passphrase.h"
#include "vault/server.h"
#include "vault/service.h"

namespace salvus::cli {

namespace asio = boost::asio;

namespace {

struct KeyFlags {
  std::string keys;
  int passphrase_fd = -1;
  bool no_passphrase = false;
  std::string kdf = "moderate";
};

struct VaultFlags {
  KeyFlags k;
  bool create = false;
  std::string listen = "127.0.0.1:6100";
  std::string token_file;
  std::string db;
  std::string tls_cert, tls_key;
  std::string smtp_url;
  bool smtp_require_tls = false;
  std::string mail_from = "noreply@salvus.invalid";
  std::string mail_dir;
  std::string site_url = "http://127.0.0.1:8080";
  std::string port_file;
  std::string metrics_listen;
  unsigned max_connections = 64;
  bool exit_with_parent = false;
  std::string log_level = "info";
  std::string log_file;
};

// The passphrase: from --passphrase-fd, else asked on the terminal.
std::expected<std::string, std::string> Passphrase(const KeyFlags& k, bool confirm) {
  if (k.passphrase_fd >= 0) return vault::ReadPassphraseFd(k.passphrase_fd);
  return vault::PromptPassphrase(confirm ? "New vault passphrase: " : "Vault passphrase: ",
                                 confirm);
}

// Makes a keys file; the new keys.
std::expected<vault::VaultKeys, std::string> CreateKeys(const KeyFlags& k) {
  auto kdf = vault::KdfParamsNamed(k.kdf);
  if (!kdf) return std::unexpected("--kdf: " + kdf.error());
  std::optional<std::string> pass;
  if (!k.no_passphrase) {
    auto p = Passphrase(k, true);
    if (!p) return std::unexpected(p.error());
    pass = std::move(*p);
  }
  vault::VaultKeys keys = vault::VaultKeys::Generate();
  auto w = vault::WriteKeysFile(k.keys, keys, pass, *kdf);
  if (pass) sodium_memzero(pass->data(), pass->size());
  if (!w) return std::unexpected(w.error());
  return keys;
}

std::string PublicKeyHex(const vault::VaultKeys& k) {
  return core::HexEncode(k.public_key.data(), k.public_key.size());
}

// No core dumps and no ptrace by this user's other processes: the keys are
// in this process's memory.
void Harden() {
  prctl(PR_SET_DUMPABLE, 0);
  rlimit none{0, 0};
  setrlimit(RLIMIT_CORE, &none);
}

int RunInit(const KeyFlags& k) {
  Harden();
  if (!vault::InitSodium()) {
    std::cerr << "salvus vault init: libsodium cannot start\n";
    return 1;
  }
  auto keys = CreateKeys(k);
  if (!keys) {
    std::cerr << "salvus vault init: " << keys.error() << "\n";
    return 1;
  }
  std::cout << "keys written to " << k.keys << " (mode 0600"
            << (k.no_passphrase ? ", NOT encrypted: for an embedded vault only" : ", encrypted")
            << ")\npublic key " << PublicKeyHex(*keys) << "\n";
  return 0;
}

bool IsLoopback(const std::string& host) {
  boost::system::error_code ec;
  auto a = asio::ip::make_address(host, ec);
  return !ec && a.is_loopback();
}

int RunVault(const VaultFlags& f) {
  Harden();
  if (f.exit_with_parent) {
    const pid_t parent = getppid();
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) return 1;
  }
  core::InitLogging("vault", f.log_level, f.log_file);
  auto fail = [](const std::string& why) {
    std::cerr << "salvus vault: " << why << "\n";
    return 2;
  };
  auto listen = core::ParseHostPort(f.listen);
  if (!listen) return fail(listen.error());
  if (f.tls_cert.empty() != f.tls_key.empty()) return fail("--tls-cert and --tls-key go together");
  if (f.tls_cert.empty() && !IsLoopback(listen->host)) {
    return fail("without --tls-cert and --tls-key the vault listens on a loopback address only");
  }
  if (f.smtp_url.empty() == f.mail_dir.empty()) {
    return fail("give either --smtp-url (a relay) or --mail-dir (mails written as files)");
  }
  if (!f.smtp_url.empty() && !f.smtp_url.starts_with("smtp://") &&
      !f.smtp_url.starts_with("smtps://")) {
    return fail("--smtp-url must start with smtp:// or smtps://");
  }
  auto from = vault::CheckMailFrom(f.mail_from);
  if (!from) return fail(from.error());
  auto site = vault::NormalizeSiteUrl(f.site_url);
  if (!site) return fail("--site-url: " + site.error());
  if (!f.mail_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(f.mail_dir, ec);
    if (ec) return fail("cannot create --mail-dir " + f.mail_dir + ": " + ec.message());
    std::filesystem::permissions(f.mail_dir, std::filesystem::perms::owner_all, ec);
  }
  auto token = core::ReadTokenFile(f.token_file);
  if (!token) return fail(token.error());
  if (!vault::InitSodium()) return fail("libsodium cannot start");

  std::optional<vault::VaultKeys> keys;
  bool encrypted = true;
  if (f.create && !std::filesystem::exists(f.k.keys)) {
    auto made = CreateKeys(f.k);
    if (!made) return fail(made.error());
    keys = std::move(*made);
    encrypted = !f.k.no_passphrase;
    spdlog::info("made new keys in {} (public key {})", f.k.keys, PublicKeyHex(*keys));
  } else {
    auto loaded = vault::ReadKeysFile(f.k.keys, [&] { return Passphrase(f.k, false); });
    if (!loaded) return fail(loaded.error());
    if (!loaded->encrypted && f.k.passphrase_fd >= 0) close(f.k.passphrase_fd);
    keys = std::move(loaded->keys);
    encrypted = loaded->encrypted;
  }
  if (!encrypted) {
    spdlog::warn(
        "the keys file {} is not encrypted (embedded mode): a production vault wants a "
        "passphrase (salvus vault init, without --no-passphrase)",
        f.k.keys);
  }
  auto index = vault::EmailIndex::Open(f.db, *keys);
  if (!index) return fail(index.error());
  if (auto n = index->Count()) spdlog::info("{} addresses in {}", *n, f.db);

  signal(SIGPIPE, SIG_IGN);
  // Before the mailer and the server: both post to it until they are gone.
  asio::io_context io(1);
  vault::MailerOptions mo;
  mo.smtp_url = f.smtp_url;
  mo.smtp_require_tls = f.smtp_require_tls;
  mo.mail_from = *from;
  mo.mail_dir = f.mail_dir;
  vault::Mailer mailer(mo);
  if (f.smtp_url.empty()) {
    spdlog::info("no SMTP relay: mails are written to {} as .eml files", f.mail_dir);
  } else {
    spdlog::info("mail goes to the relay {}", f.smtp_url);
  }
  vault::VaultService service(*keys, *index, {*from, *site});
  vault::ServerOptions o;
  o.listen = *listen;
  o.token = *token;
  o.tls_cert = f.tls_cert;
  o.tls_key = f.tls_key;
  o.port_file = f.port_file;
  o.max_connections = f.max_connections;
  std::unique_ptr<vault::VaultServer> server;
  try {
    server = std::make_unique<vault::VaultServer>(io, o, service, mailer);
  } catch (const std::exception& e) {
    return fail(std::string("cannot load --tls-cert/--tls-key: ") + e.what());
  }
  core::metrics::MetricsServer metrics(io, core::metrics::Default());
  if (!f.metrics_listen.empty()) {
    try {
      spdlog::info("metrics on http://{}/metrics (port {})", f.metrics_listen,
                   metrics.Start(f.metrics_listen));
    } catch (const std::exception& e) {
      return fail(std::string("--metrics-listen: ") + e.what());
    }
  }
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: shutting down", sig);
    server->Stop();
    metrics.Stop();
  });
  int exit_code = 0;
  asio::co_spawn(io, server->Run(), [&](const std::exception_ptr& e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::critical("vault failed: {}", ex.what());
        exit_code = 1;
      }
    }
    signals.cancel();
    server->Stop();
    metrics.Stop();
  });
  io.run();
  return exit_code;
}

void AddKeyOptions(CLI::App* c, KeyFlags* k) {
  c->add_option("--keys", k->keys, "the vault's keys file (0600, owned by this user; required)");
  c->add_option("--passphrase-fd", k->passphrase_fd,
                "read the passphrase's first line from this file descriptor (default: ask on "
                "the terminal; never give it in argv or the environment)");
  c->add_flag("--no-passphrase", k->no_passphrase,
              "make the keys file unencrypted (an embedded vault on one machine only)");
  c->add_option("--kdf", k->kdf,
                "Argon2id cost for a new keys file: interactive, moderate, sensitive")
      ->capture_default_str();
}

}  // namespace

Command AddVaultCommand(CLI::App& app) {
  auto f = std::make_shared<VaultFlags>();
  auto init = std::make_shared<KeyFlags>();
  CLI::App* c = app.add_subcommand(
      "vault",
      "Run the vault: the only holder of e-mail addresses (sealed); hubs register, look up "
      "and mail accounts through it");
  CLI::App* i = c->add_subcommand("init", "Make the vault's keys file (asks for a passphrase)");
  AddKeyOptions(i, init.get());
  AddKeyOptions(c, &f->k);
  c->add_flag("--create", f->create, "make the keys file if it does not exist");
  c->add_option("--listen", f->listen, "HOST:PORT for hubs (port 0: any free port)")
      ->capture_default_str();
  c->add_option("--token-file", f->token_file, "file holding the cluster token hubs must present");
  c->add_option("--db", f->db, "the vault's SQLite file (made 0600 if missing)");
  c->add_option("--tls-cert", f->tls_cert, "PEM certificate chain: serve TLS");
  c->add_option("--tls-key", f->tls_key, "PEM private key for --tls-cert");
  c->add_option("--smtp-url", f->smtp_url, "the mail relay: smtp://HOST:PORT or smtps://HOST:PORT");
  c->add_flag("--smtp-require-tls", f->smtp_require_tls, "STARTTLS with an smtp:// relay, or fail");
  c->add_option("--mail-from", f->mail_from, "the sender's address")->capture_default_str();
  c->add_option("--mail-dir", f->mail_dir, "without a relay: write each mail here as a .eml file");
  c->add_option("--site-url", f->site_url, "the site's address, for links in mails")
      ->capture_default_str();
  c->add_option("--port-file", f->port_file, "write the listening port here once ready");
  c->add_option("--metrics-listen", f->metrics_listen,
                "HOST:PORT answering GET /metrics (Prometheus) with the vault's counts (no "
                "addresses, no accounts); keep it on an operator's network");
  c->add_option("--max-connections", f->max_connections, "hub connections at once")
      ->capture_default_str();
  c->add_flag("--exit-with-parent", f->exit_with_parent,
              "stop when the parent process exits (used by `salvus up`)");
  c->add_option("--log-level", f->log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  c->add_option("--log-file", f->log_file, "log here instead of stderr");
  return {c, [c, i, f, init] {
            if (c->got_subcommand(i)) {
              if (init->keys.empty()) {
                std::cerr << "salvus vault init: --keys is required\n";
                return 2;
              }
              return RunInit(*init);
            }
            if (f->k.keys.empty() || f->token_file.empty() || f->db.empty()) {
              std::cerr << "salvus vault: --keys, --token-file and --db are required\n";
              return 2;
            }
            return RunVault(*f);
          }};
}

}  // namespace salvus::cli
