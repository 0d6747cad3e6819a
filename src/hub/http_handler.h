// What the hub answers to plain HTTP: /healthz, /blobs/<sha1> and the web
// client's static files. A function from a request to a response, without
// sockets (connection.cc reads and writes them), so it is tested alone.
//
// Not thread-safe: one HttpHandler per shard (BlobStore is shared and
// thread-safe; the Store is the shard's).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

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
  // blob not in `blobs` is then not found).
  HttpHandler(std::string web_root, BlobStore* blobs, store::Store* store)
      : web_root_(std::move(web_root)), blobs_(blobs), store_(store) {}

  // The response to `req` (not a WebSocket upgrade). Waits for the Store
  // only for a blob that is not in memory.
  boost::asio::awaitable<HttpResponse> Handle(const HttpRequest& req);

 private:
  boost::asio::awaitable<HttpResponse> ServeBlob(const HttpRequest& req);

  std::string web_root_;
  BlobStore* blobs_;
  store::Store* store_;
};

// A plain-text response to `req`.
HttpResponse TextResponse(const HttpRequest& req, http::status status, std::string text);

// The answer to a WebSocket upgrade refused for its origin (closes).
HttpResponse ForbiddenOrigin(const HttpRequest& req);

// The bytes of the 503 a connection past the limit gets (written raw,
// without reading its request).
std::string ConnectionLimitResponse(size_t max_connections);

// The answer to a request that could not be read because of `ec`: 431 for
// headers over the parser's limit, 413 for a body over its limit, 400 for
// anything else malformed (always closing); nothing (nullopt) when there
// is nobody to answer (the peer left, or was too slow).
std::optional<HttpResponse> UnreadableRequestResponse(boost::system::error_code ec);

// "name" from a query string, reduced to characters safe in a header
// ("download" when there is none).
std::string DownloadName(std::string_view target);

}  // namespace salvus::hub
