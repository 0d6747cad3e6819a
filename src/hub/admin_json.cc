#include "hub/admin_json.h"

#include <fmt/format.h>

#include <cmath>
#include <iterator>

#include "core/json.h"

namespace salvus::hub {

namespace {

void Number(double v, std::string* out) {
  if (!std::isfinite(v)) v = 0;
  fmt::format_to(std::back_inserter(*out), "{}", v);
}

void Int(int64_t v, std::string* out) { fmt::format_to(std::back_inserter(*out), "{}", v); }

void Key(std::string_view k, std::string* out) {
  out->push_back('"');
  out->append(k);
  out->append("\":");
}

void Row(const store::StatusRow& r, std::string* out) {
  out->append("{");
  Key("t", out);
  Int(r.time_ms, out);
  const std::pair<std::string_view, double> numbers[] = {
      {"load1", r.load1},
      {"load5", r.load5},
      {"load15", r.load15},
      {"pcpu", r.pcpu},
      {"pmem", r.pmem},
      {"cputimeS", r.cputime_s},
      {"walltimeS", r.walltime_s},
      {"vsizeKb", static_cast<double>(r.vsize_kb)},
      {"rssKb", static_cast<double>(r.rss_kb)}};
  for (auto& [k, v] : numbers) {
    out->push_back(',');
    Key(k, out);
    Number(v, out);
  }
  out->push_back(',');
  Key("extra", out);
  core::AppendJsonString(r.extra, out);
  out->append("}");
}

}  // namespace

std::string ServicesJson(const std::vector<store::ServiceStatus>& services, int64_t now_ms,
                         std::chrono::milliseconds stale_after) {
  std::string out = "{\"nowMs\":";
  Int(now_ms, &out);
  out.append(",\"services\":[");
  for (size_t i = 0; i < services.size(); ++i) {
    const store::Service& s = services[i].service;
    const auto& latest = services[i].latest;
    if (i) out.push_back(',');
    out.append("{\"id\":");
    Int(s.id, &out);
    for (auto [k, v] : {std::pair<std::string_view, const std::string&>{"type", s.type},
                        {"name", s.name},
                        {"site", s.site},
                        {"address", s.address}}) {
      out.push_back(',');
      Key(k, &out);
      core::AppendJsonString(v, &out);
    }
    out.append(",\"port\":");
    Int(s.port, &out);
    out.append(",\"pid\":");
    Int(s.pid, &out);
    out.append(s.running ? ",\"running\":true" : ",\"running\":false");
    out.append(",\"startMs\":");
    Int(s.start_ms, &out);
    out.append(",\"stopMs\":");
    Int(s.stop_ms, &out);
    const int64_t age_ms = latest ? std::max<int64_t>(0, now_ms - latest->time_ms) : -1;
    const bool fresh = latest && age_ms <= stale_after.count();
    out.append(",\"health\":");
    out.append(!s.running ? "\"down\"" : fresh ? "\"up\"" : "\"stale\"");
    out.append(",\"statusAgeS\":");
    if (latest) {
      Number(static_cast<double>(age_ms) / 1000, &out);
    } else {
      out.append("null");
    }
    out.append(",\"latest\":");
    if (latest) {
      Row(*latest, &out);
    } else {
      out.append("null");
    }
    out.push_back('}');
  }
  out.append("]}");
  return out;
}

std::string StatusJson(int64_t service_id, int64_t from_ms, std::vector<store::StatusRow> rows,
                       size_t max_points) {
  if (max_points > 0 && rows.size() > max_points) {
    const size_t stride = (rows.size() + max_points - 1) / max_points;
    std::vector<store::StatusRow> kept;
    kept.reserve(max_points);
    // Counted from the newest, so the newest row is always kept.
    for (size_t i = (rows.size() - 1) % stride; i < rows.size(); i += stride) {
      kept.push_back(std::move(rows[i]));
    }
    rows = std::move(kept);
  }
  std::string out = "{\"service\":";
  Int(service_id, &out);
  out.append(",\"fromMs\":");
  Int(from_ms, &out);
  out.append(",\"rows\":[");
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i) out.push_back(',');
    Row(rows[i], &out);
  }
  out.append("]}");
  return out;
}

std::string LogJson(int64_t service_id, const std::vector<store::LogLine>& lines) {
  std::string out = "{\"service\":";
  Int(service_id, &out);
  out.append(",\"lines\":[");
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i) out.push_back(',');
    out.append("{\"t\":");
    Int(lines[i].time_ms, &out);
    out.append(",\"text\":");
    core::AppendJsonString(lines[i].text, &out);
    out.push_back('}');
  }
  out.append("]}");
  return out;
}

}  // namespace salvus::hub
