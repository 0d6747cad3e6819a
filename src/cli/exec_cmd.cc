// `salvus exec`: run code through a compute server and stream its output.
// Exit status: 0 success, 1 the code raised (or was interrupted, or its
// session died), 2 connection or protocol errors.
#include <unistd.h>

#include <iostream>
#include <iterator>
#include <memory>

#include "cli/commands.h"
#include "compute/client.h"
#include "core/address.h"
#include "core/frame.h"
#include "core/token.h"

namespace salvus::cli {

namespace {

struct ExecFlags {
  std::string compute;
  std::string token_file;
  std::string kernel = "sage";
  bool tls = false;
  std::string tls_ca;
  std::string code;
};

int RunExec(const ExecFlags& f) {
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
  std::string code = f.code;
  if (code == "-") code.assign(std::istreambuf_iterator<char>(std::cin), {});
  compute::ClientOptions o{addr->host, addr->port, *token, f.tls || !f.tls_ca.empty(), f.tls_ca};
  auto client = compute::ComputeClient::Connect(o);
  if (!client) {
    std::cerr << "salvus exec: " << client.error() << "\n";
    return 2;
  }
  auto session = (*client)->StartSession(f.kernel);
  if (!session) {
    std::cerr << "salvus exec: cannot start a session: " << session.error() << "\n";
    return 2;
  }
  auto result = (*client)->Execute(*session, code, [](const proto::Output& o) {
    const std::string& t = o.text();
    core::WriteAll(o.stream() == proto::Output::STDERR ? 2 : 1, t);
  });
  if (!result) {
    std::cerr << "salvus exec: " << result.error() << "\n";
    return 2;
  }
  proto::Message term;
  term.mutable_terminate()->set_session(*session);
  (*client)->Request(term);
  switch (result->status) {
    case proto::Done::OK:
      return 0;
    case proto::Done::ERROR:
      if (!result->text.empty()) std::cerr << "salvus exec: " << result->text << "\n";
      return 1;
    default:
      std::cerr << "salvus exec: " << (result->text.empty() ? "failed" : result->text) << "\n";
      return 1;
  }
}

}  // namespace

Command AddExecCommand(CLI::App& app) {
  auto f = std::make_shared<ExecFlags>();
  CLI::App* c = app.add_subcommand("exec", "Run code on a compute server and print its output");
  c->add_option("--compute", f->compute, "compute server HOST:PORT")->required();
  c->add_option("--token-file", f->token_file, "file holding the cluster token")->required();
  c->add_option("--kernel", f->kernel, "sage or python")->capture_default_str();
  c->add_flag("--tls", f->tls, "connect with TLS");
  c->add_option("--tls-ca", f->tls_ca, "verify the server's certificate against this CA (implies --tls)");
  c->add_option("code", f->code, "the code to run; - reads it from standard input")->required();
  return {c, [f] { return RunExec(*f); }};
}

}  // namespace salvus::cli
