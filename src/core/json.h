// The proto3 JSON mapping of a message, written directly from its fields by
// reflection: the same JSON as google::protobuf::util::MessageToJsonString
// with default options (lowerCamelCase names, fields at their default left
// out, 64-bit integers as strings, enums by name, bytes in base64), up to
// insignificant escaping choices, at a fraction of the cost (the library
// goes through the binary encoding and a type resolver, allocating all the
// way). The hub writes every message to browsers with it.
//
// Messages from google/protobuf/*.proto (Any, Timestamp, ...) are written
// by the library. Thread-safe.
#pragma once

#include <google/protobuf/message.h>

#include <string>

namespace salvus::core {

// Appends the JSON of `m` to `out`.
void AppendProtoJson(const google::protobuf::Message& m, std::string* out);

inline std::string ProtoJson(const google::protobuf::Message& m) {
  std::string s;
  AppendProtoJson(m, &s);
  return s;
}

// Appends `s` as a JSON string literal (quotes included). `s` is UTF-8.
void AppendJsonString(std::string_view s, std::string* out);

}  // namespace salvus::core
