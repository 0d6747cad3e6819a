#include "monitor/monitor.h"

#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>

#include "core/clock.h"
#include "core/utf8.h"
#include "registry/encoding.h"
#include "store/await_store.h"

namespace salvus::monitor {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

std::optional<pid_t> ReadPidFile(const std::string& path) {
  auto text = ReadSmallFile(path);
  if (!text) return std::nullopt;
  std::string_view s = *text;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  pid_t pid = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), pid);
  if (ec != std::errc() || p != s.data() + s.size() || pid <= 0) return std::nullopt;
  return pid;
}

// A zombie has exited; so has a process without memory: the kernel frees it
// (statm reads 0) before the process turns into a zombie.
bool Exited(const Sample& s) { return s.state == 'Z' || s.state == 'X' || s.vsize_kb == 0; }

}  // namespace

Monitor::Monitor(asio::any_io_executor ex, store::Store& store, registry::Cache& cache,
                 MonitorOptions opt)
    : ex_(ex), store_(store), cache_(cache), opt_(std::move(opt)), timer_(ex) {}

Monitor::~Monitor() = default;

void Monitor::Stop() {
  stop_ = true;
  timer_.cancel();
}

asio::awaitable<void> Monitor::Sleep(std::chrono::milliseconds d) {
  if (stop_ || exited_) co_return;
  timer_.expires_after(d);
  boost::system::error_code ec;
  co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<std::optional<Monitor::Process>> Monitor::WaitForProcess() {
  const auto deadline = std::chrono::steady_clock::now() + opt_.pidfile_timeout;
  auto backoff = 50ms;
  bool said = false;
  for (;;) {
    if (auto pid = ReadPidFile(opt_.pidfile)) {
      auto s = ReadSample(*pid, host_, opt_.proc);
      if (s && !Exited(*s)) co_return Process{*pid, *s};
      if (!said) spdlog::info("{}: process {} is not running; waiting", opt_.pidfile, *pid);
    } else if (!said) {
      spdlog::info("waiting for {}", opt_.pidfile);
    }
    said = true;
    const auto now = std::chrono::steady_clock::now();
    if (stop_ || now >= deadline) co_return std::nullopt;
    co_await Sleep(std::min<std::chrono::milliseconds>(
        backoff, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now)));
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, 2s);
  }
}

asio::awaitable<bool> Monitor::Register(const Process& p) {
  store::Service s = opt_.service;
  s.pid = p.pid;
  s.monitor_pid = getpid();
  s.start_ms = StartTimeMs(p.sample, host_);
  s.stop_ms = 0;
  s.running = true;
  auto uid = ProcessUid(p.pid, opt_.proc);
  s.user = uid ? UserName(*uid) : "";
  // The database may be starting too (or restarting): keep trying while the
  // process lives.
  for (auto backoff = 100ms;; backoff = std::min<std::chrono::milliseconds>(backoff * 2, 5s)) {
    auto id = co_await store::AwaitStore<int64_t>(
        [&](auto cb) { store_.RegisterService(s, std::move(cb)); });
    if (id) {
      service_id_ = *id;
      auto cursor = co_await store::AwaitStore<store::LogCursor>(
          [&](auto cb) { store_.GetLogCursor(*id, std::move(cb)); });
      if (cursor) {
        saved_ = *cursor;
        break;
      }
      spdlog::warn("reading the log cursor of service {}: {}", *id, cursor.error());
    } else {
      spdlog::warn("registering {} {}: {}", s.type, s.name, id.error());
    }
    if (!CheckAlive() || stop_) co_return false;
    co_await Sleep(backoff);
  }
  cache_.Delete(registry::kServicesKey);
  spdlog::info("monitoring {} {} (pid {}) as service {}", s.type, s.name, s.pid, service_id_);
  co_return true;
}

void Monitor::WatchExit(pid_t pid) {
  // A pidfd is readable once the process has exited: no polling, and no
  // confusion with a later process that reuses the pid.
  if (!opt_.use_pidfd) return;
  const int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) {
    spdlog::info("pidfd_open: {}; checking /proc every interval instead", strerror(errno));
    return;
  }
  exit_fd_.emplace(ex_, fd);
  exit_fd_->async_wait(asio::posix::stream_descriptor::wait_read,
                       [this](boost::system::error_code ec) {
                         if (ec) return;
                         exited_ = true;
                         timer_.cancel();
                       });
}

bool Monitor::CheckAlive() {
  if (exited_) return false;
  if (exit_fd_) return true;  // the pidfd says when
  auto stat = ReadSmallFile(opt_.proc + "/" + std::to_string(pid_) + "/stat");
  auto s = stat ? ParseProcStat(*stat) : std::unexpected(std::string("gone"));
  if (!s || s->state == 'Z' || s->state == 'X' || s->vsize == 0 || s->starttime != starttime_) {
    exited_ = true;
  }
  return !exited_;
}

asio::awaitable<void> Monitor::WriteStatus(const Sample& s) {
  store::StatusRow st;
  st.service_id = service_id_;
  st.time_ms = s.time_ms;
  st.load1 = s.load.load1;
  st.load5 = s.load.load5;
  st.load15 = s.load.load15;
  st.pcpu = CpuPercent(prev_ ? &*prev_ : nullptr, s);
  st.pmem = s.pmem;
  st.cputime_s = s.cputime_s;
  st.walltime_s = s.walltime_s;
  st.vsize_kb = s.vsize_kb;
  st.rss_kb = s.rss_kb;
  if (!opt_.extra_file.empty()) {
    if (auto extra = ReadSmallFile(opt_.extra_file); extra && extra->size() <= 4096) {
      while (!extra->empty() && (extra->back() == '\n' || extra->back() == ' ')) extra->pop_back();
      core::Utf8Sanitizer u;
      u.Feed(*extra, &st.extra);
      u.Finish(&st.extra);
    }
  }
  prev_ = s;
  auto r = co_await store::AwaitStore<void>([&](auto cb) { store_.AddStatus(st, std::move(cb)); });
  if (!r) spdlog::warn("status of service {}: {}", service_id_, r.error());
  // Several intervals, so a status outlives one missed tick but not a dead monitor.
  const auto ttl = std::max<std::chrono::seconds>(
      10s, std::chrono::duration_cast<std::chrono::seconds>(opt_.interval * 3));
  cache_.Set(registry::StatusKey(service_id_), registry::EncodeStatus(st), ttl);
}

