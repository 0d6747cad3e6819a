// Sends mail off the event loop: one worker thread takes mails from a
// bounded queue and hands each to an SMTP relay (libcurl), or, without a
// relay, writes it as a .eml file into a folder (0600), for a laptop.
//
// Thread-safety: Submit may be called from any thread; `done` runs on the
// worker thread (post it back to the caller's loop).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <expected>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace salvus::vault {

struct MailerOptions {
  std::string smtp_url;              // smtp://host:port or smtps://host:port; empty: mail_dir
  bool smtp_require_tls = false;     // STARTTLS, or fail (smtp://)
  std::string mail_from;             // MAIL FROM (CheckMailFrom'd)
  std::string mail_dir;              // used when smtp_url is empty
  size_t max_queue = 64;             // mails waiting; more are refused
  std::chrono::seconds timeout{30};  // one delivery, at most
};

class Mailer {
 public:
  // Where a mail went: "the relay" or the file's path; or why it did not.
  using Done = std::function<void(std::expected<std::string, std::string>)>;

  explicit Mailer(MailerOptions o);
  ~Mailer();  // delivers nothing more; abandons the mail in hand
  Mailer(const Mailer&) = delete;
  Mailer& operator=(const Mailer&) = delete;

  // Queues a mail to `to` (already valid). False when the queue is full.
  bool Submit(std::string to, std::string message, Done done);

 private:
  struct Job {
    std::string to, message;
    Done done;
  };
  void Loop();
  std::expected<std::string, std::string> Deliver(const Job& j);
  std::expected<std::string, std::string> SendSmtp(const Job& j);
  std::expected<std::string, std::string> WriteFile(const Job& j);

  const MailerOptions opt_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;             // GUARDED_BY(mu_)
  bool stopping_ = false;             // GUARDED_BY(mu_)
  std::atomic<bool> abandon_{false};  // a delivery under way gives up
  std::thread thread_;
};

}  // namespace salvus::vault
