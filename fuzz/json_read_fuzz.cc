// Fuzz target: core/json_read (the hub's fast reader of what browsers send).
// Whatever ReadProtoJsonFast accepts, the protobuf library must accept too
// and read into the same message (json_read.h promises exactly that); what
// it declines, the library parses without crashing.
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/json_read.h"
#include "fuzz_check.h"
#include "proto/salvus.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace pbu = google::protobuf::util;
  const std::string text(reinterpret_cast<const char*>(data), size);
  salvus::proto::Message fast;
  const bool read = salvus::core::ReadProtoJsonFast(text, &fast);
  salvus::proto::Message lib;
  pbu::JsonParseOptions opts;
  opts.ignore_unknown_fields = false;
  const auto st = pbu::JsonStringToMessage(text, &lib, opts);
  if (read) {
    FUZZ_CHECK(st.ok());
    FUZZ_CHECK(pbu::MessageDifferencer::Equals(fast, lib));
  }
  return 0;
}
