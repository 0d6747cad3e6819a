// Reading the proto3 JSON mapping of a message, fast, for the common case:
// what browsers send the hub (objects of known fields, strings, whole
// numbers, enums by name, true/false) is read straight into the message by
// reflection, where google::protobuf::util::JsonStringToMessage goes through
// a type resolver and a stream of converters, allocating all the way.
//
// Anything else — unknown or repeated keys, arrays, null, fractions, very
// large numbers, bytes, well-known types, escapes other than the simple
// ones, invalid UTF-8, a second member of a oneof — is declined, and the
// caller parses with the library, which then accepts or names the error.
// What this reader accepts, it reads exactly as the library does
// (json_read_test checks that on generated and mutated messages).
// Thread-safe.
#pragma once

#include <google/protobuf/message.h>

#include <string_view>

namespace salvus::core {

// True: `m` (cleared first) holds the message `json` encodes. False: not
// read here; `m` is in an unspecified state and the library must parse it.
bool ReadProtoJsonFast(std::string_view json, google::protobuf::Message* m);

}  // namespace salvus::core
