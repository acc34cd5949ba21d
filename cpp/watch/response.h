// What a watch stream is asked and answers: plain structs mirroring etcd's
// WatchCreateRequest and WatchResponse, which the rpc layer translates field by field.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mvcc/types.h"

namespace cairn::watch {

// watch_id 0 in a create request: the stream picks the next free id (etcd's AutoWatchID).
inline constexpr int64_t kAutoWatchId = 0;
// The id of a refused create, and of an answer to a progress request (clientv3's
// InvalidWatchID).
inline constexpr int64_t kInvalidWatchId = -1;

// etcd's mvcc watch errors, which reach clients as cancel_reason text. base/etcd_errors.h
// does not carry them (they are not gRPC statuses), so they live here, copied letter for
// letter from etcd's server/storage/mvcc/watcher.go.
inline constexpr std::string_view kErrWatcherNotExist = "mvcc: watcher does not exist";
inline constexpr std::string_view kErrEmptyWatcherRange = "mvcc: watcher range is empty";
inline constexpr std::string_view kErrWatcherDuplicateId =
    "mvcc: duplicate watch ID provided on the WatchStream";

// A key range as etcd's requests give one: range_end empty = the one key; "\0" = every key
// >= key; otherwise [key, range_end). Thread safety: a value; const methods from any
// thread.
class KeyRange {
 public:
  KeyRange() = default;
  KeyRange(std::string key, std::string range_end);

  bool Contains(std::string_view k) const;
  bool single() const { return kind_ == Kind::kOne; }
  // [key, range_end) with key >= range_end: etcd refuses to watch it.
  bool empty() const { return kind_ == Kind::kBounded && key_ >= end_; }
  const std::string& key() const { return key_; }
  const std::string& range_end() const { return end_; }
  // Every key.
  static KeyRange All() { return KeyRange(std::string(1, '\0'), std::string(1, '\0')); }

 private:
  enum class Kind { kOne, kToEnd, kBounded };
  std::string key_;
  std::string end_;
  Kind kind_ = Kind::kOne;
};

// etcdserverpb.WatchCreateRequest.
struct CreateRequest {
  std::string key;             // empty: "\0", the smallest key, as etcd
  std::string range_end;       // as KeyRange
  int64_t start_revision = 0;  // 0: from the next revision; <= current: history first
  bool progress_notify = false;
  bool no_put = false;     // filter NOPUT
  bool no_delete = false;  // filter NODELETE
  bool prev_kv = false;
  bool fragment = false;
  int64_t watch_id = kAutoWatchId;
};

// etcdserverpb.WatchResponse without the header's ids and term, which the rpc layer adds.
struct Response {
  int64_t watch_id = 0;
  int64_t revision = 0;  // header.revision
  bool created = false;
  bool canceled = false;
  std::string cancel_reason;
  int64_t compact_revision = 0;
  bool fragment = false;
  std::vector<mvcc::Event> events;  // prev_kv set only for watchers that asked for it

  // etcd's IsProgressNotify: nothing but a revision.
  bool IsProgressNotify() const {
    return events.empty() && !created && !canceled && compact_revision == 0 && !fragment;
  }
  friend bool operator==(const Response&, const Response&) = default;
};

// About the protobuf size of a response; what fragmenting compares with max_request_bytes.
// An estimate (field tags and varints are counted generously), not the exact encoding.
size_t EstimateSize(const Response& r);

// etcd's sendFragments: a response of two or more events whose size reaches
// `max_request_bytes` becomes several, each as large as fits (at least one event), all but
// the last with fragment = true. Otherwise the response is returned as is.
std::vector<Response> Fragment(Response r, size_t max_request_bytes);

}  // namespace cairn::watch
