// Sign-ins through the hub of `salvus up` (its vault beside it) at the
// hub's default Argon2id cost (interactive). Prints one JSON object:
//   signin_ms: one browser signing in again and again (p50, p99)
//   flood: `--threads` browsers signing in as fast as they can for
//     `--seconds` (the right password: no back-off): sign-ins per second
//     that succeeded, and how many the pool turned away as busy (503)
//   two_plus_two_ms: `2+2` in another session, idle and during the flood
//     (p50, p99): hashing must not slow the event loops
// Usage: accounts_bench [--seconds S] [--threads N] [--uid-base U]
#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "client/hub_client.h"
#include "util/child_process.h"
#include "util/raw_http.h"
#include "util/up_process.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

int Status(uint16_t port, const std::string& what, const std::string& body, std::string* out) {
  const std::string raw = salvus::testutil::RawHttp(
      port, std::string(body.empty() ? "GET" : "POST") + " /api/account/" + what +
                " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body);
  if (out) *out = raw;
  return raw.size() >= 12 ? std::atoi(raw.substr(9, 3).c_str()) : 0;
}

std::string Seal(const std::vector<unsigned char>& key, const std::string& email) {
  std::vector<unsigned char> out(crypto_box_SEALBYTES + email.size());
  crypto_box_seal(out.data(), reinterpret_cast<const unsigned char*>(email.data()), email.size(),
                  key.data());
  std::string b64(sodium_base64_ENCODED_LEN(out.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(b64.data(), b64.size(), out.data(), out.size(), sodium_base64_VARIANT_ORIGINAL);
  b64.pop_back();
  return b64;
}

double Pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace

int main(int argc, char** argv) {
  int seconds = 10, threads = 8;
  std::string uid_base = "260000";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--seconds") seconds = std::atoi(argv[i + 1]);
    if (a == "--threads") threads = std::atoi(argv[i + 1]);
    if (a == "--uid-base") uid_base = argv[i + 1];
  }
  if (sodium_init() < 0) return 1;
  salvus::testutil::UpSetup setup;
  setup.own_uids = false;
  salvus::testutil::UpProcess up({"--kernel", "python", "--uid-base", uid_base}, setup);
  if (!up.ok()) {
    std::fprintf(stderr, "salvus up did not start:\n%s\n", up.log().c_str());
    return 1;
  }
  const uint16_t port = up.port();
  std::vector<unsigned char> key(crypto_box_PUBLICKEYBYTES);
  const bool keyed = salvus::testutil::WaitFor(
      [&] {
        std::string raw;
        std::smatch m;
        if (Status(port, "vault-key", "", &raw) != 200 ||
            !std::regex_search(raw, m, std::regex("\"key\":\"([^\"]+)\""))) {
          return false;
        }
        const std::string b64 = m[1];
        size_t len = 0;
        return sodium_base642bin(key.data(), key.size(), b64.data(), b64.size(), nullptr, &len,
                                 nullptr, sodium_base64_VARIANT_ORIGINAL) == 0;
      },
      60s);
  if (!keyed) return 1;
  auto creds = [&](int who) {
    return R"({"email":")" + Seal(key, "bench" + std::to_string(who) + "@example.org") +
           R"(","password":"a bench password"})";
  };
  for (int t = 0; t < threads; ++t) {
    if (Status(port, "signup", creds(t), nullptr) != 200) return 1;
  }

  std::vector<double> signin;
  for (int i = 0; i < 50; ++i) {
    const auto t0 = Clock::now();
    if (Status(port, "signin", creds(0), nullptr) == 200) signin.push_back(Ms(Clock::now() - t0));
  }

  salvus::client::HubClientOptions o;
  o.url = up.url();
  auto c = salvus::client::HubClient::Connect(o);
  auto s = c ? (*c)->StartSession() : std::unexpected(c.error());
  if (!s) return 1;
  auto two_plus_two = [&](std::vector<double>* ms, const std::atomic<bool>* until) {
    for (int i = 0; i < 200 && (until == nullptr || !*until); ++i) {
      const auto t0 = Clock::now();
      if ((*c)->Execute(*s, "2+2")) ms->push_back(Ms(Clock::now() - t0));
      std::this_thread::sleep_for(20ms);
    }
  };
  std::vector<double> idle, busy;
  two_plus_two(&idle, nullptr);

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, turned_away{0}, limited{0}, other{0};
  std::vector<std::thread> flood;
  const auto f0 = Clock::now();
  for (int t = 0; t < threads; ++t) {
    flood.emplace_back([&, t] {
      const std::string body = creds(t);
      while (!stop) {
        switch (Status(port, "signin", body, nullptr)) {
          case 200:
            ++ok;
            break;
          case 503:
            ++turned_away;
            break;
          case 429:
            ++limited;
            break;
          default:
            ++other;
        }
      }
    });
  }
  std::thread watch([&] {
    std::this_thread::sleep_for(std::chrono::seconds(seconds));
    stop = true;
  });
  two_plus_two(&busy, &stop);
  watch.join();
  for (auto& t : flood) t.join();
  const double flood_s = std::chrono::duration<double>(Clock::now() - f0).count();
  (*c)->Terminate(*s);
  (*c)->Close();

  std::printf(
      "{\"cost\":\"interactive\",\"signin_ms\":{\"p50\":%.1f,\"p99\":%.1f,\"n\":%zu},"
      "\"flood\":{\"threads\":%d,\"seconds\":%.1f,\"signins_per_s\":%.1f,\"busy_503\":%d,"
      "\"limited_429\":%d,\"other\":%d},"
      "\"two_plus_two_ms\":{\"idle_p50\":%.1f,\"idle_p99\":%.1f,\"flood_p50\":%.1f,"
      "\"flood_p99\":%.1f,\"flood_n\":%zu}}\n",
      Pct(signin, 0.5), Pct(signin, 0.99), signin.size(), threads, flood_s, ok / flood_s,
      turned_away.load(), limited.load(), other.load(), Pct(idle, 0.5), Pct(idle, 0.99),
      Pct(busy, 0.5), Pct(busy, 0.99), busy.size());
  const std::string left = up.Stop();
  if (!left.empty()) std::fprintf(stderr, "%s\n", left.c_str());
  return left.empty() ? 0 : 1;
}
