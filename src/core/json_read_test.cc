#include "core/json_read.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "core/json.h"
#include "proto/salvus.pb.h"

namespace salvus::core {
namespace {

namespace pbu = google::protobuf::util;

// What browsers send (docs/protocol.md), written as people write JSON.
const std::vector<std::string> kBrowserMessages = {
    R"({"id": 1, "startSession": {}})",
    R"({ "startSession" : { "kernel" : "python" } , "id" : 2 })",
    R"({"id": 3, "execute": {"session": "abc", "code": "factor(2^64+1)\nprint(\"x\\y\")\t/ \/"}})",
    R"({"id":"4","interrupt":{"session":"abc"}})",
    R"({"id": 5, "interactUpdate": {"session": "s", "interact": "i1", "values": "{\"n\": 3}"}})",
    R"({"id": 6, "complete": {"session": "s", "code": "fac", "cursor": 3}})",
    R"({"id": 7, "terminate": {"session": "s"}})",
    R"({"id": 8, "resume": {"session": "s"}})",
    R"({"id": 9, "share": {"code": "2+2", "language": "sage", "interactState": "{}"}})",
    R"({"id": 10, "get_shared": {"id": "k3j4"}})",
    R"j({"id": 11, "execute": {"session": "s", "code": "print('π ≈ 3.14159, ∑ 😀')"}})j",
    R"({"id": 0, "execute": {"session": "", "code": ""}})",
    R"({"id": 999999999999999, "startSession": {"limits": {"memoryMb": "512", "processes": 4}}})",
    "\r\n\t{\"id\":12,\"execute\":{\"session\":\"s\",\"code\":\"1\"}}\n",
};

void ExpectSameAsLibrary(const std::string& json) {
  proto::Message ours, theirs;
  const bool fast = ReadProtoJsonFast(json, &ours);
  pbu::JsonParseOptions opts;
  opts.ignore_unknown_fields = false;
  const bool lib = pbu::JsonStringToMessage(json, &theirs, opts).ok();
  if (!fast) return;  // declined: the library decides, whatever it decides
  ASSERT_TRUE(lib) << "read here but refused by the library: " << json;
  ASSERT_TRUE(pbu::MessageDifferencer::Equals(ours, theirs)) << json << "\nours:\n"
                                                             << ours.DebugString() << "library:\n"
                                                             << theirs.DebugString();
}

TEST(ReadProtoJsonFast, ReadsWhatBrowsersSendAsTheLibraryDoes) {
  for (const auto& json : kBrowserMessages) {
    proto::Message m;
    EXPECT_TRUE(ReadProtoJsonFast(json, &m)) << json;
    ExpectSameAsLibrary(json);
  }
}

TEST(ReadProtoJsonFast, ReadsTheMappingsOwnTextBack) {
  proto::Message m;
  m.set_id(18446744073709551ull);  // 17 digits, quoted by the writer
  m.mutable_start_session()->mutable_limits()->set_output_bytes(1 << 20);
  proto::Message back;
  EXPECT_FALSE(ReadProtoJsonFast(ProtoJson(m), &back));  // over 15 digits: the library's
  m.set_id(123456789012345ull);
  ASSERT_TRUE(ReadProtoJsonFast(ProtoJson(m), &back)) << ProtoJson(m);
  EXPECT_TRUE(pbu::MessageDifferencer::Equals(m, back));
}

TEST(ReadProtoJsonFast, LeavesTheRestToTheLibrary) {
  for (const char* json : {
           R"({"id": 1, "startSession": {}, "extra": 1})",       // unknown key
           R"({"id": 1, "id": 2})",                              // a key twice
           R"({"id": 1, "startSession": {}, "interrupt": {}})",  // two members of a oneof
           R"({"id": null})",
           R"({"id": 1.0})",
           R"({"id": 1e3})",
           R"({"id": -1})",
           R"({"id": "-0"})",
           R"({"id": 01})",
           R"({"id": true})",
           R"({"id": 1234567890123456})",
           R"({"complete": {"cursor": "3"}})",    // quoted 32-bit
           R"({"execute": {"code": "\u00e9"}})",  // \u escape
           R"({"execute": {"code": "a\x"}})",
           R"({"execute": {"code": "tab	in"}})",
           R"({"execute": {"code": ["a"]}})",
           R"({"startSession": {"limits": {"walltimeS": 1}}})",
           R"({"id": 1} x)",
           R"({"id": 1)",
           R"()",
           R"([])",
           R"({"id": 1,})",
       }) {
    proto::Message m;
    EXPECT_FALSE(ReadProtoJsonFast(json, &m)) << json;
  }
  proto::Message m;
  EXPECT_FALSE(ReadProtoJsonFast("{\"execute\": {\"code\": \"\xff\"}}", &m));  // not UTF-8
  EXPECT_FALSE(ReadProtoJsonFast("{\"execute\": {\"code\": \"\xed\xa0\x80\"}}", &m));
}

TEST(ReadProtoJsonFast, WhatItReadsOfMutatedMessagesTheLibraryReadsTheSame) {
  // Every message above, damaged at random: whatever is still read here must
  // be read the same by the library.
  std::mt19937 rng(3);
  const std::string alphabet = "{}[]\":,0123456789-.eE\\ntu abcdIS_\x01\xc3\xa9";
  int read = 0;
  for (int i = 0; i < 100000; ++i) {
    std::string json = kBrowserMessages[rng() % kBrowserMessages.size()];
    for (int k = 1 + rng() % 3; k > 0 && !json.empty(); --k) {
      const size_t at = rng() % json.size();
      switch (rng() % 4) {
        case 0:
          json.erase(at, 1 + rng() % 3);
          break;
        case 1:
          json.insert(at, 1, alphabet[rng() % alphabet.size()]);
          break;
        case 2:
          json[at] = alphabet[rng() % alphabet.size()];
          break;
        default:
          json.insert(at, json.substr(rng() % json.size(), 1 + rng() % 12));
          break;
      }
    }
    ExpectSameAsLibrary(json);
    if (HasFatalFailure()) return;
    proto::Message m;
    read += ReadProtoJsonFast(json, &m);
  }
  EXPECT_GT(read, 3000);  // the comparison is not vacuous
}

}  // namespace
}  // namespace salvus::core
