#include "hub/http_handler.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <memory>
#include <optional>
#include <utility>

#include "core/sha1.h"
#include "hub/blob_store.h"
#include "hub/hub_metrics.h"
#include "hub/static_files.h"
#include "store/await_store.h"
#include "store/store.h"

namespace salvus::hub {

namespace {

constexpr size_t kMaxDownloadName = 100;
// A client past the connection limit may try again after this many seconds.
constexpr int kRetryAfterSeconds = 5;

}  // namespace

HttpResponse TextResponse(const HttpRequest& req, http::status status, std::string text) {
  HttpResponse res{status, req.version()};
  res.set(http::field::server, "salvus");
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(text) + "\n";
  res.prepare_payload();
  return res;
}

std::string DownloadName(std::string_view target) {
  std::string name;
  if (auto q = target.find("?name="); q != std::string_view::npos) {
    for (char c : target.substr(q + 6)) {
      if (c == '&') break;
      if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_') {
        name.push_back(c);
      }
      if (name.size() >= kMaxDownloadName) break;
    }
  }
  return name.empty() ? "download" : name;
}

HttpResponse ForbiddenOrigin(const HttpRequest& req) {
  auto origin = req[http::field::origin];
  auto res = TextResponse(req, http::status::forbidden,
                          "this hub does not accept pages from " + std::string(origin));
  res.keep_alive(false);
  return res;
}

std::string ConnectionLimitResponse(size_t max_connections, bool per_address) {
  const std::string text =
      per_address ? "too many connections from your address (at most " +
                        std::to_string(max_connections) + "); close some, then try again\n"
                  : "the hub is at its connection limit (" + std::to_string(max_connections) +
                        "); try again later\n";
  return std::string(per_address ? "HTTP/1.1 429 Too Many Requests"
                                 : "HTTP/1.1 503 Service Unavailable") +
         "\r\nServer: salvus\r\n"
         "Content-Type: text/plain; charset=utf-8\r\nRetry-After: " +
         std::to_string(kRetryAfterSeconds) +
         "\r\n"
         "Connection: close\r\nContent-Length: " +
         std::to_string(text.size()) + "\r\n\r\n" + text;
}

std::optional<HttpResponse> UnreadableRequestResponse(boost::system::error_code ec) {
  if (ec.category() != http::make_error_code(http::error::bad_target).category() ||
      ec == http::error::end_of_stream || ec == http::error::partial_message) {
    return std::nullopt;
  }
  HttpRequest req;
  req.version(11);
  req.keep_alive(false);
  if (ec == http::error::header_limit) {
    Metrics().http_header_too_large.Add();
    return TextResponse(req, http::status::request_header_fields_too_large,
                        "request headers too large");
  }
  if (ec == http::error::body_limit) {
    Metrics().http_body_too_large.Add();
    return TextResponse(req, http::status::payload_too_large, "request body too large");
  }
  Metrics().http_malformed.Add();
  return TextResponse(req, http::status::bad_request, "malformed HTTP request: " + ec.message());
}

namespace {

HttpResponse Healthy(const HttpRequest& req) {
  HttpResponse res;
  res.result(http::status::ok);
  res.version(req.version());
  res.set(http::field::content_type, "text/plain");
  res.body() = "ok\n";
  res.keep_alive(req.keep_alive());
  res.prepare_payload();
  return res;
}

}  // namespace

HttpResponse RefusedResponse(const HttpRequest& req, bool per_address, size_t max) {
  HttpResponse res =
      req.target() == "/healthz"
          ? Healthy(req)
          : TextResponse(
                req,
                per_address ? http::status::too_many_requests : http::status::service_unavailable,
                per_address ? "too many connections from your address (at most " +
                                  std::to_string(max) + "); close some, then try again"
                            : "the hub is at its connection limit (" + std::to_string(max) +
                                  "); try again later");
  if (res.result() != http::status::ok) {
    res.set(http::field::retry_after, std::to_string(kRetryAfterSeconds));
  }
  res.keep_alive(false);
  return res;
}

boost::asio::awaitable<HttpResponse> HttpHandler::Handle(const HttpRequest& req,
                                                         const boost::asio::ip::address& peer) {
  if (req.target() == "/healthz") co_return Healthy(req);
  if (req.target().starts_with("/blobs/")) co_return co_await ServeBlob(req);
  if (AdminPage::Owns(std::string_view(req.target().data(), req.target().size()))) {
    co_return co_await admin_.Handle(req, peer);
  }
  co_return ServeStatic(web_root_, req);
}

// GET /blobs/<sha1>[?name=file.ext]
boost::asio::awaitable<HttpResponse> HttpHandler::ServeBlob(const HttpRequest& req) {
  const std::string_view target(req.target().data(), req.target().size());
  std::string name(target.substr(7, target.find('?') == std::string_view::npos
                                        ? std::string_view::npos
                                        : target.find('?') - 7));
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    co_return TextResponse(req, http::status::method_not_allowed, "only GET and HEAD");
  }
  if (!core::IsSha1Hex(name)) {
    co_return TextResponse(req, http::status::bad_request,
                           "malformed blob name: expected 40 lowercase hex digits (a SHA-1)");
  }
  auto blob = blobs_->Get(name);
  if (!blob && store_) {
    auto r = co_await store::AwaitStore<std::optional<store::Blob>>(
        [&](auto cb) { store_->GetBlob(name, std::move(cb)); });
    if (r && *r) {
      blobs_->Put((*r)->sha1, (*r)->mime, (*r)->data);
      blob = std::make_shared<const BlobStore::Blob>(
          BlobStore::Blob{(*r)->sha1, (*r)->mime, std::move((*r)->data)});
    } else if (!r) {
      spdlog::warn("blob {}: database lookup failed: {}", name, r.error());
    }
  }
  if (!blob) co_return TextResponse(req, http::status::not_found, "no such blob");
  HttpResponse res{http::status::ok, req.version()};
  res.set(http::field::server, "salvus");
  const std::string type = BlobContentType(blob->mime);
  res.set(http::field::content_type, type);
  res.set(http::field::cache_control, "public, max-age=31536000, immutable");
  res.set(http::field::etag, "\"" + blob->sha1 + "\"");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox");
  res.set("Cross-Origin-Resource-Policy", "cross-origin");
  if (type == "application/octet-stream") {
    res.set(http::field::content_disposition,
            "attachment; filename=\"" + DownloadName(target) + "\"");
  }
  res.keep_alive(req.keep_alive());
  if (req.method() == http::verb::get) res.body() = blob->data;
  res.prepare_payload();
  co_return res;
}

}  // namespace salvus::hub
