#include "hub/permalinks.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <optional>
#include <utility>

#include "hub/router.h"
#include "store/store.h"

namespace salvus::hub {

namespace {
constexpr size_t kMaxIdLength = 64;
}  // namespace

bool ValidPermalinkId(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

void Permalinks::Handle(proto::Message m, Reply reply) {
  const uint64_t bid = m.id();
  if (!store_) {
    reply(Router::ErrorJson(bid, proto::Error::UNAVAILABLE,
                            "sharing needs a database: start the hub with --db"));
    return;
  }
  if (m.has_share()) {
    proto::Share& sh = *m.mutable_share();
    std::string lang = sh.language().empty() ? "sage" : sh.language();
    store_->CreatePermalink(
        std::move(*sh.mutable_code()), std::move(lang), std::move(*sh.mutable_interact_state()),
        [reply = std::move(reply), bid](store::Result<std::string> r) {
          if (!r) {
            spdlog::error("share failed: {}", r.error());
            reply(Router::ErrorJson(bid, proto::Error::INTERNAL,
                                    "could not store the shared cell: " + r.error()));
            return;
          }
          proto::Message a;
          a.set_id(bid);
          a.mutable_shared()->set_id(*r);
          reply(Router::ToJson(a));
        });
    return;
  }
  const std::string id = m.get_shared().id();
  if (!ValidPermalinkId(id)) {
    reply(Router::ErrorJson(bid, proto::Error::BAD_REQUEST, "malformed shared id"));
    return;
  }
  store_->GetPermalink(
      id, [reply = std::move(reply), bid, id](store::Result<std::optional<store::Permalink>> r) {
        if (!r) {
          reply(Router::ErrorJson(bid, proto::Error::INTERNAL,
                                  "could not read the shared cell: " + r.error()));
          return;
        }
        if (!*r) {
          reply(Router::ErrorJson(bid, proto::Error::NOT_FOUND, "no shared cell '" + id + "'"));
          return;
        }
        proto::Message a;
        a.set_id(bid);
        auto* sh = a.mutable_shared();
        sh->set_id((*r)->id);
        sh->set_code((*r)->code);
        sh->set_language((*r)->language);
        sh->set_interact_state((*r)->interact_state);
        reply(Router::ToJson(a));
      });
}

}  // namespace salvus::hub
