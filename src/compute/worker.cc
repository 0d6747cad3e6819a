#include "compute/worker.h"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <cstdlib>

#include "compute/cell_processes.h"
#include "compute/interrupt_target.h"
#include "compute/output.h"
#include "compute/python.h"
#include "compute/sandbox.h"
#include "core/frame.h"
#include "proto/salvus.pb.h"

namespace salvus::compute {
namespace {

// Points fd 0 at /dev/null and fds 1/2 at fresh pipes, so output written by
// C code and by subprocesses is captured too. Returns the pipes' read ends.
bool RedirectStdio(int* out_read, int* err_read) {
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int out[2], err[2];
  if (devnull < 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return false;
  if (dup2(devnull, 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0) return false;
  close(devnull);
  close(out[1]);
  close(err[1]);
  *out_read = out[0];
  *err_read = err[0];
  return true;
}

proto::Message DoneMessage(uint64_t id, const std::string& session, proto::Done::Status status,
                           const std::string& text) {
  proto::Message m;
  m.set_id(id);
  auto* d = m.mutable_done();
  d->set_session(session);
  d->set_status(status);
  d->set_text(text);
  return m;
}

// Parses and builds each message a session start and a request use once, so
// protobuf's first-use work (and its page faults) happens in the pool.
void WarmMessages() {
  proto::WorkerStart start;
  start.set_session("warm");
  start.mutable_limits()->set_walltime_s(1);
  proto::WorkerStart parsed;
  parsed.ParseFromString(start.SerializeAsString());
  proto::Message m;
  m.mutable_output()->set_text("warm");
  std::string frame = core::EncodeFrame(m);
  m.mutable_execute()->set_code("1");
  proto::Message request;
  request.ParseFromString(m.SerializeAsString());
  frame = core::EncodeFrame(DoneMessage(1, "warm", proto::Done::OK, ""));
}

}  // namespace

int RunWorker(const WorkerConfig& cfg) {
  int out_read = -1, err_read = -1;
  if (!RedirectStdio(&out_read, &err_read)) return 10;
  OutputChannel channel(cfg.sock, out_read, err_read);
  channel.Start();
  InstallOutput(&channel);

  // Session set-up that does not depend on the session, done while the
  // worker waits in the pool: a session start then only applies limits.
  uint64_t seed = 0;
  if (getrandom(&seed, sizeof seed, 0) != sizeof seed) return 12;
  proto::Message reply;
  channel.SetDiscard(true);
  auto init = InitWorker(cfg.home, seed, cfg.warm);
  channel.SetDiscard(false);
  if (!init) {
    reply.mutable_error()->set_code(proto::Error::INTERNAL);
    reply.mutable_error()->set_text(init.error());
    channel.SendFrame(reply);
    return 14;
  }
  WarmMessages();
  // After Sage's import: its SIGINT handler is the one handed on to. (Were
  // it to fail, interrupts would work as they did before it.)
  InstallInterruptTarget();
  const size_t mapped = MappedBytes();
  // Tell the compute server this worker is ready to be handed a session.
  proto::Message ready;
  ready.mutable_ack();
  if (!channel.SendFrame(ready)) return 11;

  std::string body;
  core::FrameReader requests(cfg.sock);  // every read of the socket from here on
  if (requests.Next(&body) != core::ReadStatus::kOk) return 0;
  proto::WorkerStart start;
  if (!start.ParseFromString(body)) return 12;
  const std::string session = start.session();
  const uint64_t cap = start.limits().output_bytes();
  // The compute server has already answered the start: the limits must be
  // in force before the first request is read. Only a failure is reported.
  if (auto r = ApplyLimits(start.limits(), cfg.per_uid_processes, mapped); !r) {
    reply.mutable_error()->set_code(proto::Error::INTERNAL);
    reply.mutable_error()->set_text(r.error());
    channel.SendFrame(reply);
    return 13;
  }

  pid_t newest_pid = -1;  // NewestPid() at the end of the last request
  for (;;) {
    core::ReadStatus rs = requests.Next(&body);
    if (rs != core::ReadStatus::kOk) break;
    proto::Message req;
    if (!req.ParseFromString(body)) continue;
    channel.BeginRequest(req.id(), session, cap);
    BeginRequestInterrupts(req.id());
    ExecStatus st = ExecStatus::kOk;
    if (req.has_execute()) {
      st = Execute(req.execute().code());
    } else if (req.has_interact_update()) {
      st = InteractUpdate(req.interact_update().interact(), req.interact_update().values());
    } else if (req.has_complete()) {
      CompletionResult c = Complete(req.complete().code(), req.complete().cursor());
      proto::Message r;
      r.set_id(req.id());
      auto* cs = r.mutable_completions();
      cs->set_session(session);
      for (auto& m : c.matches) cs->add_matches(std::move(m));
      cs->set_start(c.start);
      cs->set_end(c.end);
      channel.SendFrame(r);
    } else {
      channel.Write(proto::Output::STDERR, "unknown request\n");
      st = ExecStatus::kError;
    }
    // A process user code forked returns here too: only the worker answers.
    if (OutputChannel::InForkedChild()) _exit(st == ExecStatus::kOk ? 0 : 1);
    // What the cell forked ends with it, before its done (whose flush then
    // takes the last of their output): a fork bomb's children no longer
    // write into the next cell.
    // (Only if a pid was handed out since the last look: one read per cell.)
    if (const pid_t now = NewestPid(); now < 0 || now != newest_pid) {
      EndOtherProcessesInGroup();
      newest_pid = now;
    }
    ClearPendingInterrupt();
    proto::Done::Status status = proto::Done::OK;
    std::string text;
    if (channel.overflowed()) {
      status = proto::Done::ERROR;
      text = "output limit of " + std::to_string(cap) + " bytes exceeded; execution stopped";
    } else if (st == ExecStatus::kError) {
      status = proto::Done::ERROR;
    } else if (st == ExecStatus::kInterrupted) {
      status = proto::Done::INTERRUPTED;
      text = "interrupted";
    }
    if (!channel.SendFrame(DoneMessage(req.id(), session, status, text))) break;
  }
  CleanUpBeforeExit();
  channel.Flush();
  return 0;
}

}  // namespace salvus::compute
