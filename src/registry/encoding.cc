#include "registry/encoding.h"

#include <charconv>

namespace salvus::registry {
namespace {

constexpr std::string_view kServicesHeader = "salvus-services 1";
constexpr std::string_view kStatusHeader = "salvus-status 1";

std::string Escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::optional<std::string> Unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    if (++i == s.size()) return std::nullopt;
    switch (s[i]) {
      case '\\':
        out += '\\';
        break;
      case 't':
        out += '\t';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      default:
        return std::nullopt;
    }
  }
  return out;
}

template <class T>
std::string Num(T v) {
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, p);
}

template <class T>
bool Parse(std::string_view s, T* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(sep, start);
    if (p == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, p - start));
    start = p + 1;
  }
}

std::string StatusFields(const store::StatusRow& s) {
  return Num(s.service_id) + '\t' + Num(s.time_ms) + '\t' + Num(s.load1) + '\t' + Num(s.load5) +
         '\t' + Num(s.load15) + '\t' + Num(s.pcpu) + '\t' + Num(s.pmem) + '\t' + Num(s.cputime_s) +
         '\t' + Num(s.walltime_s) + '\t' + Num(s.vsize_kb) + '\t' + Num(s.rss_kb) + '\t' +
         Escape(s.extra);
}

std::optional<store::StatusRow> ParseStatusFields(const std::vector<std::string_view>& f,
                                                  size_t at) {
  if (f.size() != at + 12) return std::nullopt;
  store::StatusRow s;
  auto extra = Unescape(f[at + 11]);
  if (!extra || !Parse(f[at], &s.service_id) || !Parse(f[at + 1], &s.time_ms) ||
      !Parse(f[at + 2], &s.load1) || !Parse(f[at + 3], &s.load5) || !Parse(f[at + 4], &s.load15) ||
      !Parse(f[at + 5], &s.pcpu) || !Parse(f[at + 6], &s.pmem) || !Parse(f[at + 7], &s.cputime_s) ||
      !Parse(f[at + 8], &s.walltime_s) || !Parse(f[at + 9], &s.vsize_kb) ||
      !Parse(f[at + 10], &s.rss_kb)) {
    return std::nullopt;
  }
  s.extra = std::move(*extra);
  return s;
}

}  // namespace

std::string StatusKey(int64_t service_id) { return "status:" + std::to_string(service_id); }

std::string EncodeServices(const std::vector<store::ServiceStatus>& services) {
  std::string out(kServicesHeader);
  out += '\n';
  for (const auto& ss : services) {
    const auto& s = ss.service;
    out += "S\t" + Num(s.id) + '\t' + Escape(s.type) + '\t' + Escape(s.name) + '\t' +
           Escape(s.site) + '\t' + Escape(s.address) + '\t' + Num(s.port) + '\t' + Escape(s.user) +
           '\t' + Num(s.pid) + '\t' + Num(s.monitor_pid) + '\t' + Num(s.start_ms) + '\t' +
           Num(s.stop_ms) + '\t' + (s.running ? "1" : "0") + '\n';
    if (ss.latest) out += "T\t" + StatusFields(*ss.latest) + '\n';
  }
  return out;
}

std::optional<std::vector<store::ServiceStatus>> DecodeServices(std::string_view text) {
  auto lines = Split(text, '\n');
  if (lines.empty() || lines[0] != kServicesHeader) return std::nullopt;
  if (!lines.back().empty()) return std::nullopt;  // cut short
  std::vector<store::ServiceStatus> out;
  for (size_t i = 1; i + 1 < lines.size(); ++i) {
    auto f = Split(lines[i], '\t');
    if (f[0] == "S" && f.size() == 13) {
      store::Service s;
      auto type = Unescape(f[2]), name = Unescape(f[3]), site = Unescape(f[4]),
           address = Unescape(f[5]), user = Unescape(f[7]);
      if (!type || !name || !site || !address || !user || !Parse(f[1], &s.id) ||
          !Parse(f[6], &s.port) || !Parse(f[8], &s.pid) || !Parse(f[9], &s.monitor_pid) ||
          !Parse(f[10], &s.start_ms) || !Parse(f[11], &s.stop_ms) ||
          (f[12] != "0" && f[12] != "1")) {
        return std::nullopt;
      }
      s.type = std::move(*type);
      s.name = std::move(*name);
      s.site = std::move(*site);
      s.address = std::move(*address);
      s.user = std::move(*user);
      s.running = f[12] == "1";
      out.push_back({std::move(s), std::nullopt});
    } else if (f[0] == "T" && !out.empty() && !out.back().latest) {
      auto st = ParseStatusFields(f, 1);
      if (!st) return std::nullopt;
      out.back().latest = std::move(*st);
    } else {
      return std::nullopt;
    }
  }
  return out;
}

std::string EncodeStatus(const store::StatusRow& status) {
  return std::string(kStatusHeader) + '\n' + StatusFields(status) + '\n';
}

std::optional<store::StatusRow> DecodeStatus(std::string_view text) {
  auto lines = Split(text, '\n');
  if (lines.size() != 3 || lines[0] != kStatusHeader || !lines[2].empty()) return std::nullopt;
  return ParseStatusFields(Split(lines[1], '\t'), 0);
}

}  // namespace salvus::registry
