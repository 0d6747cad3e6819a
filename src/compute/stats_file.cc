#include "compute/stats_file.h"

#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>

namespace salvus::compute {

std::string StatsJson(const proto::ComputeStats& s) {
  std::string json;
  google::protobuf::util::JsonPrintOptions o;
  o.always_print_primitive_fields = true;  // "sessions": 0 too
  (void)google::protobuf::util::MessageToJsonString(s, &json, o);
  return json;
}

StatsFile::StatsFile(boost::asio::io_context& io, std::string path,
                     std::function<proto::ComputeStats()> read, std::chrono::milliseconds period)
    : path_(std::move(path)), read_(std::move(read)), period_(period), timer_(io) {}

void StatsFile::Start() { Tick(); }

void StatsFile::Tick() {
  // A write is a few dozen bytes to a local file, at most twice a second.
  if (std::string json = StatsJson(read_()); json != written_ && Write(json)) {
    written_ = std::move(json);
  }
  timer_.expires_after(period_);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) Tick();
  });
}

bool StatsFile::Write(const std::string& json) {
  const std::string tmp = path_ + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << json << "\n";
    if (!out.flush()) {
      spdlog::warn("cannot write {}", tmp);
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path_.c_str()) != 0) {
    spdlog::warn("cannot rename {} to {}", tmp, path_);
    return false;
  }
  return true;
}

}  // namespace salvus::compute
