// The MVCC engine's requests, responses and events: plain structs mirroring etcd's
// etcdserverpb/mvccpb messages, so the rpc layer translates field by field.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace cairn::mvcc {

// A store-wide revision: main counts write transactions, sub the writes inside one.
struct Revision {
  int64_t main = 0;
  int64_t sub = 0;
  friend auto operator<=>(const Revision&, const Revision&) = default;
};

// mvccpb.KeyValue.
struct KeyValue {
  std::string key;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  std::string value;
  int64_t lease = 0;
  friend bool operator==(const KeyValue&, const KeyValue&) = default;
};

// The numbers are etcd's enum values.
enum class SortOrder : int { kNone = 0, kAscend = 1, kDescend = 2 };
enum class SortTarget : int { kKey = 0, kVersion = 1, kCreate = 2, kMod = 3, kValue = 4 };

// Key ranges, as etcd: range_end empty = the one key; "\0" = every key >= key;
// otherwise [key, range_end).
struct RangeRequest {
  std::string key;
  std::string range_end;
  int64_t limit = 0;     // <= 0: no limit
  int64_t revision = 0;  // <= 0: the current revision
  SortOrder sort_order = SortOrder::kNone;
  SortTarget sort_target = SortTarget::kKey;
  bool keys_only = false;
  bool count_only = false;
  int64_t min_mod_revision = 0;  // 0: no bound (the same for the three others)
  int64_t max_mod_revision = 0;
  int64_t min_create_revision = 0;
  int64_t max_create_revision = 0;
};

struct RangeResponse {
  int64_t revision = 0;  // header.revision: the store's current revision
  std::vector<KeyValue> kvs;
  bool more = false;
  int64_t count = 0;  // keys in range at the revision, ignoring limit and the filters
  friend bool operator==(const RangeResponse&, const RangeResponse&) = default;
};

struct PutRequest {
  std::string key;
  std::string value;
  int64_t lease = 0;
  bool prev_kv = false;
  bool ignore_value = false;
  bool ignore_lease = false;
};

struct PutResponse {
  int64_t revision = 0;
  std::optional<KeyValue> prev_kv;
  friend bool operator==(const PutResponse&, const PutResponse&) = default;
};

struct DeleteRangeRequest {
  std::string key;
  std::string range_end;
  bool prev_kv = false;
};

struct DeleteRangeResponse {
  int64_t revision = 0;
  int64_t deleted = 0;
  std::vector<KeyValue> prev_kvs;
  friend bool operator==(const DeleteRangeResponse&, const DeleteRangeResponse&) = default;
};

// The numbers are etcd's enum values.
enum class CompareResult : int { kEqual = 0, kGreater = 1, kLess = 2, kNotEqual = 3 };
enum class CompareTarget : int { kVersion = 0, kCreate = 1, kMod = 2, kValue = 3, kLease = 4 };

struct Compare {
  CompareResult result = CompareResult::kEqual;
  CompareTarget target = CompareTarget::kVersion;
  std::string key;
  std::string range_end;
  int64_t number = 0;  // version, create_revision, mod_revision or lease, by target
  std::string value;   // for kValue
};

struct RequestOp;
struct TxnRequest {
  std::vector<Compare> compare;
  std::vector<RequestOp> success;
  std::vector<RequestOp> failure;
};
struct RequestOp {
  std::variant<RangeRequest, PutRequest, DeleteRangeRequest, TxnRequest> op;
};

struct ResponseOp;
struct TxnResponse {
  int64_t revision = 0;  // the store's revision after the txn; 0 in nested txns, as etcd
  bool succeeded = false;
  std::vector<ResponseOp> responses;
  friend bool operator==(const TxnResponse&, const TxnResponse&) = default;
};
struct ResponseOp {
  std::variant<RangeResponse, PutResponse, DeleteRangeResponse, TxnResponse> response;
  friend bool operator==(const ResponseOp&, const ResponseOp&) = default;
};

struct CompactResponse {
  int64_t revision = 0;
};

// What a write did, for watchers: a put with the new kv, or a delete whose kv holds the
// key and the deleting revision; prev_kv is the kv it replaced, if any.
struct Event {
  enum class Type { kPut = 0, kDelete = 1 };
  Type type = Type::kPut;
  KeyValue kv;
  std::optional<KeyValue> prev_kv;
  friend bool operator==(const Event&, const Event&) = default;
};

struct HashResult {
  uint32_t hash = 0;
  int64_t revision = 0;  // the store's current revision (header)
  int64_t compact_revision = 0;
  int64_t hash_revision = 0;  // the revision the hash covers
};

}  // namespace cairn::mvcc
