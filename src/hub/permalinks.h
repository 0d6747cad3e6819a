// Permalinks: `share` keeps a cell (code, language, interact state) in the
// Store under a short id, `getShared` reads it back for /s/<id> pages.
//
// Not thread-safe: one per shard, on its event loop (the Store's callbacks
// run there too).
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "proto/salvus.pb.h"

namespace salvus::store {
class Store;
}

namespace salvus::hub {

class Permalinks {
 public:
  // Where an answer (JSON for the browser) goes.
  using Reply = std::function<void(std::string json)>;

  // `store`: null without a database (every request is then answered
  // UNAVAILABLE).
  explicit Permalinks(store::Store* store) : store_(store) {}

  // Answers `m` (a share or a getShared, already checked by the Router)
  // through `reply`, under m.id(): at once or when the Store answers.
  void Handle(proto::Message m, Reply reply);

 private:
  store::Store* store_;
};

// Whether `id` may name a permalink (1 to 64 of [A-Za-z0-9_-]).
bool ValidPermalinkId(std::string_view id);

}  // namespace salvus::hub
