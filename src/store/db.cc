#include "store/db.h"

#include <charconv>
#include <cstdio>

#include "core/utf8.h"

namespace salvus::store::internal {

Param Null() { return {}; }

Param Int(int64_t v) {
  Param p;
  p.type = Param::Type::kInt;
  p.i = v;
  return p;
}

Param Real(double v) {
  Param p;
  p.type = Param::Type::kReal;
  p.d = v;
  return p;
}

Param Text(std::string_view v) {
  Param p;
  p.type = Param::Type::kText;
  if (core::IsValidUtf8(v) && v.find('\0') == std::string_view::npos) {
    p.s.assign(v);
    return p;
  }
  std::string repaired;
  core::Utf8Sanitizer sanitizer;
  sanitizer.Feed(v, &repaired);
  sanitizer.Finish(&repaired);
  p.s.reserve(repaired.size());
  for (char c : repaired) {
    if (c == '\0') {
      p.s += "\xEF\xBF\xBD";
    } else {
      p.s += c;
    }
  }
  return p;
}

Param Bytes(std::string v) {
  Param p;
  p.type = Param::Type::kBytes;
  p.s = std::move(v);
  return p;
}

bool Rows::IsNull(size_t row, size_t col) const {
  return std::holds_alternative<std::monostate>(rows.at(row).at(col));
}

int64_t Rows::Int(size_t row, size_t col) const {
  const Value& v = rows.at(row).at(col);
  if (auto* i = std::get_if<int64_t>(&v)) return *i;
  if (auto* d = std::get_if<double>(&v)) return static_cast<int64_t>(*d);
  if (auto* s = std::get_if<std::string>(&v)) {
    int64_t out = 0;
    std::from_chars(s->data(), s->data() + s->size(), out);
    return out;
  }
  return 0;
}

double Rows::Real(size_t row, size_t col) const {
  const Value& v = rows.at(row).at(col);
  if (auto* d = std::get_if<double>(&v)) return *d;
  if (auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  if (auto* s = std::get_if<std::string>(&v)) {
    double out = 0;
    std::from_chars(s->data(), s->data() + s->size(), out);
    return out;
  }
  return 0;
}

std::string Rows::Text(size_t row, size_t col) const {
  const Value& v = rows.at(row).at(col);
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  if (auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (auto* d = std::get_if<double>(&v)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", *d);
    return buf;
  }
  return "";
}

boost::asio::awaitable<void> Db::Commit() { co_await Query("COMMIT", {}); }

}  // namespace salvus::store::internal
