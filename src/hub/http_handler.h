// What the hub answers to plain HTTP: /healthz, /blobs/<sha1>, the
// operator's page (/admin, admin_page.h) and the web client's static files. A function from a
// request to a response, without sockets (connection.cc reads and writes them), so it is tested
// alone.
//
// Not thread-safe: one HttpHandler per shard (BlobStore is shared and
// thread-safe; the Store is the shard's).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "hub/admin_page.h"

namespace salvus::store {
class Store;
}

namespace salvus::hub {

namespace http = boost::beast::http;
using HttpRequest = http::request<http::string_body>;
using HttpResponse = http::response<http::string_body>;

class BlobStore;

class HttpHandler {
 public:
  // `web_root`: the built web client; `store`: null without a database (a
  // blob not in `blobs` is then not found); `admin`: who may open /admin.
  HttpHandler(std::string web_root, BlobStore* blobs, store::Store* store, AdminOptions admin = {})
      : web_root_(web_root),
        blobs_(blobs),
        store_(store),
        admin_(AdminWithRoot(admin, web_root), store) {}

  // The response to `req` (not a WebSocket upgrade) from `peer` (the
  // client's address: /admin answers loopback only). Waits for the Store
  // for a blob that is not in memory and for /admin's API.
  boost::asio::awaitable<HttpResponse> Handle(const HttpRequest& req,
                                              const boost::asio::ip::address& peer = {});

 private:
  boost::asio::awaitable<HttpResponse> ServeBlob(const HttpRequest& req);

  static AdminOptions AdminWithRoot(AdminOptions o, const std::string& root) {
    o.web_root = root;
    return o;
  }

  std::string web_root_;
  BlobStore* blobs_;
  store::Store* store_;
  AdminPage admin_;
};

// A plain-text response to `req`.
HttpResponse TextResponse(const HttpRequest& req, http::status status, std::string text);

// The answer to a WebSocket upgrade refused for its origin (closes).
HttpResponse ForbiddenOrigin(const HttpRequest& req);

// The bytes of the 503 a connection past the limit gets (written raw,
// without reading its request); with `per_address`, the 429 of one past its
// address's limit.
std::string ConnectionLimitResponse(size_t max_connections, bool per_address = false);

// The answer to the one request read on a connection refused for a limit:
// /healthz still answers ok (a hub at its limit is alive); anything else
// gets 503 (the hub holds `max` connections) or, when `per_address`, 429
// (the client's address holds `max`). The connection closes after it.
HttpResponse RefusedResponse(const HttpRequest& req, bool per_address, size_t max);

// The answer to a request that could not be read because of `ec`: 431 for
// headers over the parser's limit, 413 for a body over its limit, 400 for
// anything else malformed (always closing); nothing (nullopt) when there
// is nobody to answer (the peer left, or was too slow).
std::optional<HttpResponse> UnreadableRequestResponse(boost::system::error_code ec);

// "name" from a query string, reduced to characters safe in a header
// ("download" when there is none).
std::string DownloadName(std::string_view target);

}  // namespace salvus::hub
