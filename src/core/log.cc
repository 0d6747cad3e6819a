#include "core/log.h"

#include <fcntl.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>

namespace salvus::core {
namespace {

// A log file only its owner reads (it names sessions, peers and paths), that
// no child process inherits: spdlog's own file sink opens it with fopen(3),
// mode 0666 less the umask and without close-on-exec.
class PrivateFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit PrivateFileSink(const std::string& path)
      : fd_(open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600)) {
    if (fd_ < 0) throw spdlog::spdlog_ex("cannot open the log file " + path, errno);
    // A file an older version left readable by everyone.
    if (fchmod(fd_, 0600) != 0) {
      const int e = errno;
      close(fd_);
      throw spdlog::spdlog_ex("cannot make the log file " + path + " private (chmod 0600)", e);
    }
  }
  ~PrivateFileSink() override { close(fd_); }
  PrivateFileSink(const PrivateFileSink&) = delete;
  PrivateFileSink& operator=(const PrivateFileSink&) = delete;

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    const char* p = buf.data();
    size_t left = buf.size();
    while (left > 0) {
      const ssize_t n = write(fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // a full disk loses log lines, not the process
      p += n;
      left -= static_cast<size_t>(n);
    }
  }
  void flush_() override {}

 private:
  int fd_;
};

}  // namespace

void InitLogging(const std::string& name, const std::string& level, const std::string& file) {
  std::shared_ptr<spdlog::logger> logger;
  if (file.empty()) {
    logger = spdlog::stderr_logger_mt(name);
  } else {
    logger = std::make_shared<spdlog::logger>(name, std::make_shared<PrivateFileSink>(file));
    spdlog::register_logger(logger);
  }
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%f [%n] [%l] %v");
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

}  // namespace salvus::core
