#include "vault/mailer.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "core/hex.h"

namespace salvus::vault {

namespace {

struct Upload {
  const std::string* data;
  size_t at = 0;
};

size_t ReadBody(char* buf, size_t size, size_t n, void* user) {
  auto* u = static_cast<Upload*>(user);
  const size_t len = std::min(size * n, u->data->size() - u->at);
  std::memcpy(buf, u->data->data() + u->at, len);
  u->at += len;
  return len;
}

// curl's progress callback: non-zero aborts the transfer.
int Progress(void* abandon, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<std::atomic<bool>*>(abandon)->load() ? 1 : 0;
}

}  // namespace

Mailer::Mailer(MailerOptions o) : opt_(std::move(o)) {
  // Once, before any thread uses curl.
  static const CURLcode init = curl_global_init(CURL_GLOBAL_DEFAULT);
  (void)init;
  thread_ = std::thread([this] { Loop(); });
}

Mailer::~Mailer() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  abandon_ = true;
  cv_.notify_all();
  thread_.join();
}

bool Mailer::Submit(std::string to, std::string message, Done done) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopping_ || queue_.size() >= opt_.max_queue) return false;
    queue_.push_back(Job{std::move(to), std::move(message), std::move(done)});
  }
  cv_.notify_one();
  return true;
}

void Mailer::Loop() {
  for (;;) {
    Job j;
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      j = std::move(queue_.front());
      queue_.pop_front();
    }
    auto r = Deliver(j);
    j.done(std::move(r));
  }
}

std::expected<std::string, std::string> Mailer::Deliver(const Job& j) {
  return opt_.smtp_url.empty() ? WriteFile(j) : SendSmtp(j);
}

std::expected<std::string, std::string> Mailer::SendSmtp(const Job& j) {
  CURL* c = curl_easy_init();
  if (c == nullptr) return std::unexpected("libcurl could not start");
  Upload up{&j.message};
  curl_slist* rcpt = curl_slist_append(nullptr, ("<" + j.to + ">").c_str());
  const std::string from = "<" + opt_.mail_from + ">";
  curl_easy_setopt(c, CURLOPT_URL, opt_.smtp_url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, from.c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(c, CURLOPT_READFUNCTION, ReadBody);
  curl_easy_setopt(c, CURLOPT_READDATA, &up);
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, Progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &abandon_);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, static_cast<long>(opt_.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  if (opt_.smtp_require_tls)
    curl_easy_setopt(c, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  const CURLcode rc = curl_easy_perform(c);
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_slist_free_all(rcpt);
  curl_easy_cleanup(c);
  // Only curl's generic text and the reply code: a relay's own words may
  // quote the recipient.
  if (rc != CURLE_OK) {
    return std::unexpected(std::string("the SMTP relay did not take the mail: ") +
                           curl_easy_strerror(rc) +
                           (code != 0 ? " (reply " + std::to_string(code) + ")" : ""));
  }
  return std::string("the relay");
}

std::expected<std::string, std::string> Mailer::WriteFile(const Job& j) {
  const std::string path =
      opt_.mail_dir + "/" + std::to_string(std::time(nullptr)) + "-" + core::RandomHex(6) + ".eml";
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return std::unexpected("cannot create " + path + ": " + std::strerror(errno));
  const bool ok =
      write(fd, j.message.data(), j.message.size()) == static_cast<ssize_t>(j.message.size());
  const int saved = errno;
  close(fd);
  if (!ok) return std::unexpected("cannot write " + path + ": " + std::strerror(saved));
  return path;
}

}  // namespace salvus::vault
