// Reading the MVCC history for watchers: the events of a key range between two revisions,
// from the revision table, in one WiredTiger snapshot.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "mvcc/store.h"
#include "mvcc/types.h"
#include "storage/db.h"
#include "watch/response.h"

namespace cairn::watch {

// Bounds on one read, so that catching up never holds a snapshot or memory for long. A read
// stops at the end of the revision at which either bound is reached: the events of one
// revision are never split.
struct HistoryLimits {
  size_t max_revisions = 1000;         // etcd's watchBatchMaxRevs
  size_t max_bytes = 4 * 1024 * 1024;  // keys and values read
};

struct HistoryBatch {
  // In revision order (and sub-revision order inside one). A delete's kv holds the key and
  // the deleting revision as mod_revision, as etcd's watch events do. No prev_kv.
  std::vector<mvcc::Event> events;
  // Every revision in [from, last_revision] was read: `to` unless a limit stopped the read.
  int64_t last_revision = 0;
};

// A consistent view of the history. Thread safety: one thread at a time (it holds a
// WiredTiger session); any number of snapshots may exist at once, alongside writes.
class HistorySnapshot {
 public:
  // Pins a snapshot on a session from `db`'s pool. `store` gives the compaction revision
  // when the snapshot's meta record does not. Both must outlive the snapshot.
  static Result<std::unique_ptr<HistorySnapshot>> Open(storage::Db* db, const mvcc::Store& store);
  ~HistorySnapshot();
  HistorySnapshot(const HistorySnapshot&) = delete;
  HistorySnapshot& operator=(const HistorySnapshot&) = delete;

  // Revisions below this may be gone (etcd's compactMainRev; -1 when nothing is compacted).
  int64_t compact_revision() const { return compact_revision_; }

  // The events of keys in `range` with revision in [from, to], within `limits`. Does not
  // check compaction: the caller compares `from` with compact_revision().
  Result<HistoryBatch> Read(const KeyRange& range, int64_t from, int64_t to,
                            const HistoryLimits& limits);

  // `key` as it was at revision `rev` (its latest put at or below rev); nothing when it did
  // not exist then, or when compaction removed that revision.
  Result<std::optional<mvcc::KeyValue>> ValueAt(std::string_view key, int64_t rev);

  // Sets each event's prev_kv the way etcd's watch server does: the key at mod_revision - 1,
  // except for a put that created the key.
  Status FillPrevKv(mvcc::Event* event);

 private:
  struct Impl;
  explicit HistorySnapshot(std::unique_ptr<Impl> impl);
  Status Init(const mvcc::Store& store);

  std::unique_ptr<Impl> impl_;
  int64_t compact_revision_ = -1;
};

// One-shot: the events of `range` in [from, to], with prev_kv when asked, all of them (no
// limits). etcd's Compacted error when `from` is below the compacted revision.
Result<std::vector<mvcc::Event>> ReadHistory(storage::Db* db, const mvcc::Store& store,
                                             const KeyRange& range, int64_t from, int64_t to,
                                             bool prev_kv);

}  // namespace cairn::watch
