// `salvus exec`: run code through a compute server (--compute, the cluster
// protocol) or a hub (--hub, the browser protocol) and stream its output.
// Exit status: 0 success, 1 the code raised (or was interrupted, or its
// session died), 2 connection or protocol errors, 130 a second Ctrl-C.
#include <signal.h>
#include <unistd.h>

#include <iostream>
#include <iterator>
#include <memory>

#include "cli/commands.h"
#include "cli/display_text.h"
#include "client/hub_client.h"
#include "compute/client.h"
#include "core/address.h"
#include "core/frame.h"
#include "core/token.h"

namespace salvus::cli {

namespace {

struct ExecFlags {
  std::string compute;
  std::string hub;
  std::string token_file;
  std::string kernel = "sage";
  bool tls = false;
  std::string tls_ca;
  bool tls_insecure = false;
  std::string code;
};

constexpr int kExitCtrlC = 130;

// Ctrl-C while a cell runs: the first one interrupts it (the cell then ends
// as interrupted, exit 1), the second one ends the session and quits at once
// (exit 130) — a hub would otherwise keep a dropped session running for its
// reconnect grace period.
struct CtrlC {
  int count = 0;
  std::string session;  // of the running cell; "" while none runs
  // Returns whether to go on waiting.
  template <class Client>
  bool OnSignal(Client& client) {
    if (session.empty()) return false;
    if (++count == 1) {
      std::cerr << "salvus exec: interrupting (Ctrl-C again to quit)" << std::endl;
      client.Interrupt(session);
      return true;
    }
    client.Terminate(session);
    return false;
  }
};

// stdout and stderr as the code produces them, straight to the fds.
class Printer {
 public:
  void Out(const std::string& t) {
    if (t.empty()) return;
    core::WriteAll(1, t);
    at_line_start_ = t.back() == '\n';
  }
  void Err(const std::string& t) { core::WriteAll(2, t); }
  // A display on a line of its own.
  void Line(const std::string& t) {
    if (!at_line_start_) Out("\n");
    Out(t + "\n");
  }

