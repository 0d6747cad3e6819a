// The embedded backend: one SQLite file (WAL mode, busy timeout), used by
// one connection on the store's own thread. The caller's executor never runs
// SQL; it only receives results.
#pragma once

#include <memory>
#include <string>

#include "store/store_impl.h"

namespace salvus::store::internal {

class SqliteStore : public StoreImpl {
 public:
  // `path`: a file name, or ":memory:". The file is opened on the store's
  // thread; if that fails, each operation reports why (and retries the open).
  SqliteStore(std::string path, boost::asio::any_io_executor ex, const Options& opt);
  // Finishes the statement in progress (bounded by the busy timeout), then
  // discards queued operations without calling their callbacks.
  ~SqliteStore() override;

  std::string backend() const override { return "sqlite"; }

 private:
  class Worker;
  void Enqueue(Job job) override;

  std::unique_ptr<Worker> worker_;
};

}  // namespace salvus::store::internal
