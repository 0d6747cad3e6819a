// OpenStore: picks the backend from the URL.
#include "store/store.h"

#include <libpq-fe.h>

#include <charconv>
#include <chrono>
#include <cstring>

#include "store/postgres_store.h"
#include "store/sqlite_store.h"

namespace salvus::store {
namespace {

// Used when the URL sets no connect_timeout.
constexpr std::chrono::seconds kDefaultConnectTimeout{10};

bool StartsWith(const std::string& s, std::string_view prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

Result<std::unique_ptr<Store>> OpenStore(const std::string& url, boost::asio::any_io_executor ex,
                                         const Options& opt) {
  if (StartsWith(url, "sqlite:")) {
    std::string path = url.substr(std::strlen("sqlite:"));
    if (StartsWith(path, "//")) path = path.substr(2);  // sqlite:///abs/path
    if (path.empty())
      return std::unexpected("store URL \"" + url + "\" has no file: use sqlite:PATH");
    return std::make_unique<internal::SqliteStore>(std::move(path), std::move(ex), opt);
  }
  if (StartsWith(url, "postgresql://") || StartsWith(url, "postgres://")) {
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
    if (options == nullptr) {
      std::string why = error != nullptr ? error : "out of memory";
      PQfreemem(error);
      while (!why.empty() && why.back() == '\n') why.pop_back();
      return std::unexpected("bad PostgreSQL URL: " + why);
    }
    std::chrono::seconds timeout = kDefaultConnectTimeout;
    for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
      if (std::strcmp(o->keyword, "connect_timeout") == 0 && o->val != nullptr) {
        int s = 0;
        const char* end = o->val + std::strlen(o->val);
        if (std::from_chars(o->val, end, s).ec != std::errc() || s <= 0) {
          std::string error = std::string("bad PostgreSQL URL: connect_timeout \"") + o->val +
                              "\" is not a positive number of seconds";
          PQconninfoFree(options);
          return std::unexpected(error);
        }
        timeout = std::chrono::seconds(s);
      }
    }
    PQconninfoFree(options);
    return std::make_unique<internal::PostgresStore>(url, timeout, std::move(ex), opt);
  }
  // Only the scheme: the rest may hold a password.
  const std::string scheme = url.substr(0, url.find(':'));
  return std::unexpected("unsupported store URL scheme \"" + scheme +
                         "\": use sqlite:PATH or postgresql://...");
}

}  // namespace salvus::store
