#include "accounts/password_pool.h"

#include <pthread.h>
#include <sodium.h>
#include <sys/resource.h>
#include <unistd.h>

#include <array>

namespace salvus::accounts {

std::expected<PasswordParams, std::string> PasswordParamsNamed(std::string_view name) {
  if (name == "interactive") {
    return PasswordParams{crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
  }
  if (name == "moderate") {
    return PasswordParams{crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE};
  }
  if (name == "sensitive") {
    return PasswordParams{crypto_pwhash_OPSLIMIT_SENSITIVE, crypto_pwhash_MEMLIMIT_SENSITIVE};
  }
  if (name == "min") return PasswordParams{crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
  return std::unexpected("unknown password hash cost \"" + std::string(name) +
                         "\": use interactive, moderate, sensitive or min");
}

std::string CheckPassword(std::string_view password) {
  if (password.size() < kMinPassword) {
    return "a password has at least " + std::to_string(kMinPassword) + " characters";
  }
  if (password.size() > kMaxPassword) {
    return "a password has at most " + std::to_string(kMaxPassword) + " bytes";
  }
  return "";
}

PasswordPool::PasswordPool(PasswordPoolOptions o) : opt_(o) {
  // A password nobody knows, hashed as real ones are.
  std::array<unsigned char, 32> random;
  randombytes_buf(random.data(), random.size());
  std::string secret(reinterpret_cast<const char*>(random.data()), random.size());
  auto h = DoHash(secret);
  if (h) dummy_hash_ = std::move(*h);
  for (unsigned i = 0; i < std::max(1u, opt_.threads); ++i) {
    threads_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "salvus-pwhash");
      // Below the event loops: a flood of sign-ins takes the CPU they leave,
      // not the CPU that answers everyone else.
      if (opt_.nice > 0) setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), opt_.nice);
      Loop();
    });
  }
}

PasswordPool::~PasswordPool() { Stop(); }

void PasswordPool::Stop() {
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    dropped.swap(queue_);
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  dropped.clear();  // their coroutines are destroyed here, unresumed
}

size_t PasswordPool::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

bool PasswordPool::Submit(std::function<void()> job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= opt_.max_queue) return false;
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
  return true;
}

void PasswordPool::Loop() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job();
  }
}

PasswordPool::HashResult PasswordPool::DoHash(std::string& password) {
  char out[crypto_pwhash_STRBYTES];
  const int rc = crypto_pwhash_str(out, password.data(), password.size(), opt_.params.opslimit,
                                   opt_.params.memlimit);
  sodium_memzero(password.data(), password.size());
  if (rc != 0) return std::unexpected(PoolError::kFailed);
  return std::string(out);
}

PasswordPool::VerifyResult PasswordPool::DoVerify(const std::string& hash, std::string& password) {
  Verdict v;
  // An empty or malformed hash still costs a verification (the dummy's),
  // and still fails.
  const bool readable = hash.size() < crypto_pwhash_STRBYTES && !hash.empty();
  const std::string& h = readable ? hash : dummy_hash_;
  v.ok = crypto_pwhash_str_verify(h.c_str(), password.data(), password.size()) == 0 && readable;
  sodium_memzero(password.data(), password.size());
  if (v.ok) {
    v.needs_rehash =
        crypto_pwhash_str_needs_rehash(h.c_str(), opt_.params.opslimit, opt_.params.memlimit) != 0;
  }
  return v;
}

}  // namespace salvus::accounts
