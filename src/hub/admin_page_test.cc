// The operator's page and its API on a FakeStore: who may, the bounds of
// every parameter, and the JSON's shape.
#include "hub/admin_page.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <filesystem>
#include <fstream>
#include <optional>

#include "core/clock.h"
#include "store/testing/fake_store.h"

namespace salvus::hub {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::make_address;

const std::string kToken = "0123456789abcdef0123456789abcdef";

class AdminPageTest : public ::testing::Test {
 protected:
  AdminPageTest() : store_(io_.get_executor()) {
    char tmpl[] = "/tmp/salvus-admin-XXXXXX";
    root_ = mkdtemp(tmpl);
    std::ofstream(root_ + "/admin.html") << "<html>admin page</html>";
    store::Service s;
    s.type = "compute";
    s.name = "c\"1";
    s.running = true;
    store_.services[1] = s;
    store_.services[1].id = 1;
    s.type = "hub";
    s.name = "h1";
    s.running = false;
    s.stop_ms = 5;
    store_.services[2] = s;
    store_.services[2].id = 2;
    const int64_t now = core::NowMs();
    for (int i = 0; i < 2000; ++i) {
      store::StatusRow st;
      st.service_id = 1;
      st.time_ms = now - (2000 - i) * 1000;  // one a second, up to now
      st.load1 = i;
      st.rss_kb = 1000 + i;
      st.extra = R"({"sessions":3})";
      store_.statuses.push_back(st);
    }
    for (int i = 0; i < 1500; ++i) {
      store_.log.push_back({1, i,
                            "2026-01-01 [compute] [" + std::string(i % 10 ? "info" : "warning") +
                                "] line " + std::to_string(i)});
    }
  }
  ~AdminPageTest() override { std::filesystem::remove_all(root_); }

  http::response<http::string_body> Run(http::verb method, const std::string& target,
                                        const std::string& peer = "127.0.0.1",
                                        const std::string& auth = "Bearer " + kToken,
                                        const std::string& body = "", bool with_store = true,
                                        bool tls = false) {
    AdminOptions opt;
    opt.token = kToken;
    opt.web_root = root_;
    opt.tls = tls;
    AdminPage page(opt, with_store ? &store_ : nullptr);
    http::request<http::string_body> req{method, target, 11};
    if (!auth.empty()) req.set(http::field::authorization, auth);
    req.body() = body;
    std::optional<http::response<http::string_body>> res;
    asio::co_spawn(
        io_,
        [&]() -> asio::awaitable<void> { res = co_await page.Handle(req, make_address(peer)); },
        [](const std::exception_ptr& e) {
          if (e) std::rethrow_exception(e);
        });
    io_.restart();
    io_.run();
    EXPECT_TRUE(res.has_value());
    return res ? std::move(*res) : http::response<http::string_body>{};
  }
  http::response<http::string_body> Get(const std::string& target) {
    return Run(http::verb::get, target);
  }
  int Status(const std::string& target) { return static_cast<int>(Get(target).result_int()); }

