// The compute server's side of the zygote: starts it (the one fork of the
// main process, done before any thread exists) and exchanges
// ZygoteRequest / ZygoteEvent packets with it on the event loop.
#pragma once

#include <sys/types.h>

#include <boost/asio.hpp>
#include <deque>
#include <expected>
#include <functional>
#include <optional>
#include <string>

#include "compute/cgroup.h"
#include "compute/zygote.h"
#include "proto/salvus.pb.h"

namespace salvus::compute {

class ZygoteLink {
 public:
  // Forks the zygote. As root it becomes pid 1 of a new pid namespace, so
  // that if the compute server is killed, the kernel kills every process of
  // every session. Before that it sets up the sessions' cgroups where the
  // machine allows (the zygote's children join them). REQUIRES: no thread
  // has been started yet.
  static std::expected<ZygoteLink, std::string> Start(const ZygoteConfig& config, bool new_pid_ns);

  // The sessions' cgroups, or nullptr (then cgroup_problem() says why).
  const SessionCgroups* cgroups() const { return cgroups_ ? &*cgroups_ : nullptr; }
  const std::string& cgroup_problem() const { return cgroup_problem_; }

  ZygoteLink(ZygoteLink&&) = default;

  // Attaches to the event loop; `on_event` gets every event, in order.
  void Attach(boost::asio::io_context& io, std::function<void(const proto::ZygoteEvent&)> on_event,
              std::function<void()> on_lost);

  // Queues a request; `fd` (if >= 0) is passed to the zygote and closed here.
  void Send(const proto::ZygoteRequest& req, int fd = -1);

  pid_t pid() const { return pid_; }

 private:
  ZygoteLink(int fd, pid_t pid) : fd_(fd), pid_(pid) {}
  boost::asio::awaitable<void> ReadLoop();
  void Flush();

  int fd_;
  pid_t pid_;
  std::optional<SessionCgroups> cgroups_;
  std::string cgroup_problem_;
  std::unique_ptr<boost::asio::posix::stream_descriptor> desc_;
  std::function<void(const proto::ZygoteEvent&)> on_event_;
  std::function<void()> on_lost_;
  struct Pending {
    std::string data;
    int fd;
  };
  std::deque<Pending> out_;
  bool waiting_write_ = false;
};

}  // namespace salvus::compute
