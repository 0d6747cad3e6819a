#include "core/log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace salvus::core {

void InitLogging(const std::string& name, const std::string& level, const std::string& file) {
  std::shared_ptr<spdlog::logger> logger;
  if (file.empty()) {
    logger = spdlog::stderr_logger_mt(name);
  } else {
    logger = spdlog::basic_logger_mt(name, file);
  }
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%f [%n] [%l] %v");
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

}  // namespace salvus::core
