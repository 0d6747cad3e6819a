// The monitor: watches one service process (DESIGN.md, `salvus monitor`).
//
//   wait for the pidfile (backoff, bounded)
//   -> register the service (type, name, site, address, port, user, pid,
//      monitor pid, start time from /proc)
//   -> every interval: a status row (load, %cpu, %mem, cputime, walltime,
//      vsize, rss), the newest status into the cache, and the log file's new
//      lines into the log table (in batches, each stored with its cursor in
//      one transaction)
//   -> when the process exits (pidfd, or /proc if pidfd is unavailable): the
//      rest of the log, the service marked stopped, Run returns 0.
//
// A monitor restarted for a running service gets the same service id (the
// Store keys services by identity) and resumes the log where the last one
// stopped, so nothing is lost or stored twice. A store error never loses a
// log batch: it is kept and retried at the next tick.
//
// Runs on one executor (the Store's); not thread-safe. Cache calls block
// briefly (see registry/cache.h).
#pragma once

#include <sys/types.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "monitor/logtail.h"
#include "monitor/procstat.h"
#include "registry/cache.h"
#include "store/store.h"

namespace salvus::monitor {

struct MonitorOptions {
  std::string pidfile;
  std::string logfile;     // empty: no log tailing
  std::string extra_file;  // optional: a small JSON file the service keeps
                           // current (e.g. sessions in use); copied into
                           // each status row's `extra`
  store::Service service;  // type, name, site, address, port; the rest is filled in
  std::chrono::milliseconds interval{6000};
  std::chrono::milliseconds pidfile_timeout{std::chrono::minutes(2)};
  TailOptions tail;
  std::string proc = "/proc";
  // Learn of the exit from a pidfd (Linux >= 5.3); false, or a kernel
  // without it: from /proc at each tick.
  bool use_pidfd = true;
};

class Monitor {
 public:
  // REQUIRES: store and cache outlive the monitor; `ex` is the store's executor.
  Monitor(boost::asio::any_io_executor ex, store::Store& store, registry::Cache& cache,
          MonitorOptions opt);
  ~Monitor();

  // Returns 0 when the service exited (and was marked stopped) or Stop() was
  // called (the service then stays "running"; the next monitor takes over);
  // 1 when no live process appeared in the pidfile in time or the store
  // failed for good.
  boost::asio::awaitable<int> Run();

  // Ends Run soon (after saving the log read so far). Call on the executor.
  void Stop();

  int64_t service_id() const { return service_id_; }

 private:
  struct Process {
    pid_t pid;
    Sample sample;
  };
  boost::asio::awaitable<int> RunUntilDone();
  boost::asio::awaitable<std::optional<Process>> WaitForProcess();
  boost::asio::awaitable<bool> Register(const Process& p);
  void WatchExit(pid_t pid);
  bool CheckAlive();
  boost::asio::awaitable<void> WriteStatus(const Sample& s);
  // Stores up to max_batches of what the log has now. kFailed: the store
  // failed (the batch is kept for the next try); kMore: more is ready.
  enum class Tail { kDone, kMore, kFailed };
  boost::asio::awaitable<Tail> TailLog(bool final, size_t max_batches);
  boost::asio::awaitable<bool> MarkStopped();
  boost::asio::awaitable<void> Sleep(std::chrono::milliseconds d);

  boost::asio::any_io_executor ex_;
  store::Store& store_;
  registry::Cache& cache_;
  MonitorOptions opt_;
  HostInfo host_;
  boost::asio::steady_timer timer_;
  std::optional<boost::asio::posix::stream_descriptor> exit_fd_;
  pid_t pid_ = 0;
  uint64_t starttime_ = 0;
  std::optional<Sample> prev_;
  int64_t service_id_ = 0;
  std::unique_ptr<LogTail> tail_;
  std::optional<TailBatch> pending_;  // read but not stored yet
  store::LogCursor saved_;
  bool exited_ = false;
  bool stop_ = false;
};

}  // namespace salvus::monitor
