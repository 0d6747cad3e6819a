#include "compute/zygote_link.h"

#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/descriptors.h"
#include "core/fork.h"
#include "core/spawn.h"

namespace salvus::compute {

namespace asio = boost::asio;

std::expected<ZygoteLink, std::string> ZygoteLink::Start(const ZygoteConfig& base_config,
                                                         bool new_pid_ns) {
  ZygoteConfig config = base_config;
  auto cgroups = SessionCgroups::Create();
  if (cgroups) config.cgroup_parents = cgroups->parents();
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    return std::unexpected(std::string("socketpair: ") + std::strerror(errno));
  }
  // unshare(CLONE_NEWPID) affects only children created afterwards; the
  // zygote is the only child this process ever forks.
  if (new_pid_ns && unshare(CLONE_NEWPID) != 0) {
    return std::unexpected(std::string("unshare(CLONE_NEWPID): ") + std::strerror(errno));
  }
  pid_t pid = core::Fork();
  if (pid < 0) return std::unexpected(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    close(sv[0]);
    // The zygote, and so every worker, keeps stdio and its end of the link
    // (as fd 3) and nothing else of this process: not the log file, nor
    // whatever this process inherited (under `salvus up`, once, the hub's
    // sockets). The logger goes first: its file is closed with it.
    spdlog::drop_all();
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("zygote"));  // no sinks
    int control = sv[1];
    if (control != 3) {
      control = dup2(sv[1], 3);
      close(sv[1]);
    }
    core::SetCloseOnExec(control);
    core::CloseAllExcept({0, 1, 2, control});
    RunZygote(config, control);
  }
  close(sv[1]);
  ZygoteLink link(sv[0], pid);
  if (cgroups) {
    link.cgroups_.emplace(std::move(*cgroups));
  } else {
    link.cgroup_problem_ = cgroups.error();
  }
  return link;
}

void ZygoteLink::Attach(asio::io_context& io,
                        std::function<void(const proto::ZygoteEvent&)> on_event,
                        std::function<void()> on_lost) {
  on_event_ = std::move(on_event);
  on_lost_ = std::move(on_lost);
  desc_ = std::make_unique<asio::posix::stream_descriptor>(io, fd_);
  desc_->non_blocking(true);
  core::Spawn(io, ReadLoop(), "the zygote link's read loop");
}

asio::awaitable<void> ZygoteLink::ReadLoop() {
  std::string data;
  for (;;) {
    boost::system::error_code ec;
    co_await desc_->async_wait(asio::posix::descriptor_base::wait_read,
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    int fd = -1;
    bool eof = false;
    bool lost = false;
    // Drain every packet that is ready.
    for (;;) {
      if (!RecvPacket(fd_, &data, &fd, &eof)) {
        lost = eof || (errno != EAGAIN && errno != EWOULDBLOCK);
        break;
      }
      if (fd >= 0) close(fd);
      proto::ZygoteEvent ev;
      if (ev.ParseFromString(data)) on_event_(ev);
    }
    if (lost) break;
  }
  if (on_lost_) on_lost_();
}

void ZygoteLink::Send(const proto::ZygoteRequest& req, int fd) {
  out_.push_back({req.SerializeAsString(), fd});
  Flush();
}

void ZygoteLink::Flush() {
  while (!out_.empty()) {
    Pending& p = out_.front();
    if (!SendPacket(fd_, p.data, p.fd)) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (!waiting_write_) {
          waiting_write_ = true;
          desc_->async_wait(asio::posix::descriptor_base::wait_write,
                            [this](boost::system::error_code) {
                              waiting_write_ = false;
                              Flush();
                            });
        }
        return;
      }
      // The zygote is gone; the read loop reports it.
    }
    if (p.fd >= 0) close(p.fd);
    out_.pop_front();
  }
}

}  // namespace salvus::compute
