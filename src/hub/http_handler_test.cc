#include "hub/http_handler.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/beast/core/error.hpp>
#include <filesystem>
#include <fstream>
#include <optional>

#include "core/sha1.h"
#include "hub/blob_store.h"

namespace salvus::hub {
namespace {

namespace asio = boost::asio;

class HttpHandlerTest : public ::testing::Test {
 protected:
  HttpHandlerTest() : blobs_(1 << 20) {
    char tmpl[] = "/tmp/salvus-http-XXXXXX";
    root_ = mkdtemp(tmpl);
    std::filesystem::create_directories(root_ + "/assets");
    std::ofstream(root_ + "/index.html") << "<html>hi</html>";
    std::ofstream(root_ + "/assets/app-1234.js") << "console.log(1)";
    std::ofstream(root_ + "/.secret") << "no";
    std::ofstream(root_ + "/../salvus-http-outside.txt") << "outside";
  }
  ~HttpHandlerTest() override {
    std::filesystem::remove_all(root_);
    std::filesystem::remove(root_ + "/../salvus-http-outside.txt");
  }

  // Runs the handler on a request, no sockets involved.
  HttpResponse Run(http::verb method, const std::string& target) {
    HttpHandler handler(root_, &blobs_, nullptr);
    HttpRequest req{method, target, 11};
    asio::io_context io;
    std::optional<HttpResponse> res;
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { res = co_await handler.Handle(req); },
        [](const std::exception_ptr& e) {
          if (e) std::rethrow_exception(e);
        });
    io.run();
    EXPECT_TRUE(res.has_value());
    return res ? std::move(*res) : HttpResponse{};
  }
  HttpResponse Get(const std::string& target) { return Run(http::verb::get, target); }

  std::string root_;
  BlobStore blobs_;
};

TEST_F(HttpHandlerTest, Healthz) {
  auto res = Get("/healthz");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), "ok\n");
  EXPECT_EQ(res[http::field::content_type], "text/plain");
}

TEST_F(HttpHandlerTest, StaticFilesAndTheirCaching) {
  auto index = Get("/");
  EXPECT_EQ(index.result(), http::status::ok);
  EXPECT_EQ(index.body(), "<html>hi</html>");
  EXPECT_EQ(index[http::field::cache_control], "no-cache");
  auto js = Get("/assets/app-1234.js?v=1");
  EXPECT_EQ(js.result(), http::status::ok);
  EXPECT_EQ(js[http::field::content_type], "text/javascript; charset=utf-8");
  EXPECT_NE(std::string(js[http::field::cache_control]).find("immutable"), std::string::npos);
  EXPECT_EQ(Get("/s/Ab3_x-9").body(), "<html>hi</html>");  // a shared cell's page
  auto head = Run(http::verb::head, "/");
  EXPECT_EQ(head.result(), http::status::ok);
  EXPECT_TRUE(head.body().empty());
}

TEST_F(HttpHandlerTest, NotFoundAndBadPaths) {
  EXPECT_EQ(Get("/missing.html").result(), http::status::not_found);
  EXPECT_EQ(Get("/assets").result(), http::status::not_found);  // a directory
  EXPECT_EQ(Get("/.secret").result(), http::status::not_found);
  // Path traversal, however spelled, never leaves the root.
  for (const char* bad : {"/../salvus-http-outside.txt", "/assets/../../salvus-http-outside.txt",
                          "/..%2fsalvus-http-outside.txt", "/../etc/passwd", "//etc/passwd",
                          "relative.html", "/assets/./app-1234.js"}) {
    auto res = Get(bad);
    EXPECT_EQ(res.result(), http::status::not_found) << bad;
    EXPECT_EQ(res.body().find("outside"), std::string::npos) << bad;
  }
  EXPECT_EQ(Get("/s/a/b").result(), http::status::not_found);
}

TEST_F(HttpHandlerTest, OnlyGetAndHead) {
  EXPECT_EQ(Run(http::verb::post, "/").result(), http::status::method_not_allowed);
  EXPECT_EQ(Run(http::verb::put, "/index.html").result(), http::status::method_not_allowed);
  EXPECT_EQ(Run(http::verb::delete_, "/blobs/" + core::Sha1Hex("x")).result(),
            http::status::method_not_allowed);
}

