#include "core/json_read.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <limits>
#include <string>

#include "core/utf8.h"

namespace salvus::core {
namespace {

namespace pb = google::protobuf;
using FD = pb::FieldDescriptor;

constexpr int kMaxDepth = 16;

class Reader {
 public:
  explicit Reader(std::string_view s) : p_(s.data()), end_(s.data() + s.size()) {}

  bool Object(pb::Message* m, int depth) {
    if (depth > kMaxDepth || !Consume('{')) return false;
    if (Consume('}')) return true;
    const pb::Descriptor* d = m->GetDescriptor();
    const pb::Reflection* r = m->GetReflection();
    for (;;) {
      std::string key;
      if (!String(&key) || !Consume(':')) return false;
      const FD* f = Field(d, key);
      if (f == nullptr || f->is_repeated()) return false;
      // A key seen twice, or a second member of a oneof: the library's call.
      if (const pb::OneofDescriptor* o = f->containing_oneof()) {
        if (r->HasOneof(*m, o)) return false;
      } else if (std::find(seen_, seen_ + nseen_, f) != seen_ + nseen_) {
        return false;
      }
      if (nseen_ == kMaxFields) return false;
      seen_[nseen_++] = f;
      if (!Value(m, r, f, depth)) return false;
      if (Consume(',')) continue;
      return Consume('}');
    }
  }

  // The field named `key` in JSON (lowerCamelCase) or in the .proto.
  static const FD* Field(const pb::Descriptor* d, std::string_view key) {
    for (int i = 0; i < d->field_count(); ++i) {
      const FD* f = d->field(i);
      if (f->json_name() == key || f->name() == key) return f;
    }
    return nullptr;
  }

  bool AtEnd() {
    Ws();
    return p_ == end_;
  }

 private:
  bool Value(pb::Message* m, const pb::Reflection* r, const FD* f, int depth) {
    switch (f->cpp_type()) {
      case FD::CPPTYPE_MESSAGE: {
        if (f->message_type()->file()->name().starts_with("google/protobuf/")) return false;
        return Object(r->MutableMessage(m, f), depth + 1);
      }
      case FD::CPPTYPE_STRING: {
        if (f->type() == FD::TYPE_BYTES) return false;
        std::string s;
        if (!String(&s)) return false;
        r->SetString(m, f, std::move(s));
        return true;
      }
      case FD::CPPTYPE_BOOL: {
        Ws();
        if (Literal("true")) {
          r->SetBool(m, f, true);
        } else if (Literal("false")) {
          r->SetBool(m, f, false);
        } else {
          return false;
        }
        return true;
      }
      case FD::CPPTYPE_ENUM: {
        std::string name;
        if (!String(&name)) return false;
        const pb::EnumValueDescriptor* v = f->enum_type()->FindValueByName(name);
        if (v == nullptr) return false;
        r->SetEnumValue(m, f, v->number());
        return true;
      }
      case FD::CPPTYPE_INT32: {
        int64_t v;
        if (!Number(&v, false) || v < std::numeric_limits<int32_t>::min() ||
            v > std::numeric_limits<int32_t>::max()) {
          return false;
        }
        r->SetInt32(m, f, static_cast<int32_t>(v));
        return true;
      }
      case FD::CPPTYPE_UINT32: {
        int64_t v;
        if (!Number(&v, false) || negative_ || v > std::numeric_limits<uint32_t>::max()) {
          return false;
        }
        r->SetUInt32(m, f, static_cast<uint32_t>(v));
        return true;
      }
      case FD::CPPTYPE_INT64: {
        int64_t v;
        if (!Number(&v, true)) return false;
        r->SetInt64(m, f, v);
        return true;
      }
      case FD::CPPTYPE_UINT64: {
        int64_t v;
        if (!Number(&v, true) || negative_) return false;
        r->SetUInt64(m, f, static_cast<uint64_t>(v));
        return true;
      }
      default:  // float, double
        return false;
    }
  }

  // A whole number, plain: -?(0|[1-9][0-9]*), at most 15 digits (exact as a
  // double, whichever way the library reads it). 64-bit fields may have it
  // quoted, as the mapping writes them.
  bool Number(int64_t* v, bool quoted_ok) {
    Ws();
    const bool quoted = quoted_ok && p_ < end_ && *p_ == '"';
    if (quoted) ++p_;
    const char* b = p_;
    negative_ = p_ < end_ && *p_ == '-';
    if (negative_) ++p_;
    const char* digits = p_;
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    const size_t n = static_cast<size_t>(p_ - digits);
    if (n == 0 || n > 15 || (n > 1 && *digits == '0')) return false;
    if (quoted) {
      if (p_ == end_ || *p_ != '"') return false;
      ++p_;
    }
    if (!quoted && p_ < end_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E')) return false;
    const auto [ptr, ec] = std::from_chars(b, digits + n, *v);
    return ec == std::errc() && ptr == digits + n && !(negative_ && *v == 0);  // not -0
  }

  bool Literal(std::string_view word) {
    if (static_cast<size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word) {
      return false;
    }
    p_ += word.size();
    return true;
  }

  // A string whose escapes are \" \\ \/ \b \f \n \r \t; its bytes valid
  // UTF-8 without control characters.
  bool String(std::string* out) {
    Ws();
    if (p_ == end_ || *p_ != '"') return false;
    ++p_;
    const char* run = p_;
    for (;;) {
      if (p_ == end_) return false;
      const unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') break;
      if (c < 0x20) return false;
      if (c != '\\') {
        ++p_;
        continue;
      }
      out->append(run, p_);
      if (end_ - p_ < 2) return false;
      switch (p_[1]) {
        case '"':
          out->push_back('"');
          break;
        case '\\':
          out->push_back('\\');
          break;
        case '/':
          out->push_back('/');
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        default:
          return false;  // \u and the invalid ones
      }
      p_ += 2;
      run = p_;
    }
    out->append(run, p_);
    ++p_;
    return IsValidUtf8(*out);
  }

  bool Consume(char c) {
    Ws();
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }

  void Ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }

  const char* p_;
  const char* end_;
  bool negative_ = false;  // the last number had a minus sign
  // Fields read so far, in any of the objects (a message nested in one of
  // its own type reuses fields: declined, the library reads it).
  static constexpr int kMaxFields = 32;
  const FD* seen_[kMaxFields];
  int nseen_ = 0;
};

}  // namespace

bool ReadProtoJsonFast(std::string_view json, google::protobuf::Message* m) {
  m->Clear();
  Reader r(json);
  return r.Object(m, 0) && r.AtEnd();
}

}  // namespace salvus::core