  asio::io_context io_;
  store::FakeStore store_;
  std::string root_;
};

TEST_F(AdminPageTest, RefusesAnyoneWithoutTheTokenOrOffLoopback) {
  for (const char* target : {"/admin", "/admin/api/services", "/admin/api/status?service=1",
                             "/admin/api/log?service=1", "/admin.html", "/admin/x"}) {
    // Not loopback: 403 and no data, token or not.
    auto res = Run(http::verb::get, target, "10.0.0.7");
    EXPECT_EQ(res.result(), http::status::forbidden) << target;
    EXPECT_EQ(res.body().find("line"), std::string::npos);
    EXPECT_EQ(res.body().find("admin page"), std::string::npos);
    // Loopback without the token: 403, no data.
    res = Run(http::verb::get, target, "127.0.0.1", "");
    EXPECT_EQ(res.result(), http::status::forbidden) << target;
    EXPECT_EQ(res.body().find("line"), std::string::npos) << target;
    EXPECT_EQ(res.body().find("compute"), std::string::npos) << target;
    EXPECT_EQ(res.body().find("admin page"), std::string::npos) << target;
    res = Run(http::verb::get, target, "127.0.0.1", "Bearer wrong-token-wrong-token!!");
    EXPECT_EQ(res.result(), http::status::forbidden) << target;
  }
  // The page itself asks a loopback browser for the token.
  auto form = Run(http::verb::get, "/admin", "127.0.0.1", "");
  EXPECT_NE(form.body().find("<form method=post action=/admin/login>"), std::string::npos);
  EXPECT_EQ(store_.log_searches, 0);
}

TEST_F(AdminPageTest, LoginSetsACookieThatOpensThePage) {
  auto res = Run(http::verb::post, "/admin/login", "127.0.0.1", "", "token=" + kToken);
  EXPECT_EQ(res.result(), http::status::see_other);
  EXPECT_EQ(res[http::field::location], "/admin");
  const std::string cookie(res[http::field::set_cookie]);
  EXPECT_EQ(cookie, "salvus_admin=" + AdminCookieValue(kToken) +
                        "; Path=/admin; HttpOnly; SameSite=Strict");
  // Over https the cookie goes over https only.
  res = Run(http::verb::post, "/admin/login", "127.0.0.1", "", "token=" + kToken, true, true);
  EXPECT_TRUE(std::string(res[http::field::set_cookie]).ends_with("; SameSite=Strict; Secure"));
  res = Run(http::verb::post, "/admin/login", "127.0.0.1", "", "token=nope");
  EXPECT_EQ(res.result(), http::status::forbidden);
  EXPECT_TRUE(res[http::field::set_cookie].empty());
  EXPECT_NE(res.body().find("not the cluster token"), std::string::npos);
  // From elsewhere even the right token gets nothing.
  res = Run(http::verb::post, "/admin/login", "10.0.0.7", "", "token=" + kToken);
  EXPECT_EQ(res.result(), http::status::forbidden);
  EXPECT_TRUE(res[http::field::set_cookie].empty());
  EXPECT_EQ(Run(http::verb::get, "/admin/login", "127.0.0.1", "").result(),
            http::status::method_not_allowed);
  auto page = Get("/admin");
  EXPECT_EQ(page.result(), http::status::ok);
  EXPECT_EQ(page.body(), "<html>admin page</html>");
  EXPECT_EQ(page[http::field::cache_control], "no-store");
}

TEST_F(AdminPageTest, ServicesJson) {
  auto res = Get("/admin/api/services");
  ASSERT_EQ(res.result(), http::status::ok) << res.body();
  EXPECT_EQ(res[http::field::content_type], "application/json");
  const std::string& b = res.body();
  EXPECT_EQ(b.rfind("{\"nowMs\":", 0), 0u) << b;
  EXPECT_NE(b.find(R"({"id":1,"type":"compute","name":"c\"1",)"), std::string::npos) << b;
  EXPECT_NE(b.find(R"("running":true,)"), std::string::npos) << b;
  EXPECT_NE(b.find(R"("health":"up","statusAgeS":)"), std::string::npos) << b;
  EXPECT_NE(b.find(R"("rssKb":2999,"extra":"{\"sessions\":3}"})"), std::string::npos) << b;
  EXPECT_NE(b.find(R"("stopMs":5,"health":"down","statusAgeS":null,"latest":null})"),
            std::string::npos)
      << b;
}

TEST_F(AdminPageTest, StatusIsBoundedAndThinned) {
  auto res = Get("/admin/api/status?service=1&hours=1");
  ASSERT_EQ(res.result(), http::status::ok) << res.body();
  const std::string& b = res.body();
  EXPECT_EQ(b.rfind("{\"service\":1,\"fromMs\":", 0), 0u) << b.substr(0, 100);
  // The last hour of one row a second: 3600 > 2000 rows, thinned to <= 720,
  // the newest kept.
  size_t rows = 0;
  for (size_t p = 0; (p = b.find("{\"t\":", p)) != std::string::npos; ++p) ++rows;
  EXPECT_LE(rows, kMaxPoints);
  EXPECT_GT(rows, kMaxPoints / 2);
  EXPECT_NE(b.find("\"load1\":1999,"), std::string::npos);
  // Defaults and caps: hours past a week are a week.
  EXPECT_EQ(Status("/admin/api/status?service=1"), 200);
  EXPECT_EQ(Status("/admin/api/status?service=1&hours=100000"), 200);
  const std::string none = Get("/admin/api/status?service=99").body();
  EXPECT_EQ(none.rfind(R"({"service":99,"fromMs":)", 0), 0u) << none;
  EXPECT_TRUE(none.ends_with(R"(,"rows":[]})")) << none;
}

TEST_F(AdminPageTest, LogIsFilteredAndCapped) {
  auto res = Get("/admin/api/log?service=1&limit=3");
  ASSERT_EQ(res.result(), http::status::ok) << res.body();
  EXPECT_EQ(res.body(),
            R"({"service":1,"lines":[{"t":1497,"text":"2026-01-01 [compute] [info] line 1497"},)"
            R"({"t":1498,"text":"2026-01-01 [compute] [info] line 1498"},)"
            R"({"t":1499,"text":"2026-01-01 [compute] [info] line 1499"}]})");
  // A huge limit is capped server-side.
  EXPECT_EQ(Status("/admin/api/log?service=1&limit=999999999"), 200);
  EXPECT_EQ(store_.last_search_limit, kMaxLogLimit);
  EXPECT_EQ(Status("/admin/api/log?service=1"), 200);
  EXPECT_EQ(store_.last_search_limit, kDefaultLogLimit);
  // Level: that level and above.
  res = Get("/admin/api/log?service=1&level=warn&limit=2");
  EXPECT_EQ(res.body(),
            R"({"service":1,"lines":[{"t":1480,"text":"2026-01-01 [compute] [warning] line 1480"},)"
            R"({"t":1490,"text":"2026-01-01 [compute] [warning] line 1490"}]})");
  res = Get("/admin/api/log?service=1&q=line%20149&level=info");
  EXPECT_NE(res.body().find("line 1499"), std::string::npos);
  EXPECT_EQ(res.body().find("line 1500"), std::string::npos);
  EXPECT_EQ(Get("/admin/api/log?service=1&level=error").body(), R"({"service":1,"lines":[]})");
}

TEST_F(AdminPageTest, HostileParametersGet400) {
  for (const char* bad :
       {"/admin/api/status", "/admin/api/status?service=", "/admin/api/status?service=0",
        "/admin/api/status?service=-1", "/admin/api/status?service=1x",
        "/admin/api/status?service=99999999999999999999", "/admin/api/status?service=1&hours=0",
        "/admin/api/status?service=1&hours=-5", "/admin/api/status?service=1&hours=1.5",
        "/admin/api/status?service=1&hours=nan", "/admin/api/status?service=1&service=2",
        "/admin/api/log?service=1&limit=0", "/admin/api/log?service=1&limit=-1",
        "/admin/api/log?service=1&limit=ten", "/admin/api/log?service=1&level=loud",
        "/admin/api/log?service=1&q=%ff", "/admin/api/log?service=1&q=%",
        "/admin/api/log?service=1&q=a%00b"}) {
    EXPECT_EQ(Status(bad), 400) << bad;
  }
  EXPECT_EQ(Status("/admin/api/log?service=1&q=" + std::string(kMaxLogQuery, 'x')), 200);
  EXPECT_EQ(Status("/admin/api/log?service=1&q=" + std::string(kMaxLogQuery + 1, 'x')), 400);
  EXPECT_EQ(Status("/admin/api/nothing"), 404);
  EXPECT_EQ(Run(http::verb::post, "/admin/api/services").result(),
            http::status::method_not_allowed);
  EXPECT_EQ(store_.log_searches, 1);  // only the good one reached the store
  // Without a database: 503, after the parameters were checked.
  EXPECT_EQ(Run(http::verb::get, "/admin/api/services", "127.0.0.1", "Bearer " + kToken, "", false)
                .result(),
            http::status::service_unavailable);
}

}  // namespace
}  // namespace salvus::hub
