// Awaiting a Store call from a coroutine: the Store takes callbacks (see
// store.h), a coroutine wants `co_await`.
//
//   auto id = co_await AwaitStore<int64_t>(
//       [&](auto cb) { store.RegisterService(s, std::move(cb)); });
//
// The callback runs on the store's executor; the coroutine resumes there.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>

#include "store/store.h"

namespace salvus::store {

template <class T, class Start>
boost::asio::awaitable<store::Result<T>> AwaitStore(Start start) {
  namespace asio = boost::asio;
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(store::Result<T>)>(
      [start = std::move(start)](auto handler) mutable {
        // std::function wants a copyable callable; the handler is move-only.
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        start([h](store::Result<T> r) { (*h)(std::move(r)); });
      },
      asio::use_awaitable);
}

}  // namespace salvus::store
