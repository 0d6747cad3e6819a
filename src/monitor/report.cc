#include "monitor/report.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <tuple>

namespace salvus::monitor {
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

std::string StatusFields(const store::Status& s) {
  return Num(s.service_id) + '\t' + Num(s.time_ms) + '\t' + Num(s.load1) + '\t' + Num(s.load5) +
         '\t' + Num(s.load15) + '\t' + Num(s.pcpu) + '\t' + Num(s.pmem) + '\t' + Num(s.cputime_s) +
         '\t' + Num(s.walltime_s) + '\t' + Num(s.vsize_kb) + '\t' + Num(s.rss_kb) + '\t' +
         Escape(s.extra);
}

std::optional<store::Status> ParseStatusFields(const std::vector<std::string_view>& f, size_t at) {
  if (f.size() != at + 12) return std::nullopt;
  store::Status s;
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

std::string EncodeStatus(const store::Status& status) {
  return std::string(kStatusHeader) + '\n' + StatusFields(status) + '\n';
}

std::optional<store::Status> DecodeStatus(std::string_view text) {
  auto lines = Split(text, '\n');
  if (lines.size() != 3 || lines[0] != kStatusHeader || !lines[2].empty()) return std::nullopt;
  return ParseStatusFields(Split(lines[1], '\t'), 0);
}

std::optional<std::vector<store::ServiceStatus>> CachedRunningServices(Cache& cache) {
  if (!cache.enabled()) return std::nullopt;
  auto text = cache.Get(kServicesKey);
  if (!text) return std::nullopt;
  auto services = DecodeServices(*text);
  if (!services) return std::nullopt;
  for (auto& ss : *services) {
    auto fresh = cache.Get(StatusKey(ss.service.id));
    if (!fresh) continue;
    auto st = DecodeStatus(*fresh);
    if (st && st->service_id == ss.service.id && (!ss.latest || st->time_ms > ss.latest->time_ms)) {
      ss.latest = std::move(*st);
    }
  }
  return services;
}

void CacheRunningServices(Cache& cache, const std::vector<store::ServiceStatus>& services) {
  if (cache.enabled()) cache.Set(kServicesKey, EncodeServices(services), kServicesTtl);
}

std::string FormatDuration(int64_t ms) {
  if (ms < 0) return "-";
  const int64_t s = ms / 1000;
  char buf[48];
  if (s >= 86400) {
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(s / 86400),
                  static_cast<long long>(s % 86400 / 3600));
  } else if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  } else if (s >= 60) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  }
  return buf;
}

std::string FormatKb(uint64_t kb) {
  char buf[32];
  const char* units = "KMGTP";
  double v = static_cast<double>(kb);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  if (u == 0) {
    std::snprintf(buf, sizeof buf, "%lluK", static_cast<unsigned long long>(kb));
  } else {
    std::snprintf(buf, sizeof buf, v < 10 ? "%.1f%c" : "%.0f%c", v, units[u]);
  }
  return buf;
}

std::string FormatStatusTable(std::vector<store::ServiceStatus> services, int64_t now_ms) {
  std::sort(services.begin(), services.end(), [](const auto& a, const auto& b) {
    return std::tie(a.service.type, a.service.site, a.service.name, a.service.id) <
           std::tie(b.service.type, b.service.site, b.service.name, b.service.id);
  });
  std::vector<std::vector<std::string>> rows;
  rows.push_back(
      {"TYPE", "NAME", "SITE", "ADDRESS", "PID", "%CPU", "%MEM", "RSS", "UPTIME", "STATUS AGE"});
  for (const auto& ss : services) {
    const auto& s = ss.service;
    std::string address =
        s.address.find(':') != std::string::npos ? "[" + s.address + "]" : s.address;
    address += ":" + std::to_string(s.port);
    std::vector<std::string> row = {s.type, s.name, s.site, address, std::to_string(s.pid)};
    char buf[32];
    if (ss.latest) {
      std::snprintf(buf, sizeof buf, "%.1f", ss.latest->pcpu);
      row.push_back(buf);
      std::snprintf(buf, sizeof buf, "%.1f", ss.latest->pmem);
      row.push_back(buf);
      row.push_back(FormatKb(ss.latest->rss_kb));
    } else {
      row.insert(row.end(), {"-", "-", "-"});
    }
    row.push_back(s.start_ms > 0 ? FormatDuration(now_ms - s.start_ms) : "-");
    row.push_back(ss.latest ? FormatDuration(now_ms - ss.latest->time_ms) : "never");
    rows.push_back(std::move(row));
  }
  // Column widths in characters (names may be UTF-8: count code points).
  auto width = [](const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  };
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) widths[i] = std::max(widths[i], width(r[i]));
  }
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      const bool right = i >= 4;  // numbers
      const std::string pad(widths[i] - width(r[i]), ' ');
      line += right ? pad + r[i] : r[i] + pad;
      if (i + 1 < r.size()) line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + '\n';
  }
  if (services.empty()) out += "(no running services)\n";
  return out;
}

}  // namespace salvus::monitor
