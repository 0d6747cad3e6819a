// Router (hub message handling) costs per message, with Google Benchmark.
#include <benchmark/benchmark.h>

#include "hub/router.h"

namespace salvus::hub {
namespace {

struct Fixture {
  Router r{1, RouterOptions{}};
  std::string session = "0123456789abcdef0123456789abcdef";
  Fixture() {
    r.SetLinkUp(0, true);
    std::vector<Out> out;
    r.OnBrowserText(1, R"({"id": 1, "startSession": {}})", &out);
    proto::Message m;
    m.set_id(std::get<ToCompute>(out[0]).msg.id());
    m.mutable_session_started()->set_session(session);
    out.clear();
    r.OnComputeMessage(0, m, &out);
  }
};

void BM_BrowserExecute(benchmark::State& state) {
  Fixture f;
  const std::string text =
      R"({"id": 7, "execute": {"session": ")" + f.session + R"(", "code": "2+2"}})";
  std::vector<Out> out;
  uint64_t hub_id = 0;
  for (auto _ : state) {
    out.clear();
    f.r.OnBrowserText(1, text, &out);
    hub_id = std::get<ToCompute>(out[0]).msg.id();
    // Complete it so the pending table stays small.
    proto::Message d;
    d.set_id(hub_id);
    d.mutable_done()->set_session(f.session);
    out.clear();
    f.r.OnComputeMessage(0, d, &out);
  }
}
BENCHMARK(BM_BrowserExecute);

void BM_ComputeOutputToJson(benchmark::State& state) {
  proto::Message m;
  m.set_id(5);
  m.mutable_output()->set_session("0123456789abcdef0123456789abcdef");
  m.mutable_output()->set_text("4\n");
  for (auto _ : state) benchmark::DoNotOptimize(Router::ToJson(m));
}
BENCHMARK(BM_ComputeOutputToJson);

}  // namespace
}  // namespace salvus::hub

BENCHMARK_MAIN();
