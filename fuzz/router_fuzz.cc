// Fuzz target: the hub's handling of browser messages (hub/router: UTF-8
// check, size limits, core/json_read, then the library's JSON parser, then
// each message's checks), driven through sessions that start, produce,
// end, detach and resume.
//
// Input: pieces separated by 0xFF (never in valid UTF-8, so never inside a
// message). A piece is one control byte, then the text a browser sends.
// The control byte says which connection sends it (bit 0), what the fake
// compute server answers to each request forwarded (bits 1-3), and whether
// that connection then closes (bit 4), detached sessions expire (bit 5) or
// the compute link is lost (bit 6). Session "s1" of connection 1 exists from
// the start.
//
// Checks: everything sent to a browser is valid UTF-8 and a message the
// protobuf library reads; everything sent to a compute server carries a hub
// id and goes to a link that exists.
#include <google/protobuf/util/json_util.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/utf8.h"
#include "fuzz_check.h"
#include "hub/router.h"

namespace {

using salvus::hub::Out;
using salvus::hub::Router;
using salvus::hub::ToBrowser;
using salvus::hub::ToCompute;
using salvus::hub::ToStore;
namespace proto = salvus::proto;

struct Harness {
  Router router{2, {.max_code = 4096, .max_share = 1024, .max_buffer = 4096}};
  int sessions = 0;

  Harness() {
    router.SetLinkUp(0, true);
    router.SetLinkUp(1, true);
  }

  // Checks `out`, and lets the fake compute server answer what was sent to
  // it (`action`), until nothing more is sent.
  void Drain(std::vector<Out> out, int action) {
    for (int round = 0; round < 8 && !out.empty(); ++round) {
      std::vector<Out> next;
      for (Out& o : out) {
        if (auto* b = std::get_if<ToBrowser>(&o)) {
          FUZZ_CHECK(salvus::core::IsValidUtf8(b->text));
          proto::Message m;
          FUZZ_CHECK(google::protobuf::util::JsonStringToMessage(b->text, &m).ok());
        } else if (auto* c = std::get_if<ToCompute>(&o)) {
          FUZZ_CHECK(c->link < router.links());
          FUZZ_CHECK(c->msg.id() != 0);
          Answer(*c, action, &next);
        } else if (auto* s = std::get_if<ToStore>(&o)) {
          FUZZ_CHECK(s->msg.has_share() || s->msg.has_get_shared());
        }
      }
      out = std::move(next);
    }
  }

  void Answer(const ToCompute& c, int action, std::vector<Out>* out) {
    proto::Message r;
    r.set_id(c.msg.id());
    const std::string session = Router::SessionOf(c.msg);
    switch (action) {
      case 0:  // no answer (yet)
        return;
      case 1:
        if (c.msg.has_start_session()) {
          r.mutable_session_started()->set_session("s" + std::to_string(++sessions));
        } else {
          r.mutable_done()->set_session(session);
        }
        break;
      case 2: {
        proto::Message o = r;
        o.mutable_output()->set_session(session);
        o.mutable_output()->set_text("out");
        router.OnComputeMessage(c.link, o, out);
        r.mutable_done()->set_session(session);
        r.mutable_done()->set_status(proto::Done::ERROR);
        break;
      }
      case 3:
        r.mutable_error()->set_code(proto::Error::UNAVAILABLE);
        r.mutable_error()->set_text("full");
        break;
      case 4:
        r.mutable_ack();
        break;
      case 5:  // the session ends by itself
        r.set_id(0);
        r.mutable_session_ended()->set_session(session);
        r.mutable_session_ended()->set_reason("gone");
        break;
      case 6: {
        proto::Message b = r;
        b.mutable_blob()->set_sha1(std::string(40, 'a'));
        router.OnComputeMessage(c.link, b, out);
        r.mutable_error()->set_code(proto::Error::INTERNAL);
        break;
      }
      default:  // answered on the other link (a stale or forged reply)
        r.mutable_done()->set_session(session);
        router.OnComputeMessage(1 - c.link, r, out);
        return;
    }
    router.OnComputeMessage(c.link, r, out);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Harness h;
  {
    std::vector<Out> out;
    h.router.OnBrowserText(1, R"({"id": 1, "startSession": {}})", &out);
    FUZZ_CHECK(out.size() == 1 && std::holds_alternative<ToCompute>(out[0]));
    h.Drain(std::move(out), 1);  // "s1"
  }
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto far = Router::Clock::now() + std::chrono::hours(24);
  size_t pos = 0;
  while (pos < in.size()) {
    size_t end = in.find('\xFF', pos);
    if (end == std::string_view::npos) end = in.size();
    const std::string_view piece = in.substr(pos, end - pos);
    pos = end + 1;
    if (piece.empty()) continue;
    const auto control = static_cast<uint8_t>(piece[0]);
    const uint64_t conn = 1 + (control & 1);
    const int action = (control >> 1) & 7;
    std::vector<Out> out;
    h.router.OnBrowserText(conn, piece.substr(1), &out);
    h.Drain(std::move(out), action);
    if (control & 0x10) {
      out.clear();
      h.router.OnBrowserClosed(conn, &out);
      h.Drain(std::move(out), action);
    }
    if (control & 0x20) {
      out.clear();
      h.router.ExpireDetached(far, &out);
      h.Drain(std::move(out), action);
    }
    if (control & 0x40) {
      out.clear();
      h.router.OnComputeLost(control & 0x80 ? 1 : 0, "lost", &out);
      h.Drain(std::move(out), action);
      h.router.SetLinkUp(control & 0x80 ? 1 : 0, true);
    }
  }
  std::vector<Out> out;
  h.router.OnBrowserClosed(1, &out);
  h.router.OnBrowserClosed(2, &out);
  h.router.ExpireDetached(far, &out);
  h.Drain(std::move(out), 0);
  FUZZ_CHECK(h.router.detached() == 0);
  return 0;
}
