#include "vault/service.h"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include "core/hex.h"
#include "vault/email.h"
#include "vault/mail.h"

namespace salvus::vault {

namespace {

proto::VaultReply WithId(uint64_t id) {
  proto::VaultReply r;
  r.set_id(id);
  return r;
}

}  // namespace

VaultService::VaultService(const VaultKeys& keys, EmailIndex& index, ServiceOptions o)
    : keys_(keys), index_(index), opt_(std::move(o)) {}

proto::VaultReply VaultService::ErrorReply(uint64_t id, proto::Error::Code code, std::string text) {
  proto::VaultReply r = WithId(id);
  r.mutable_error()->set_code(code);
  r.mutable_error()->set_text(std::move(text));
  return r;
}

std::variant<proto::VaultReply, MailJob> VaultService::Handle(const proto::VaultRequest& r,
                                                              int64_t now_s) {
  switch (r.body_case()) {
    case proto::VaultRequest::kRegisterEmail:
      return Register(r.id(), r.register_email(), now_s);
    case proto::VaultRequest::kLookup:
      return Lookup(r.id(), r.lookup());
    case proto::VaultRequest::kSendMail:
      return SendMail(r.id(), r.send_mail(), now_s);
    case proto::VaultRequest::kGetPublicKey: {
      proto::VaultReply out = WithId(r.id());
      out.mutable_public_key()->set_key(keys_.public_key.data(), keys_.public_key.size());
      return out;
    }
    case proto::VaultRequest::kHello:
      return ErrorReply(r.id(), proto::Error::BAD_REQUEST, "already authenticated");
    default:
      return ErrorReply(r.id(), proto::Error::BAD_REQUEST,
                        "a vault answers only registerEmail, lookup, sendMail and getPublicKey");
  }
}

std::variant<std::string, proto::VaultReply> VaultService::OpenEmail(uint64_t id,
                                                                     const std::string& sealed) {
  if (sealed.size() > kMaxSealedEmail) {
    return ErrorReply(id, proto::Error::BAD_REQUEST,
                      "sealed_email is over " + std::to_string(kMaxSealedEmail) + " bytes");
  }
  auto plain = keys_.OpenSealed(sealed);
  if (!plain) return ErrorReply(id, proto::Error::BAD_REQUEST, "sealed_email " + plain.error());
  auto email = NormalizeEmail(*plain);
  sodium_memzero(plain->data(), plain->size());
  if (!email) {
    return ErrorReply(id, proto::Error::BAD_REQUEST, "not an e-mail address: " + email.error());
  }
  return std::move(*email);
}

proto::VaultReply VaultService::Register(uint64_t id, const proto::VaultRegister& r,
                                         int64_t now_s) {
  if (!ValidAccountId(r.account_id())) {
    return ErrorReply(id, proto::Error::BAD_REQUEST, "account_id is not 32 lowercase hex digits");
  }
  auto opened = OpenEmail(id, r.sealed_email());
  if (auto* e = std::get_if<proto::VaultReply>(&opened)) return std::move(*e);
  std::string& email = std::get<std::string>(opened);
  auto done = index_.Register(keys_.IndexOf(email), r.account_id(), keys_.SealToSelf(email), now_s);
  sodium_memzero(email.data(), email.size());
  if (!done) {
    spdlog::error("register: the database failed: {}", done.error());
    return ErrorReply(id, proto::Error::INTERNAL, "the vault's database failed");
  }
  if (*done == EmailIndex::Registered::kAccountTaken) {
    return ErrorReply(id, proto::Error::BAD_REQUEST,
                      "account_id already has an e-mail address (choose a fresh random id)");
  }
  const bool created = *done == EmailIndex::Registered::kCreated;
  if (created) spdlog::info("registered an address for account {}", r.account_id());
  proto::VaultReply out = WithId(id);
  out.mutable_registered()->set_created(created);
  return out;
}

proto::VaultReply VaultService::Lookup(uint64_t id, const proto::VaultLookup& r) {
  auto opened = OpenEmail(id, r.sealed_email());
  if (auto* e = std::get_if<proto::VaultReply>(&opened)) return std::move(*e);
  std::string& email = std::get<std::string>(opened);
  auto account = index_.Lookup(keys_.IndexOf(email));
  sodium_memzero(email.data(), email.size());
  if (!account) {
    spdlog::error("lookup: the database failed: {}", account.error());
    return ErrorReply(id, proto::Error::INTERNAL, "the vault's database failed");
  }
  proto::VaultReply out = WithId(id);
  out.mutable_looked_up()->set_found(account->has_value());
  if (*account) out.mutable_looked_up()->set_account_id(**account);
  return out;
}

std::variant<proto::VaultReply, MailJob> VaultService::SendMail(uint64_t id,
                                                                const proto::VaultSendMail& r,
                                                                int64_t now_s) {
  if (!ValidAccountId(r.account_id())) {
    return ErrorReply(id, proto::Error::BAD_REQUEST, "account_id is not 32 lowercase hex digits");
  }
  if (r.kind() != proto::VaultSendMail::PASSWORD_RESET) {
    return ErrorReply(id, proto::Error::BAD_REQUEST, "unknown mail kind (PASSWORD_RESET)");
  }
  if (!ValidMailToken(r.token())) {
    return ErrorReply(id, proto::Error::BAD_REQUEST, "token is not 16 to 128 of [A-Za-z0-9_-]");
  }
  auto sealed = index_.SealedEmailOf(r.account_id());
  if (!sealed) {
    spdlog::error("send_mail: the database failed: {}", sealed.error());
    return ErrorReply(id, proto::Error::INTERNAL, "the vault's database failed");
  }
  if (!*sealed) return ErrorReply(id, proto::Error::NOT_FOUND, "no address for that account");
  if (!AllowMail(r.account_id(), now_s)) {
    return ErrorReply(id, proto::Error::RATE_LIMITED,
                      "over " + std::to_string(kMailsPerAccount) +
                          " mails to this account within an hour; try later");
  }
  auto email = keys_.OpenSealed(**sealed);
  if (!email) {
    spdlog::error("send_mail: the row of account {} does not open: {}", r.account_id(),
                  email.error());
    return ErrorReply(id, proto::Error::INTERNAL, "the vault's row for that account is damaged");
  }
  PasswordResetMail m{opt_.mail_from, *email, opt_.site_url, r.token(), now_s, core::RandomHex(16)};
  MailJob job{*email, ComposePasswordReset(m)};
  sodium_memzero(email->data(), email->size());
  return job;
}

bool VaultService::AllowMail(const std::string& account, int64_t now_s) {
  if (recent_mails_.size() >= kMaxMailHistory && !recent_mails_.count(account)) {
    // Forget the accounts whose mails are all older than the window.
    std::erase_if(recent_mails_,
                  [&](const auto& kv) { return kv.second.back() <= now_s - kMailWindow; });
    if (recent_mails_.size() >= kMaxMailHistory) return false;
  }
  auto& times = recent_mails_[account];
  while (!times.empty() && times.front() <= now_s - kMailWindow) times.pop_front();
  if (times.size() >= static_cast<size_t>(kMailsPerAccount)) return false;
  times.push_back(now_s);
  return true;
}

}  // namespace salvus::vault
