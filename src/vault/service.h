// What the vault answers, apart from sockets: one request of an
// authenticated hub in, a reply out (or a mail to send, whose reply comes
// once it went). Tested alone (service_test.cc); server.cc wires it to
// connections and the Mailer.
//
// Caps on what a hub sends: a sealed address at most kMaxSealedEmail bytes,
// account ids and tokens of fixed shapes, and at most kMailsPerAccount mails
// per account within kMailWindow (a hub taken over cannot bury an address
// in mail).
//
// Thread-safety: none (the vault's event loop).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <variant>

#include "proto/salvus.pb.h"
#include "vault/email_index.h"
#include "vault/keys.h"

namespace salvus::vault {

inline constexpr size_t kMaxSealedEmail = 512;
inline constexpr int kMailsPerAccount = 5;
inline constexpr int64_t kMailWindow = 3600;  // seconds
// Accounts whose recent mails are remembered, at most (oldest forgotten).
inline constexpr size_t kMaxMailHistory = 100000;

struct ServiceOptions {
  std::string mail_from;  // CheckMailFrom'd
  std::string site_url;   // NormalizeSiteUrl'd
};

// A mail to send; its reply (mail_sent, or an error) once it went.
struct MailJob {
  std::string to;
  std::string message;
};

class VaultService {
 public:
  // `keys` and `index` must outlive the service.
  VaultService(const VaultKeys& keys, EmailIndex& index, ServiceOptions o);

  // `r` is not a hello (the server handles those). `now_s`: seconds since
  // the epoch. The reply's id is r.id().
  std::variant<proto::VaultReply, MailJob> Handle(const proto::VaultRequest& r, int64_t now_s);

  static proto::VaultReply ErrorReply(uint64_t id, proto::Error::Code code, std::string text);

 private:
  // The normalized address in a sealed box, or the error to answer.
  std::variant<std::string, proto::VaultReply> OpenEmail(uint64_t id, const std::string& sealed);
  proto::VaultReply Register(uint64_t id, const proto::VaultRegister& r, int64_t now_s);
  proto::VaultReply Lookup(uint64_t id, const proto::VaultLookup& r);
  std::variant<proto::VaultReply, MailJob> SendMail(uint64_t id, const proto::VaultSendMail& r,
                                                    int64_t now_s);
  // True (and counted) if the account may get another mail now.
  bool AllowMail(const std::string& account, int64_t now_s);

  const VaultKeys& keys_;
  EmailIndex& index_;
  ServiceOptions opt_;
  std::map<std::string, std::deque<int64_t>> recent_mails_;  // account -> send times
};

}  // namespace salvus::vault
