// Starting coroutines. Every co_spawn in Salvus goes through Spawn, whose
// completion handler logs an exception that escaped the coroutine (naming
// the coroutine) instead of dropping it as `asio::detached` does in Boost
// 1.74. Cleanup must not depend on reaching the end of a coroutine: hold
// what must be released in RAII objects, which run as the exception leaves.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <cstdint>
#include <exception>
#include <string>
#include <utility>

namespace salvus::core {

// Logs (at error) an exception that ended the coroutine `what`; counts it.
void LogEscapedException(const std::string& what, const std::exception_ptr& e);

// Exceptions logged by LogEscapedException since the process started (tests
// use it to check that an injected throw was seen).
uint64_t EscapedExceptions();

// co_spawn(ex, awaitable, <log what escaped>). `what` names the coroutine
// in the log: a string literal stays a `const char*` and costs nothing per
// spawn (the hub spawns two coroutines per connection); a built std::string
// is kept until the coroutine ends.
template <typename Executor, typename Label>
void Spawn(Executor&& ex, boost::asio::awaitable<void> a, Label what) {
  boost::asio::co_spawn(std::forward<Executor>(ex), std::move(a),
                        [what = std::move(what)](const std::exception_ptr& e) {
                          if (e) LogEscapedException(what, e);
                        });
}

}  // namespace salvus::core