 private:
  bool at_line_start_ = true;
};

int ExitCode(proto::Done::Status status, const std::string& text) {
  switch (status) {
    case proto::Done::OK:
      return 0;
    case proto::Done::ERROR:
      if (!text.empty()) std::cerr << "salvus exec: " << text << "\n";
      return 1;
    default:
      std::cerr << "salvus exec: " << (text.empty() ? "failed" : text) << "\n";
      return 1;
  }
}

// Starts a session on `c`, runs `code` in it with its output going to
// `on_output`, then ends the session (a hub would otherwise keep a dropped
// session for its reconnect grace period). Either client: both have the
// same calls and error for "interrupted by a signal".
template <class Client, class OnOutput>
int RunInSession(Client& c, const ExecFlags& f, const std::string& code, OnOutput on_output) {
  CtrlC ctrl_c;
  c.HandleSignals({SIGINT}, [&](int) { return ctrl_c.OnSignal(c); });
  auto session = c.StartSession(f.kernel);
  if (!session) {
    if (session.error() == Client::kInterruptedBySignal) return kExitCtrlC;
    std::cerr << "salvus exec: cannot start a session: " << session.error() << "\n";
    return 2;
  }
  ctrl_c.session = *session;
  auto result = c.Execute(*session, code, on_output);
  ctrl_c.session.clear();
  if (!result && result.error() == Client::kInterruptedBySignal) return kExitCtrlC;
  c.Terminate(*session);
  if (!result) {
    std::cerr << "salvus exec: " << result.error() << "\n";
    return 2;
  }
  return ExitCode(result->status, result->text);
}

int RunViaCompute(const ExecFlags& f, const std::string& code) {
  auto addr = core::ParseHostPort(f.compute);
  if (!addr) {
    std::cerr << "salvus exec: " << addr.error() << "\n";
    return 2;
  }
  auto token = core::ReadTokenFile(f.token_file);
  if (!token) {
    std::cerr << "salvus exec: " << token.error() << "\n";
    return 2;
  }
  compute::ClientOptions o{addr->host, addr->port,
                           *token,     f.tls || !f.tls_ca.empty() || f.tls_insecure,
                           f.tls_ca,   f.tls_insecure};
  if (f.tls_insecure) {
    std::cerr << "salvus exec: warning: --tls-insecure: the compute server's certificate is not "
                 "checked; whoever answers at "
              << f.compute << " gets the cluster token\n";
  }
  auto client = compute::ComputeClient::Connect(o);
  if (!client) {
    std::cerr << "salvus exec: " << client.error() << "\n";
    return 2;
  }
  Printer print;
  return RunInSession(**client, f, code, [&](const proto::Output& o) {
    if (o.stream() == proto::Output::STDERR) {
      print.Err(o.text());
    } else {
      print.Out(o.text());
    }
  });
}

int RunViaHub(const ExecFlags& f, const std::string& code) {
  client::HubClientOptions o;
  o.url = f.hub;
  o.tls = f.tls;
  o.tls_ca = f.tls_ca;
  auto hub = client::HubClient::Connect(o);
  if (!hub) {
    std::cerr << "salvus exec: " << hub.error() << "\n";
    return 2;
  }
  Printer print;
  const std::string blobs = (*hub)->url().HttpBase();
  const int rc = RunInSession(**hub, f, code, [&](const proto::Message& m) {
    if (m.has_output()) {
      if (m.output().stream() == proto::Output::STDERR) {
        print.Err(m.output().text());
      } else {
        print.Out(m.output().text());
      }
    } else if (m.has_display()) {
      print.Line(DisplayText(m.display(), blobs));
    }
  });
  if (rc != kExitCtrlC) (*hub)->Close();  // after a second Ctrl-C: quit at once
  return rc;
}

int RunExec(const ExecFlags& f) {
  if (f.compute.empty() == f.hub.empty()) {
    std::cerr << "salvus exec: give either --compute HOST:PORT (with --token-file) or --hub "
                 "ws://HOST:PORT/ws\n";
    return 2;
  }
  if (!f.compute.empty() && f.token_file.empty()) {
    std::cerr << "salvus exec: --compute needs --token-file\n";
    return 2;
  }
  std::string code = f.code;
  if (code == "-") code.assign(std::istreambuf_iterator<char>(std::cin), {});
  return f.hub.empty() ? RunViaCompute(f, code) : RunViaHub(f, code);
}

}  // namespace

Command AddExecCommand(CLI::App& app) {
  auto f = std::make_shared<ExecFlags>();
  CLI::App* c = app.add_subcommand(
      "exec",
      "Run code on a compute server (--compute) or through a hub (--hub) and print its output.\n"
      "Exit status: 0 ok, 1 the code raised (or was interrupted, or its session died), 2 "
      "connection or protocol errors, 130 after a second Ctrl-C (the first one interrupts the "
      "code).");
  auto* compute = c->add_option("--compute", f->compute, "compute server HOST:PORT");
  auto* hub = c->add_option("--hub", f->hub,
                            "hub WebSocket URL, ws://HOST:PORT/ws or wss://HOST:PORT/ws "
                            "(the browser protocol, docs/protocol.md)");
  compute->excludes(hub);
  c->add_option("--token-file", f->token_file, "file holding the cluster token (for --compute)");
  c->add_option("--kernel", f->kernel, "sage or python")->capture_default_str();
  c->add_flag("--tls", f->tls, "connect with TLS (wss:// implies it)");
  c->add_option("--tls-ca", f->tls_ca,
                "verify the server's certificate against this CA (implies --tls); without it "
                "a --compute server's certificate must chain to a system CA, a --hub's is not "
                "checked");
  c->add_flag("--tls-insecure", f->tls_insecure,
              "with --compute: TLS without checking the certificate (whoever answers gets the "
              "token; for tests)")
      ->needs(compute);
  c->add_option("code", f->code, "the code to run; - reads it from standard input")->required();
  return {c, [f] { return RunExec(*f); }};
}

}  // namespace salvus::cli
