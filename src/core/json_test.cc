#include "core/json.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "proto/salvus.pb.h"

namespace salvus::core {
namespace {

namespace pbu = google::protobuf::util;

std::string Library(const proto::Message& m) {
  std::string s;
  EXPECT_TRUE(pbu::MessageToJsonString(m, &s).ok());
  return s;
}

// Ours reads back as the same message, with the library's parser.
void ExpectRoundTrip(const proto::Message& m) {
  const std::string json = ProtoJson(m);
  proto::Message back;
  ASSERT_TRUE(pbu::JsonStringToMessage(json, &back).ok()) << json;
  EXPECT_TRUE(pbu::MessageDifferencer::Equals(m, back)) << json << "\n" << back.DebugString();
}

TEST(ProtoJson, SameTextAsTheLibraryForCommonMessages) {
  proto::Message out;
  out.set_id(18446744073709551615ull);
  out.mutable_output()->set_session("s1");
  out.mutable_output()->set_stream(proto::Output::STDERR);
  out.mutable_output()->set_text("4\n");
  EXPECT_EQ(ProtoJson(out), Library(out));

  proto::Message done;
  done.set_id(7);
  done.mutable_done()->set_session("s1");  // status OK: left out, as by the library
  EXPECT_EQ(ProtoJson(done), Library(done));
  done.mutable_done()->set_status(proto::Done::DIED);
  EXPECT_EQ(ProtoJson(done), Library(done));

  proto::Message start;
  start.set_id(1);
  start.mutable_start_session();  // an empty message that is set: {}
  EXPECT_EQ(ProtoJson(start), Library(start));
  EXPECT_EQ(ProtoJson(start), R"({"id":"1","startSession":{}})");

  proto::Message started;
  started.mutable_session_started()->set_session("abc");
  auto* l = started.mutable_session_started()->mutable_limits();
  l->set_walltime_s(3600);
  l->set_cputime_s(0.25);
  l->set_memory_mb(2048);
  EXPECT_EQ(ProtoJson(started), Library(started));

  proto::Message c;
  c.mutable_completions()->add_matches("factor");
  c.mutable_completions()->add_matches("factorial");
  EXPECT_EQ(ProtoJson(c), Library(c));
}

TEST(ProtoJson, EscapesWhatJsonNeedsAndReadsBack) {
  proto::Message m;
  m.set_id(3);
  m.mutable_output()->set_text(std::string("quote \" backslash \\ tab \t nul ") + '\0' +
                               " bell \x07 del \x7f é 数学 😀 line\u2028sep\u2029end\r\n");
  ExpectRoundTrip(m);
  const std::string json = ProtoJson(m);
  EXPECT_NE(json.find("\\u0000"), std::string::npos);
  EXPECT_NE(json.find("\\u2028"), std::string::npos);
  EXPECT_NE(json.find("数学"), std::string::npos) << "other characters stay as they are";
}

TEST(ProtoJson, BytesAreBase64AndDoublesShortest) {
  for (std::string data :
       std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    proto::Message m;
    m.mutable_blob()->set_sha1("x");
    m.mutable_blob()->set_data(data);
    EXPECT_EQ(ProtoJson(m), Library(m)) << data.size();
    ExpectRoundTrip(m);
  }
  proto::Message m;
  m.mutable_session_started()->mutable_limits()->set_idle_s(0.1);
  EXPECT_EQ(ProtoJson(m), Library(m));
  m.mutable_session_started()->mutable_limits()->set_idle_s(1e300);
  ExpectRoundTrip(m);
  m.mutable_session_started()->mutable_limits()->set_idle_s(
      std::numeric_limits<double>::infinity());
  EXPECT_EQ(ProtoJson(m), Library(m));
}

TEST(ProtoJson, EveryMessageTypeOfTheProtocolReadsBack) {
  // One message per oneof member, each with every field it has set.
  const auto* d = proto::Message::descriptor();
  const auto* oneof = d->FindOneofByName("body");
  ASSERT_NE(oneof, nullptr);
  for (int i = 0; i < oneof->field_count(); ++i) {
    proto::Message m;
    m.set_id(i + 1);
    auto* body = m.GetReflection()->MutableMessage(&m, oneof->field(i));
    const auto* bd = body->GetDescriptor();
    const auto* r = body->GetReflection();
    for (int j = 0; j < bd->field_count(); ++j) {
      const auto* f = bd->field(j);
      using FD = google::protobuf::FieldDescriptor;
      if (f->is_repeated()) {
        if (f->cpp_type() == FD::CPPTYPE_STRING) r->AddString(body, f, "x\"y");
        continue;
      }
      switch (f->cpp_type()) {
        case FD::CPPTYPE_STRING:
          r->SetString(body, f, "v\n" + f->name());
          break;
        case FD::CPPTYPE_UINT64:
          r->SetUInt64(body, f, 1ull << 60);
          break;
        case FD::CPPTYPE_INT64:
          r->SetInt64(body, f, -(1ll << 60));
          break;
        case FD::CPPTYPE_UINT32:
          r->SetUInt32(body, f, 4000000000u);
          break;
        case FD::CPPTYPE_INT32:
          r->SetInt32(body, f, -5);
          break;
        case FD::CPPTYPE_DOUBLE:
          r->SetDouble(body, f, 2.5);
          break;
        case FD::CPPTYPE_FLOAT:
          r->SetFloat(body, f, 0.5f);
          break;
        case FD::CPPTYPE_BOOL:
          r->SetBool(body, f, true);
          break;
        case FD::CPPTYPE_ENUM:
          r->SetEnumValue(body, f,
                          f->enum_type()->value(f->enum_type()->value_count() - 1)->number());
          break;
        case FD::CPPTYPE_MESSAGE:
          r->MutableMessage(body, f);
          break;
      }
    }
    ExpectRoundTrip(m);
  }
}

}  // namespace
}  // namespace salvus::core
