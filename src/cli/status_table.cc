#include "cli/status_table.h"

#include <algorithm>
#include <cstdio>
#include <tuple>

namespace salvus::cli {

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

}  // namespace salvus::cli
