#include "hub/static_files.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace salvus::hub {

std::string MimeType(const std::string& path) {
  auto ends = [&](const char* ext) {
    const std::string e = ext;
    return path.size() >= e.size() && path.compare(path.size() - e.size(), e.size(), e) == 0;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js") || ends(".mjs")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".json")) return "application/json";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".ico")) return "image/x-icon";
  if (ends(".woff2")) return "font/woff2";
  if (ends(".woff")) return "font/woff";
  if (ends(".txt")) return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

// /s/<id>: a shared cell, shown by the page itself.
bool IsSharedPath(const std::string& path) {
  if (path.rfind("/s/", 0) != 0 || path.size() == 3 || path.size() > 3 + 64) return false;
  for (size_t i = 3; i < path.size(); ++i) {
    const char c = path[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

http::response<http::string_body> ServeStatic(const std::string& root,
                                              const http::request<http::string_body>& req) {
  http::response<http::string_body> res;
  res.version(req.version());
  res.keep_alive(req.keep_alive());
  res.set(http::field::server, "salvus");
  auto fail = [&](http::status st, const std::string& why) {
    res.result(st);
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.body() = why + "\n";
    res.prepare_payload();
    return res;
  };
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    return fail(http::status::method_not_allowed, "only GET and HEAD");
  }
  std::string path(req.target());
  if (auto q = path.find('?'); q != std::string::npos) path.resize(q);
  if (path.empty() || path[0] != '/' || path.find("..") != std::string::npos ||
      path.find("/.") != std::string::npos || path.find('\0') != std::string::npos) {
    return fail(http::status::not_found, "not found");
  }
  if (path == "/" || IsSharedPath(path)) path = "/index.html";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(root + path, ec))
    return fail(http::status::not_found, "not found");
  std::ifstream in(root + path, std::ios::binary);
  if (!in) return fail(http::status::not_found, "not found");
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return fail(http::status::not_found, "not found");
  res.result(http::status::ok);
  res.set(http::field::content_type, MimeType(path));
  res.set(http::field::cache_control,
          path.rfind("/assets/", 0) == 0 ? "public, max-age=31536000, immutable" : "no-cache");
  res.set("X-Content-Type-Options", "nosniff");
  if (req.method() == http::verb::get) res.body() = ss.str();
  res.prepare_payload();
  if (req.method() == http::verb::head) res.body().clear();
  return res;
}

}  // namespace salvus::hub
