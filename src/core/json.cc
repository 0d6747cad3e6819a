#include "core/json.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>

#include <charconv>
#include <cmath>

namespace salvus::core {

namespace pb = google::protobuf;
using FD = pb::FieldDescriptor;

namespace {

void AppendBase64(const std::string& data, std::string* out) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  out->push_back('"');
  size_t i = 0;
  const auto* d = reinterpret_cast<const unsigned char*>(data.data());
  for (; i + 3 <= data.size(); i += 3) {
    const uint32_t v = d[i] << 16 | d[i + 1] << 8 | d[i + 2];
    out->push_back(kAlphabet[v >> 18]);
    out->push_back(kAlphabet[(v >> 12) & 63]);
    out->push_back(kAlphabet[(v >> 6) & 63]);
    out->push_back(kAlphabet[v & 63]);
  }
  if (const size_t rest = data.size() - i; rest > 0) {
    const uint32_t v = d[i] << 16 | (rest == 2 ? d[i + 1] << 8 : 0);
    out->push_back(kAlphabet[v >> 18]);
    out->push_back(kAlphabet[(v >> 12) & 63]);
    out->push_back(rest == 2 ? kAlphabet[(v >> 6) & 63] : '=');
    out->push_back('=');
  }
  out->push_back('"');
}

template <class T>
void AppendNumber(T v, std::string* out) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

template <class T>
void AppendFloating(T v, std::string* out) {
  if (std::isnan(v)) {
    out->append("\"NaN\"");
  } else if (std::isinf(v)) {
    out->append(v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
  } else {
    AppendNumber(v, out);  // shortest text that reads back as v
  }
}

void AppendMessage(const pb::Message& m, std::string* out);

// One value of `f` (element `index` if repeated, else the field itself).
void AppendValue(const pb::Message& m, const FD* f, int index, std::string* out) {
  const pb::Reflection* r = m.GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FD::CPPTYPE_INT32:
      AppendNumber(rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f), out);
      break;
    case FD::CPPTYPE_UINT32:
      AppendNumber(rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f), out);
      break;
    case FD::CPPTYPE_INT64:
      out->push_back('"');
      AppendNumber(rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f), out);
      out->push_back('"');
      break;
    case FD::CPPTYPE_UINT64:
      out->push_back('"');
      AppendNumber(rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f), out);
      out->push_back('"');
      break;
    case FD::CPPTYPE_FLOAT:
      AppendFloating(rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f), out);
      break;
    case FD::CPPTYPE_DOUBLE:
      AppendFloating(rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f), out);
      break;
    case FD::CPPTYPE_BOOL:
      out->append((rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "true" : "false");
      break;
    case FD::CPPTYPE_ENUM: {
      const int v = rep ? r->GetRepeatedEnumValue(m, f, index) : r->GetEnumValue(m, f);
      if (const pb::EnumValueDescriptor* e = f->enum_type()->FindValueByNumber(v)) {
        AppendJsonString(e->name(), out);
      } else {
        AppendNumber(v, out);
      }
      break;
    }
    case FD::CPPTYPE_STRING: {
      std::string scratch;
      const std::string& s = rep ? r->GetRepeatedStringReference(m, f, index, &scratch)
                                 : r->GetStringReference(m, f, &scratch);
      if (f->type() == FD::TYPE_BYTES) {
        AppendBase64(s, out);
      } else {
        AppendJsonString(s, out);
      }
      break;
    }
    case FD::CPPTYPE_MESSAGE:
      AppendMessage(rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f), out);
      break;
  }
}

// A map entry's key as a JSON object key (always a string).
void AppendMapKey(const pb::Message& entry, const FD* key, std::string* out) {
  if (key->cpp_type() == FD::CPPTYPE_STRING) {
    AppendValue(entry, key, -1, out);
    return;
  }
  std::string text;
  AppendValue(entry, key, -1, &text);
  if (text.front() != '"') text = '"' + text + '"';
  out->append(text);
}

void AppendMessage(const pb::Message& m, std::string* out) {
  const pb::Descriptor* d = m.GetDescriptor();
  if (d->file()->name().starts_with("google/protobuf/")) {
    std::string s;
    (void)pb::util::MessageToJsonString(m, &s);
    out->append(s);
    return;
  }
  const pb::Reflection* r = m.GetReflection();
  std::vector<const FD*> fields;
  r->ListFields(m, &fields);  // set ones only, in field-number order
  out->push_back('{');
  bool first = true;
  for (const FD* f : fields) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(f->json_name(), out);
    out->push_back(':');
    if (f->is_map()) {
      const FD* key = f->message_type()->map_key();
      const FD* value = f->message_type()->map_value();
      out->push_back('{');
      for (int i = 0, n = r->FieldSize(m, f); i < n; ++i) {
        if (i) out->push_back(',');
        const pb::Message& entry = r->GetRepeatedMessage(m, f, i);
        AppendMapKey(entry, key, out);
        out->push_back(':');
        AppendValue(entry, value, -1, out);
      }
      out->push_back('}');
    } else if (f->is_repeated()) {
      out->push_back('[');
      for (int i = 0, n = r->FieldSize(m, f); i < n; ++i) {
        if (i) out->push_back(',');
        AppendValue(m, f, i, out);
      }
      out->push_back(']');
    } else {
      AppendValue(m, f, -1, out);
    }
  }
  out->push_back('}');
}

}  // namespace

void AppendJsonString(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->reserve(out->size() + s.size() + 2);
  out->push_back('"');
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 15]);
        } else if (c == 0xe2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
                   (static_cast<unsigned char>(s[i + 2]) & 0xfe) == 0xa8) {
          // U+2028, U+2029: valid in JSON, line breaks in older JavaScript.
          out->append(static_cast<unsigned char>(s[i + 2]) == 0xa8 ? "\\u2028" : "\\u2029");
          i += 2;
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

void AppendProtoJson(const pb::Message& m, std::string* out) { AppendMessage(m, out); }

}  // namespace salvus::core