asio::awaitable<Monitor::Tail> Monitor::TailLog(bool final, size_t max_batches) {
  if (!tail_) co_return Tail::kDone;
  for (size_t i = 0; i < max_batches; ++i) {
    if (!pending_) {
      pending_ = tail_->Read(final);
      if (pending_->lines.empty() && pending_->cursor.inode == saved_.inode &&
          pending_->cursor.offset == saved_.offset) {
        pending_.reset();
        co_return Tail::kDone;
      }
    }
    std::vector<store::LogLine> lines;
    lines.reserve(pending_->lines.size());
    for (auto& l : pending_->lines) lines.push_back({service_id_, l.time_ms, l.text});
    auto r = co_await store::AwaitStore<void>([&](auto cb) {
      store_.AddLogLines(service_id_, std::move(lines), pending_->cursor, std::move(cb));
    });
    if (!r) {
      spdlog::warn("log of service {}: {} (retrying)", service_id_, r.error());
      co_return Tail::kFailed;
    }
    saved_ = pending_->cursor;
    const bool full = pending_->full;
    pending_.reset();
    if (!full) co_return Tail::kDone;
  }
  co_return Tail::kMore;
}

asio::awaitable<bool> Monitor::MarkStopped() {
  for (int attempt = 0; attempt < 10; ++attempt) {
    auto r = co_await store::AwaitStore<void>(
        [&](auto cb) { store_.MarkServiceStopped(service_id_, core::NowMs(), std::move(cb)); });
    if (r) {
      cache_.Delete(registry::kServicesKey);
      cache_.Delete(registry::StatusKey(service_id_));
      co_return true;
    }
    spdlog::warn("marking service {} stopped: {}", service_id_, r.error());
    timer_.expires_after(std::chrono::milliseconds(200 << std::min(attempt, 4)));
    boost::system::error_code ec;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return false;
}

asio::awaitable<int> Monitor::Run() {
  const int rc = co_await RunUntilDone();
  // Leave nothing pending on the executor: io_context::run can return.
  if (exit_fd_) exit_fd_->close();
  tail_.reset();
  co_return rc;
}

asio::awaitable<int> Monitor::RunUntilDone() {
  auto host = ReadHostInfo(opt_.proc);
  if (!host) {
    spdlog::error("{}", host.error());
    co_return 1;
  }
  host_ = *host;
  auto p = co_await WaitForProcess();
  if (!p) {
    if (stop_) co_return 0;
    spdlog::error("no running process in {} after {:.1f} s", opt_.pidfile,
                  std::chrono::duration<double>(opt_.pidfile_timeout).count());
    co_return 1;
  }
  pid_ = p->pid;
  starttime_ = p->sample.starttime;
  WatchExit(pid_);
  if (!co_await Register(*p)) {
    // It exited (or we were stopped) before the database took it all.
    if (stop_) co_return 0;
    if (service_id_ != 0) co_return co_await MarkStopped() ? 0 : 1;
    co_return 1;
  }
  if (!opt_.logfile.empty()) tail_ = std::make_unique<LogTail>(opt_.logfile, saved_, opt_.tail);

  auto next_status = std::chrono::steady_clock::now();
  while (!stop_ && CheckAlive()) {
    if (std::chrono::steady_clock::now() >= next_status) {
      auto s = ReadSample(pid_, host_, opt_.proc);
      if (!s || Exited(*s) || s->starttime != starttime_) {
        exited_ = true;
        break;
      }
      co_await WriteStatus(*s);
      next_status += opt_.interval;
      if (next_status < std::chrono::steady_clock::now()) {
        next_status = std::chrono::steady_clock::now() + opt_.interval;
      }
    }
    // A backlog (a first start on a big file) is read in slices between
    // status rows rather than all at once.
    const Tail t = co_await TailLog(false, 100);
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
        next_status - std::chrono::steady_clock::now());
    co_await Sleep(t == Tail::kMore ? 0ms : std::max(wait, 0ms));
  }

  if (!exited_) {
    // Stopped: save what the log has now; the next monitor continues from it.
    for (int i = 0; i < 100 && co_await TailLog(false, 1000) == Tail::kMore; ++i) {
    }
    spdlog::info("monitor stopping; service {} is still running", service_id_);
    co_return 0;
  }
  spdlog::info("service {} (pid {}) exited", service_id_, pid_);
  // The rest of the log, its unterminated last line included.
  bool drained = false;
  for (int attempt = 0; attempt < 10 && !drained; ++attempt) {
    Tail t;
    while ((t = co_await TailLog(true, 1000)) == Tail::kMore) {
    }
    drained = t == Tail::kDone;
    if (!drained) {
      timer_.expires_after(std::chrono::milliseconds(200 << std::min(attempt, 4)));
      boost::system::error_code ec;
      co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }
  const bool marked = co_await MarkStopped();
  co_return drained&& marked ? 0 : 1;
}

}  // namespace salvus::monitor
