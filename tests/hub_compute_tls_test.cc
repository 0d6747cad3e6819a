// The hub's TLS links to compute servers: with TLS the compute server's
// certificate is checked (against --compute-tls-ca, or the system's trusted
// CAs) and must name the host dialled, before the hub sends anything, its
// hello with the cluster token included. Real `salvus hub` and `salvus
// compute` processes, certificates made with the `openssl` binary.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "client/hub_client.h"
#include "util/child_process.h"
#include "util/compute_process.h"

namespace salvus {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testutil::Child;
using testutil::ComputeProcess;
using testutil::WaitFor;

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool Run(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

// A CA, a certificate it signs for IP 127.0.0.1 (and no name), and a
// self-signed certificate for the same address (an impostor's).
class Certificates {
 public:
  Certificates() {
    char tmpl[] = "/tmp/salvus-tls-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    const std::string d = dir_ + "/";
    std::ofstream(d + "ext.cnf") << "subjectAltName=IP:127.0.0.1\n";
    ok_ =
        Run("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=salvus-test-ca "
            "-keyout " +
            d + "ca.key -out " + d + "ca.pem") &&
        Run("openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout " + d +
            "compute.key -out " + d + "compute.csr") &&
        Run("openssl x509 -req -in " + d + "compute.csr -CA " + d + "ca.pem -CAkey " + d +
            "ca.key -CAcreateserial -days 2 -extfile " + d + "ext.cnf -out " + d + "compute.pem") &&
        Run("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
            "-addext subjectAltName=IP:127.0.0.1 -keyout " +
            d + "impostor.key -out " + d + "impostor.pem");
  }
  ~Certificates() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  bool ok() const { return ok_; }
  std::string operator()(const std::string& name) const { return dir_ + "/" + name; }

 private:
  std::string dir_;
  bool ok_ = false;
};

// `salvus hub` in a folder of its own, with a stub page.
class HubProcess {
 public:
  HubProcess(const std::string& token_file, std::vector<std::string> extra) {
    char tmpl[] = "/tmp/salvus-tls-hub-XXXXXX";
    dir_ = mkdtemp(tmpl);
    fs::create_directories(dir_ + "/web");
    std::ofstream(dir_ + "/web/index.html") << "<!doctype html><title>stub</title>\n";
    std::vector<std::string> args = {SALVUS_BINARY,  "hub",          "--listen",  "127.0.0.1:0",
                                     "--token-file", token_file,     "--web",     dir_ + "/web",
                                     "--port-file",  dir_ + "/port", "--threads", "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    child_ = std::make_unique<Child>(args, dir_ + "/out", dir_ + "/log");
  }
  ~HubProcess() {
    child_.reset();  // SIGKILLs it if it still runs
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string log() const { return Read(dir_ + "/log") + Read(dir_ + "/out"); }
  bool LogHas(const std::string& s, std::chrono::milliseconds max = 20s) const {
    return WaitFor([&] { return log().find(s) != std::string::npos; }, max);
  }
  uint16_t WaitForPort() {
    pid_t pid = child_->pid();
    return testutil::WaitForPortFile(dir_ + "/port", &pid, 30s);
  }

 private:
  std::string dir_;
  std::unique_ptr<Child> child_;
};

std::string At(const ComputeProcess& c, const std::string& host = "127.0.0.1") {
  return host + ":" + std::to_string(c.port());
}

// The hub sent its hello (the cluster token) to `c`: accepted (same token)
// or refused, a compute server logs it either way.
bool SawHello(const ComputeProcess& c) {
  const std::string log = c.log();
  return log.find(" connected (hub)") != std::string::npos ||
         log.find("refused:") != std::string::npos;
}

std::string TwoPlusTwo(uint16_t hub_port) {
  client::HubClientOptions o;
  o.url = "ws://127.0.0.1:" + std::to_string(hub_port) + "/ws";
  o.connect_timeout_s = 10;
  auto c = client::HubClient::Connect(o);
  if (!c) return "connect: " + c.error();
  auto s = (*c)->StartSession("python");
  if (!s) return "start: " + s.error();
  auto r = (*c)->Execute(*s, "print(2+2)");
  (*c)->Close();
  return r ? r->out : "execute: " + r.error();
}

TEST(HubComputeTls, OnlyAComputeServerWhoseCertificateVerifiesGetsTheToken) {
  Certificates certs;
  ASSERT_TRUE(certs.ok()) << "openssl could not make the test certificates";
  ComputeProcess good({"--kernel", "python", "--tls-cert", certs("compute.pem"), "--tls-key",
                       certs("compute.key")});
  ComputeProcess impostor({"--kernel", "python", "--tls-cert", certs("impostor.pem"), "--tls-key",
                           certs("impostor.key")});
  ASSERT_TRUE(good.ok() && impostor.ok()) << good.log() << impostor.log();
  const std::string token = good.dir() + "/token";  // the impostor would accept it too

  // Refused, all at once (each hub retries; none may ever send a hello):
  // the impostor against the CA, against the system's CAs (plain
  // --compute-tls), and the right certificate dialled by a name it lacks.
  HubProcess against_ca(token, {"--compute", At(impostor), "--compute-tls-ca", certs("ca.pem")});
  HubProcess against_system(token, {"--compute", At(impostor), "--compute-tls"});
  HubProcess wrong_name(token,
                        {"--compute", At(good, "localhost"), "--compute-tls-ca", certs("ca.pem")});
  for (HubProcess* h : {&against_ca, &against_system, &wrong_name}) {
    EXPECT_TRUE(h->LogHas("the cluster token was not sent")) << h->log();
  }
  EXPECT_TRUE(WaitFor(
      [&] { return impostor.log().find("TLS handshake failed") != std::string::npos; }, 10s))
      << impostor.log();
  // A retry or two more, still without a hello.
  std::this_thread::sleep_for(1s);
  EXPECT_FALSE(SawHello(impostor)) << impostor.log();
  EXPECT_FALSE(SawHello(good)) << good.log();
  EXPECT_EQ(
      against_ca.log().find("compute 127.0.0.1:" + std::to_string(impostor.port()) + ": connected"),
      std::string::npos);

  // The right CA and the name on the certificate: sessions run.
  {
    HubProcess hub(token, {"--compute", At(good), "--compute-tls-ca", certs("ca.pem")});
    const uint16_t port = hub.WaitForPort();
    ASSERT_NE(port, 0) << hub.log();
    EXPECT_EQ(TwoPlusTwo(port), "4\n") << hub.log();
    EXPECT_TRUE(SawHello(good));
    EXPECT_EQ(hub.log().find("--compute-tls-insecure"), std::string::npos);
  }

  // --compute-tls-insecure checks nothing: it reaches the impostor, and
  // says what that means.
  HubProcess insecure(token, {"--compute", At(impostor), "--compute-tls-insecure"});
  const uint16_t port = insecure.WaitForPort();
  ASSERT_NE(port, 0) << insecure.log();
  EXPECT_EQ(TwoPlusTwo(port), "4\n") << insecure.log();
  EXPECT_TRUE(SawHello(impostor));
  EXPECT_TRUE(insecure.LogHas("certificates are NOT checked")) << insecure.log();
}

TEST(HubComputeTls, BadFlagsAreRefusedAtStart) {
  Certificates certs;
  ASSERT_TRUE(certs.ok());
  ComputeProcess::WriteFile(certs("token"), "t0123456789abcdef0123456789\n");
  {
    HubProcess h(certs("token"), {"--compute", "127.0.0.1:1", "--compute-tls-insecure",
                                  "--compute-tls-ca", certs("ca.pem")});
    EXPECT_TRUE(h.LogHas("makes no sense with --compute-tls-ca")) << h.log();
  }
  {
    HubProcess h(certs("token"),
                 {"--compute", "127.0.0.1:1", "--compute-tls-ca", certs("no-such-ca.pem")});
    EXPECT_TRUE(h.LogHas("cannot read --compute-tls-ca")) << h.log();
  }
}

}  // namespace
}  // namespace salvus
