// Encodings of the MVCC tables' keys and values; see codec.h for the layout.
#include "mvcc/codec.h"

#include <cstdint>

#include "storage/encoding.h"

namespace cairn::mvcc {

using storage::AppendBigEndian64;
using storage::ReadBigEndian64;

std::string RevisionKey(Revision rev, bool tombstone) {
  std::string out;
  out.reserve(kRevisionKeySize + 1);
  AppendBigEndian64(&out, static_cast<uint64_t>(rev.main));
  out.push_back('_');
  AppendBigEndian64(&out, static_cast<uint64_t>(rev.sub));
  if (tombstone) out.push_back('t');
  return out;
}

bool ParseRevisionKey(std::string_view bytes, Revision* rev, bool* tombstone) {
  if (bytes.size() != kRevisionKeySize && bytes.size() != kRevisionKeySize + 1) return false;
  rev->main = static_cast<int64_t>(ReadBigEndian64(bytes));
  rev->sub = static_cast<int64_t>(ReadBigEndian64(bytes.substr(9)));
  *tombstone = bytes.size() == kRevisionKeySize + 1;
  return true;
}

std::string IndexKeyPrefix(std::string_view key) {
  std::string out;
  out.reserve(key.size() + 2 + 16);
  storage::AppendEscaped(&out, key);
  return out;
}

std::string IndexKey(std::string_view key, Revision rev) {
  std::string out = IndexKeyPrefix(key);
  AppendBigEndian64(&out, static_cast<uint64_t>(rev.main));
  AppendBigEndian64(&out, static_cast<uint64_t>(rev.sub));
  return out;
}

bool SplitIndexKey(std::string_view bytes, std::string_view* prefix, Revision* rev) {
  if (bytes.size() < 18) return false;
  *prefix = bytes.substr(0, bytes.size() - 16);
  rev->main = static_cast<int64_t>(ReadBigEndian64(bytes.substr(bytes.size() - 16)));
  rev->sub = static_cast<int64_t>(ReadBigEndian64(bytes.substr(bytes.size() - 8)));
  return true;
}

namespace {

void AppendVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void AppendIntField(std::string* out, int field, int64_t v) {
  if (v == 0) return;
  out->push_back(static_cast<char>(field << 3));
  AppendVarint(out, static_cast<uint64_t>(v));  // negative int64: ten bytes, as protobuf
}

void AppendBytesField(std::string* out, int field, std::string_view v) {
  if (v.empty()) return;
  out->push_back(static_cast<char>((field << 3) | 2));
  AppendVarint(out, v.size());
  out->append(v);
}

bool ReadVarint(std::string_view* in, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in->empty()) return false;
    uint8_t b = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    *v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

}  // namespace

std::string EncodeKeyValue(const KeyValue& kv, bool with_key) {
  std::string out;
  out.reserve(kv.key.size() + kv.value.size() + 40);
  if (with_key) AppendBytesField(&out, 1, kv.key);
  AppendIntField(&out, 2, kv.create_revision);
  AppendIntField(&out, 3, kv.mod_revision);
  AppendIntField(&out, 4, kv.version);
  AppendBytesField(&out, 5, kv.value);
  AppendIntField(&out, 6, kv.lease);
  return out;
}

Status DecodeKeyValue(std::string_view bytes, KeyValue* kv) {
  while (!bytes.empty()) {
    uint64_t tag = 0;
    if (!ReadVarint(&bytes, &tag)) return DataLoss("mvcc: malformed KeyValue");
    uint64_t field = tag >> 3;
    uint64_t wire = tag & 7;
    if (wire == 0) {
      uint64_t v = 0;
      if (!ReadVarint(&bytes, &v)) return DataLoss("mvcc: malformed KeyValue");
      int64_t i = static_cast<int64_t>(v);
      switch (field) {
        case 2: kv->create_revision = i; break;
        case 3: kv->mod_revision = i; break;
        case 4: kv->version = i; break;
        case 6: kv->lease = i; break;
        default: break;
      }
    } else if (wire == 2) {
      uint64_t n = 0;
      if (!ReadVarint(&bytes, &n) || n > bytes.size()) {
        return DataLoss("mvcc: malformed KeyValue");
      }
      if (field == 1) kv->key.assign(bytes.substr(0, n));
      if (field == 5) kv->value.assign(bytes.substr(0, n));
      bytes.remove_prefix(n);
    } else {
      return DataLoss("mvcc: malformed KeyValue");
    }
  }
  return Status::Ok();
}

}  // namespace cairn::mvcc
