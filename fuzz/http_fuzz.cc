// Fuzz target: what the hub does with the bytes of an HTTP request (hub/
// http_handler, hub/static_files, hub/permalinks' id check): Beast's parser
// with the hub's body limit, then the Origin check of a WebSocket upgrade,
// /healthz, /blobs/<name>[?name=], static paths, /s/<id> and the operator's
// page (/admin, from loopback and from elsewhere). Up to four pipelined
// requests per input.
//
// Checks: nothing outside the web root and no hidden file is ever served;
// what is served is exactly a file of the root (or the one blob); a refused
// upgrade is refused; every response is well-formed HTTP again after being
// written (no header injection); /s/<id> is the page exactly when <id> is a
// permalink id; a download name is short and of safe characters only;
// /admin and its API refuse (403) whoever is not on loopback, and anyone
// without the token, whatever the request looks like.
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "core/sha1.h"
#include "fuzz_check.h"
#include "hub/blob_store.h"
#include "hub/http_handler.h"
#include "hub/origin.h"
#include "hub/permalinks.h"
#include "hub/static_files.h"

namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace salvus::hub;

constexpr std::string_view kBlob = "blob bytes";

// A web root with a few files, and secrets beside and inside it.
struct WebRoot {
  std::string dir;
  std::map<std::string, std::string> files;  // path under root -> contents
  WebRoot() {
    char tmpl[] = "/tmp/salvus-fuzz-http-XXXXXX";
    FUZZ_CHECK(mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    fs::create_directories(dir + "/root/assets");
    fs::create_directories(dir + "/root/.git");
    files = {{"/index.html", "<html>index</html>"},
             {"/assets/app-1.js", "console.log(1)"},
             {"/favicon.ico", "icon"},
             {"/admin.html", "<html>admin</html>"}};
    for (const auto& [path, text] : files) std::ofstream(dir + "/root" + path) << text;
    std::ofstream(dir + "/root/.env") << "SECRET hidden file";
    std::ofstream(dir + "/root/.git/config") << "SECRET hidden folder";
    std::ofstream(dir + "/outside.txt") << "SECRET outside the root";
  }
  ~WebRoot() { fs::remove_all(dir); }
};

WebRoot& Root() {
  static WebRoot root;  // removed at exit
  return root;
}

// The response as written to the socket, read back.
void CheckWellFormed(const HttpResponse& res) {
  std::ostringstream os;
  os << res;
  const std::string wire = os.str();
  http::response_parser<http::string_body> p;
  p.eager(true);
  boost::system::error_code ec;
  size_t used = p.put(asio::buffer(wire), ec);
  FUZZ_CHECK(!ec);
  FUZZ_CHECK(p.is_done() || p.is_header_done());
  const auto& back = p.get();
  FUZZ_CHECK(back.result() == res.result());
  size_t fields = 0, back_fields = 0;
  for (auto it = res.begin(); it != res.end(); ++it) ++fields;
  for (auto it = back.begin(); it != back.end(); ++it) ++back_fields;
  FUZZ_CHECK(fields == back_fields);  // no header smuggled in through a value
  (void)used;
}

constexpr std::string_view kToken = "fuzz-token-0123456789abcdef";

void CheckRequest(HttpHandler& handler, const HttpRequest& req, bool loopback) {
  const std::string target(req.target());
  const std::string path = target.substr(0, target.find('?'));

  // /s/<id>: the page exactly when <id> could name a permalink.
  if (path.starts_with("/s/")) {
    FUZZ_CHECK(IsSharedPath(path) == ValidPermalinkId(std::string_view(path).substr(3)));
  }
  const std::string name = DownloadName(target);
  FUZZ_CHECK(!name.empty() && name.size() <= 100);
  for (char c : name) {
    FUZZ_CHECK(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_');
  }

  if (boost::beast::websocket::is_upgrade(req)) {
    const std::vector<std::string> allowed = {"http://allowed.example"};
    const HubOrigin own{false, "127.0.0.1", 8080, true};
    if (!OriginAllowed(req, own, allowed)) {
      const HttpResponse res = ForbiddenOrigin(req);
      FUZZ_CHECK(res.result() == http::status::forbidden && !res.keep_alive());
      CheckWellFormed(res);
    }
    return;
  }

  asio::io_context io;
  std::optional<HttpResponse> res;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        res = co_await handler.Handle(req, loopback ? asio::ip::make_address("127.0.0.1")
                                                    : asio::ip::make_address("10.1.2.3"));
      },
      [](const std::exception_ptr& e) {
        if (e) std::rethrow_exception(e);
      });
  io.run();
  FUZZ_CHECK(res.has_value());
  const std::string& body = res->body();
  FUZZ_CHECK(body.find("SECRET") == std::string::npos);
  if (res->result() == http::status::ok && target != "/healthz" && !body.empty()) {
    bool known = body == kBlob;
    for (const auto& [file, text] : Root().files) known = known || body == text;
    FUZZ_CHECK(known);
  }
  if (AdminPage::Owns(target)) {
    const std::string auth(req[http::field::authorization]);
    const std::string cookie(req[http::field::cookie]);
    const bool has_token = auth.find(kToken) != std::string::npos ||
                           cookie.find(AdminCookieValue(kToken)) != std::string::npos;
    if (!loopback) FUZZ_CHECK(res->result() == http::status::forbidden);
    if (!has_token && path != "/admin/login") FUZZ_CHECK(res->result() == http::status::forbidden);
    if (res->result() == http::status::see_other) FUZZ_CHECK(loopback && path == "/admin/login");
  }
  CheckWellFormed(*res);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static BlobStore* blobs = [] {
    auto* b = new BlobStore(1 << 20);
    FUZZ_CHECK(b->Put(salvus::core::Sha1Hex(kBlob), "image/png", std::string(kBlob)));
    return b;
  }();
  AdminOptions admin;
  admin.token = kToken;
  HttpHandler handler(Root().dir + "/root", blobs, nullptr, admin);
  std::string_view in(reinterpret_cast<const char*>(data), size);
  for (int n = 0; n < 4 && !in.empty(); ++n) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(1024);  // the hub's is larger; the code is the same
    parser.header_limit(8 * 1024);
    parser.eager(true);
    boost::system::error_code ec;
    const size_t used = parser.put(asio::buffer(in.data(), in.size()), ec);
    if (ec || used == 0) return 0;
    in.remove_prefix(used);
    if (!parser.is_done()) {
      if (!in.empty()) return 0;
      parser.put_eof(ec);
      if (ec || !parser.is_done()) return 0;
    }
    CheckRequest(handler, parser.release(), /*loopback=*/n % 2 == 0);
  }
  return 0;
}
