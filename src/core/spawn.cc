#include "core/spawn.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <stdexcept>

namespace salvus::core {
namespace {
std::atomic<uint64_t> escaped{0};
}  // namespace

void LogEscapedException(const std::string& what, const std::exception_ptr& e) {
  escaped.fetch_add(1, std::memory_order_relaxed);
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("{} ended by an exception: {}", what, ex.what());
  } catch (...) {
    spdlog::error("{} ended by an exception of unknown type", what);
  }
}

uint64_t EscapedExceptions() { return escaped.load(std::memory_order_relaxed); }

}  // namespace salvus::core
