// How the MVCC tables encode their keys and values.
//
//   mvcc_rev:     etcd's revision bytes: [main: 8 BE]['_'][sub: 8 BE], plus 't' for a
//                 tombstone  ->  mvccpb.KeyValue in protobuf wire format (as etcd's "key"
//                 bucket, so Hash/HashKV hash the same bytes etcd hashes).
//   mvcc_index:   escaped(key) [main: 8 BE][sub: 8 BE]  ->  "p" (put) or "t" (tombstone);
//                 a key's revisions are adjacent and ascending, for reads at old revisions.
//   mvcc_current: key  ->  mvccpb.KeyValue without its key field, for live keys only; a
//                 range at the current revision is one scan of it.
//   meta:         name  ->  8 bytes BE.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "mvcc/types.h"

namespace cairn::mvcc {

inline constexpr size_t kRevisionKeySize = 17;

std::string RevisionKey(Revision rev, bool tombstone);
// False when malformed.
bool ParseRevisionKey(std::string_view bytes, Revision* rev, bool* tombstone);

std::string IndexKeyPrefix(std::string_view key);  // escaped(key): all of key's entries
std::string IndexKey(std::string_view key, Revision rev);
// Splits an index key into its escaped-key prefix and revision; false when malformed.
bool SplitIndexKey(std::string_view bytes, std::string_view* prefix, Revision* rev);

// mvccpb.KeyValue in protobuf's wire format, fields in order, zero values omitted (as
// gogo/protobuf marshals it).
std::string EncodeKeyValue(const KeyValue& kv, bool with_key);
// Fills the fields present in `bytes`; the others keep their values.
Status DecodeKeyValue(std::string_view bytes, KeyValue* kv);

}  // namespace cairn::mvcc
