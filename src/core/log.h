// Logging for every salvus process. Each line starts with a timestamp in one
// fixed format, "YYYY-mm-dd HH:MM:SS.ffffff", so a monitor tailing the file
// can record when a line was written rather than when it was read.
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>

namespace salvus::core {

// Logs to stderr, or appends to `file` when non-empty (made 0600, never
// inherited by a child process). `level`: trace, debug, info, warn, error.
void InitLogging(const std::string& name, const std::string& level, const std::string& file = "");

// A session id is a capability (whoever has it can resume the session), and
// logs travel (monitors copy them into the database): a log line shows only
// its first 8 characters, enough to follow one session through a log.
inline std::string_view LogId(std::string_view session) { return session.substr(0, 8); }

}  // namespace salvus::core
