// The read-only storage interface raft reads its durable log through, and an in-memory one.
//
// Raft never writes to Storage: the caller persists what a Ready hands out (hard state,
// entries, snapshot) and then calls RawNode::Advance. Raft reads back through this interface
// only what it needs to send to followers or to apply. cpp/storage implements it on
// WiredTiger; MemoryStorage below serves tests, the simulator and the benchmark.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "base/status.h"
#include "raft/types.h"

namespace cairn::raft {

inline constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();

// The errors Storage may return that raft understands. Each owns one status code, which an
// implementation must not use for anything else; any other failure (I/O, corruption) should
// be Internal or DataLoss, and raft treats it as fatal.
//
// The requested index is below FirstIndex() - 1: it was compacted into a snapshot.
Status ErrCompacted();
// The requested index is above LastIndex().
Status ErrUnavailable();
// Snapshot() cannot produce a snapshot right now; raft will retry later.
Status ErrSnapshotTemporarilyUnavailable();
// ApplySnapshot/CreateSnapshot got a snapshot older than the one already held.
Status ErrSnapshotOutOfDate();
bool IsCompacted(const Status& status);                       // kOutOfRange
bool IsUnavailable(const Status& status);                     // kNotFound
bool IsSnapshotTemporarilyUnavailable(const Status& status);  // kUnavailable
bool IsSnapshotOutOfDate(const Status& status);               // kFailedPrecondition

struct InitialState {
  HardState hard_state;
  ConfState conf_state;
};

// What raft reads of the durable log. Raft calls it only from the thread that drives the
// RawNode; an implementation that is also written by that thread (after Ready handling)
// needs no locking.
//
// Indexes: the log holds entries [FirstIndex(), LastIndex()]. The entry just before
// FirstIndex() is the last one covered by the latest snapshot (or index 0, term 0 in a new
// log); its term must still be available from Term(). A fresh log has FirstIndex() == 1 and
// LastIndex() == 0.
class Storage {
 public:
  virtual ~Storage() = default;

  // The hard state and membership to start from (membership of the latest snapshot plus
  // the conf changes the caller applied since, as the caller saved them).
  virtual Result<InitialState> GetInitialState() const = 0;
  // Entries [lo, hi), at most max_bytes in total (by Entry::ByteSize) but always at least
  // one when lo < hi. ErrCompacted if lo < FirstIndex(); ErrUnavailable if hi > LastIndex()+1.
  virtual Result<std::vector<Entry>> Entries(uint64_t lo, uint64_t hi,
                                             uint64_t max_bytes) const = 0;
  // Term of entry i, for i in [FirstIndex()-1, LastIndex()]. ErrCompacted below,
  // ErrUnavailable above.
  virtual Result<uint64_t> Term(uint64_t i) const = 0;
  virtual Result<uint64_t> FirstIndex() const = 0;
  virtual Result<uint64_t> LastIndex() const = 0;
  // The most recent snapshot, to send to a follower that is behind FirstIndex(). May return
  // ErrSnapshotTemporarilyUnavailable while one is being made.
  virtual Result<raft::Snapshot> GetSnapshot() const = 0;
};

// Storage held in memory, also writable, for tests, the simulator and the benchmark.
// Thread safety: none; use from one thread.
class MemoryStorage final : public Storage {
 public:
  MemoryStorage();

  Result<InitialState> GetInitialState() const override;
  Result<std::vector<Entry>> Entries(uint64_t lo, uint64_t hi, uint64_t max_bytes) const override;
  Result<uint64_t> Term(uint64_t i) const override;
  Result<uint64_t> FirstIndex() const override;
  Result<uint64_t> LastIndex() const override;
  Result<raft::Snapshot> GetSnapshot() const override;

  void SetHardState(const HardState& state) { hard_state_ = state; }
  const HardState& hard_state() const { return hard_state_; }
  // Sets the membership returned by GetInitialState (the caller saves it after applying a
  // conf change, as a real store would).
  void SetConfState(const ConfState& state) { conf_state_ = state; }

  // Appends entries, replacing any existing entries at the same and later indexes.
  // Entries must be contiguous and start no later than LastIndex()+1; entries already
  // compacted are skipped.
  Status Append(const std::vector<Entry>& entries);
  // Replaces the whole log with the snapshot. ErrSnapshotOutOfDate if older than held.
  Status ApplySnapshot(raft::Snapshot snapshot);
  // Makes a snapshot at applied index i (which must be <= LastIndex()) holding `data`, with
  // membership `conf_state`. Does not compact; see Compact.
  Result<raft::Snapshot> CreateSnapshot(uint64_t i, const ConfState& conf_state, std::string data);
  // Discards entries before compact_index (which must be <= LastIndex()). The entry at
  // compact_index becomes the log's dummy (its term is kept; FirstIndex() = compact_index+1).
  Status Compact(uint64_t compact_index);

 private:
  uint64_t first_index() const { return entries_.front().index + 1; }
  uint64_t last_index() const { return entries_.front().index + entries_.size() - 1; }

  HardState hard_state_;
  ConfState conf_state_;
  raft::Snapshot snapshot_;
  // entries_[0] is a dummy holding the index and term of the last compacted entry; the
  // real log is entries_[1..].
  std::vector<Entry> entries_;
};

}  // namespace cairn::raft