TEST_F(HttpHandlerTest, Blobs) {
  const std::string png = "\x89PNG fake";
  const std::string bin = "some bytes";
  ASSERT_TRUE(blobs_.Put(core::Sha1Hex(png), "image/png", png));
  ASSERT_TRUE(blobs_.Put(core::Sha1Hex(bin), "text/html", bin));
  auto res = Get("/blobs/" + core::Sha1Hex(png));
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), png);
  EXPECT_EQ(res[http::field::content_type], "image/png");
  EXPECT_EQ(res[http::field::etag], "\"" + core::Sha1Hex(png) + "\"");
  EXPECT_NE(std::string(res[http::field::cache_control]).find("immutable"), std::string::npos);
  EXPECT_EQ(res["X-Content-Type-Options"], "nosniff");
  // Anything but an image is a download (never HTML on the hub's origin),
  // under a name cleaned for the header.
  res = Get("/blobs/" + core::Sha1Hex(bin) + "?name=re\"port<1>.html&x=1");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res[http::field::content_type], "application/octet-stream");
  EXPECT_EQ(res[http::field::content_disposition], "attachment; filename=\"report1.html\"");
  res = Run(http::verb::head, "/blobs/" + core::Sha1Hex(png));
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_TRUE(res.body().empty());
  // Unknown (no database to ask), malformed.
  EXPECT_EQ(Get("/blobs/" + core::Sha1Hex("nope")).result(), http::status::not_found);
  EXPECT_EQ(Get("/blobs/" + std::string(40, 'A')).result(), http::status::bad_request);
  EXPECT_EQ(Get("/blobs/../index.html").result(), http::status::bad_request);
  EXPECT_EQ(Get("/blobs/").result(), http::status::bad_request);
}

// /admin goes to the operator's page, which answers only loopback peers
// with the token (admin_page_test.cc has the rest).
TEST_F(HttpHandlerTest, AdminIsNotAStaticFile) {
  std::ofstream(root_ + "/admin.html") << "<html>admin</html>";
  for (const char* target : {"/admin", "/admin.html", "/admin/api/services"}) {
    auto res = Get(target);  // no peer address: not loopback
    EXPECT_EQ(res.result(), http::status::forbidden) << target;
    EXPECT_EQ(res.body().find("<html>admin</html>"), std::string::npos) << target;
  }
}

TEST(HttpHelpers, DownloadName) {
  EXPECT_EQ(DownloadName("/blobs/x"), "download");
  EXPECT_EQ(DownloadName("/blobs/x?name="), "download");
  EXPECT_EQ(DownloadName("/blobs/x?name=a b.txt"), "ab.txt");
  EXPECT_EQ(DownloadName("/blobs/x?name=" + std::string(300, 'a')), std::string(100, 'a'));
}

TEST(HttpHelpers, ForbiddenOrigin) {
  HttpRequest req{http::verb::get, "/ws", 11};
  req.set(http::field::origin, "https://evil.example");
  auto res = ForbiddenOrigin(req);
  EXPECT_EQ(res.result(), http::status::forbidden);
  EXPECT_FALSE(res.keep_alive());
}

TEST(HttpHelpers, ConnectionLimitResponse) {
  const std::string r = ConnectionLimitResponse(7);
  EXPECT_EQ(r.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u);
  EXPECT_NE(r.find("Retry-After: 5\r\n"), std::string::npos);
  EXPECT_NE(r.find("connection limit (7)"), std::string::npos);
  const auto body = r.substr(r.find("\r\n\r\n") + 4);
  EXPECT_NE(r.find("Content-Length: " + std::to_string(body.size()) + "\r\n"), std::string::npos);
  const std::string a = ConnectionLimitResponse(3, /*per_address=*/true);
  EXPECT_EQ(a.rfind("HTTP/1.1 429 Too Many Requests\r\n", 0), 0u);
  EXPECT_NE(a.find("too many connections from your address (at most 3)"), std::string::npos);
}

// A connection refused for a limit: /healthz still says ok; the rest are
// told which limit, and to come back later.
TEST(HttpHelpers, RefusedResponse) {
  HttpRequest health{http::verb::get, "/healthz", 11};
  auto res = RefusedResponse(health, true, 3);
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), "ok\n");
  EXPECT_FALSE(res.keep_alive());
  HttpRequest page{http::verb::get, "/", 11};
  res = RefusedResponse(page, true, 3);
  EXPECT_EQ(res.result(), http::status::too_many_requests);
  EXPECT_NE(res.body().find("from your address (at most 3)"), std::string::npos);
  EXPECT_EQ(res[http::field::retry_after], "5");
  res = RefusedResponse(page, false, 9);
  EXPECT_EQ(res.result(), http::status::service_unavailable);
  EXPECT_NE(res.body().find("connection limit (9)"), std::string::npos);
  EXPECT_FALSE(res.keep_alive());
}

TEST(HttpHelpers, UnreadableRequestResponse) {
  auto status = [](boost::system::error_code ec) {
    auto r = UnreadableRequestResponse(ec);
    if (r) EXPECT_FALSE(r->keep_alive());
    return r ? static_cast<int>(r->result_int()) : 0;
  };
  EXPECT_EQ(status(http::error::header_limit), 431);
  EXPECT_EQ(status(http::error::body_limit), 413);
  EXPECT_EQ(status(http::error::bad_target), 400);
  EXPECT_EQ(status(http::error::bad_method), 400);
  EXPECT_EQ(status(http::error::bad_version), 400);
  // Nobody to answer: the peer left, or took too long.
  EXPECT_EQ(status(http::error::end_of_stream), 0);
  EXPECT_EQ(status(http::error::partial_message), 0);
  EXPECT_EQ(status(boost::beast::error::timeout), 0);
  EXPECT_EQ(status(boost::asio::error::connection_reset), 0);
}

}  // namespace
}  // namespace salvus::hub
