// The production backend: one asynchronous libpq connection, driven by the
// caller's executor (the connection's socket is watched with a
// posix::stream_descriptor), so a slow query blocks no one.
//
// Operations are queued and run one after another on that connection. When
// the connection breaks, the operation in flight fails ("connection lost");
// the next one reconnects. When connecting fails, every queued operation
// fails with the reason; the next one tries again. Connecting gives up after
// the URL's connect_timeout (default 10 s). libpq resolves a host *name*
// synchronously: use an address or a unix socket to keep even that off the
// loop.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "store/store_impl.h"

namespace salvus::store::internal {

class PgConnection;

class PostgresStore : public StoreImpl {
 public:
  // `conninfo`: any libpq connection string or URI (already validated).
  // Starts connecting at once.
  PostgresStore(std::string conninfo, std::chrono::seconds connect_timeout,
                boost::asio::any_io_executor ex, const Options& opt);
  // Closes the connection now; queued and in-flight operations are dropped
  // without their callbacks.
  ~PostgresStore() override;

  std::string backend() const override { return "postgresql"; }

 private:
  void Enqueue(Job job) override;

  std::shared_ptr<PgConnection> conn_;
};

}  // namespace salvus::store::internal
