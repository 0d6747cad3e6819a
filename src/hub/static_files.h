// Static files for browsers: a pure function from a request path to a
// response (no sockets), so it is tested on its own.
#pragma once

#include <boost/beast/http.hpp>
#include <string>

namespace salvus::hub {

namespace http = boost::beast::http;

// Serves files under `root` (the built web client). "/" and "/s/<id>" (a
// shared cell, which the page loads itself) are index.html.
// Paths that escape root, hidden files and directories get 404. Hashed
// assets (under /assets/) are cached for a year, everything else revalidates.
http::response<http::string_body> ServeStatic(const std::string& root,
                                              const http::request<http::string_body>& req);

std::string MimeType(const std::string& path);

bool IsSharedPath(const std::string& path);

}  // namespace salvus::hub
