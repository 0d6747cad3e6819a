// Password hashing off the event loops: Argon2id (libsodium
// crypto_pwhash_str), on a few threads of its own, fed by a bounded queue.
// A hash costs tens of milliseconds and tens of megabytes by design, so a
// flood of sign-ins must neither stall a hub's event loop nor queue without
// end: when the queue is full a call answers kBusy at once, and the caller
// says "try again" instead of waiting.
//
// Results come back on the executor of the coroutine that asked, never on a
// pool thread.
//
// Thread-safety: Hash and Verify may be called from any thread. Stop (or
// the destructor) joins the threads and drops the queued calls: their
// coroutines are destroyed without resuming, on the calling thread, so stop
// the event loops that wait on the pool first, and destroy them after.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <expected>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace salvus::accounts {

// Argon2id's cost: passes and memory.
struct PasswordParams {
  unsigned long long opslimit = 0;
  size_t memlimit = 0;
};

// "interactive" (the default: ~64 MB), "moderate", "sensitive", or "min"
// (libsodium's least: for tests only).
std::expected<PasswordParams, std::string> PasswordParamsNamed(std::string_view name);

// What a password may be: 8 to kMaxPassword bytes (a longer one is refused,
// not truncated: a hostile client must not make the hub hash megabytes).
inline constexpr size_t kMinPassword = 8;
inline constexpr size_t kMaxPassword = 1024;
// Empty when `password` may be used; else why not, for the user.
std::string CheckPassword(std::string_view password);

struct PasswordPoolOptions {
  unsigned threads = 2;
  size_t max_queue = 64;  // calls waiting for a thread; more are kBusy
  PasswordParams params;  // REQUIRES: set (PasswordParamsNamed)
  // The hashing threads' nice value, above the process's own (Linux: per
  // thread), so the event loops come first when the CPU is short. 0: same.
  int nice = 10;
};

enum class PoolError {
  kBusy,    // the queue is full: nothing was done
  kFailed,  // libsodium failed (out of memory)
};

struct Verdict {
  bool ok = false;            // the password matches the hash
  bool needs_rehash = false;  // ok, but hashed with other parameters
};

class PasswordPool {
 public:
  using HashResult = std::expected<std::string, PoolError>;
  using VerifyResult = std::expected<Verdict, PoolError>;

  // REQUIRES: sodium_init() succeeded.
  explicit PasswordPool(PasswordPoolOptions o);
  ~PasswordPool();
  PasswordPool(const PasswordPool&) = delete;
  PasswordPool& operator=(const PasswordPool&) = delete;

  // A crypto_pwhash_str of `password` with the pool's parameters.
  boost::asio::awaitable<HashResult> Hash(std::string password) {
    return Run<HashResult>([this, p = std::move(password)]() mutable { return DoHash(p); });
  }
  // Whether `password` matches `hash` (a crypto_pwhash_str string). An
  // unreadable hash does not match. Verifying against dummy_hash() costs
  // what a real verification costs: a sign-in for an account that does not
  // exist takes as long as one with a wrong password.
  boost::asio::awaitable<VerifyResult> Verify(std::string hash, std::string password) {
    return Run<VerifyResult>(
        [this, h = std::move(hash), p = std::move(password)]() mutable { return DoVerify(h, p); });
  }
  const std::string& dummy_hash() const { return dummy_hash_; }
  const PasswordParams& params() const { return opt_.params; }

  // Calls waiting for a thread now (for tests and metrics).
  size_t queued() const;
  void Stop();

 private:
  // Runs `work` on a pool thread; its result resumes the caller on its own
  // executor. kBusy at once when the queue is full.
  template <class R, class Work>
  boost::asio::awaitable<R> Run(Work work) {
    namespace asio = boost::asio;
    return asio::async_initiate<const asio::use_awaitable_t<>&, void(R)>(
        [this, work = std::move(work)](auto handler) mutable {
          auto h = std::make_shared<decltype(handler)>(std::move(handler));
          auto ex = asio::get_associated_executor(*h);
          auto job = [h, ex, work = std::move(work)]() mutable {
            R r = work();
            asio::post(ex, [h, r = std::move(r)]() mutable { (*h)(std::move(r)); });
          };
          if (!Submit(std::move(job))) {
            asio::post(ex, [h]() mutable { (*h)(R(std::unexpected(PoolError::kBusy))); });
          }
        },
        asio::use_awaitable);
  }
  bool Submit(std::function<void()> job);
  void Loop();
  HashResult DoHash(std::string& password);
  VerifyResult DoVerify(const std::string& hash, std::string& password);

  const PasswordPoolOptions opt_;
  std::string dummy_hash_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // GUARDED_BY(mu_)
  bool stopping_ = false;                    // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;
};

}  // namespace salvus::accounts
