// The raft log on WiredTiger: raft::Storage for reads, plus the writes a Ready asks for.
//
// Tables (both journaled, so a commit with sync is durable without a checkpoint):
//   raft_log:   big-endian index -> [term: 8 bytes big-endian][type: 1 byte][data]
//   raft_state: "hard_state" -> raft::EncodeHardState, "conf_state" -> EncodeConfState,
//               "snapshot" -> EncodeSnapshotMetadata, "snapshot_data" -> bytes,
//               "dummy" -> [index][term] of the entry before FirstIndex() (after compaction).
// Opening reads the first and last index by seeking the ends of raft_log: no scan.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "base/status.h"
#include "raft/storage.h"
#include "raft/types.h"
#include "storage/db.h"

namespace cairn::storage {

// Thread safety: as raft::Storage says, one thread (the raft thread) reads and writes it.
class LogStore final : public raft::Storage {
 public:
  static Result<std::unique_ptr<LogStore>> Open(Db* db);

  Result<raft::InitialState> GetInitialState() const override;
  Result<std::vector<raft::Entry>> Entries(uint64_t lo, uint64_t hi,
                                           uint64_t max_bytes) const override;
  Result<uint64_t> Term(uint64_t i) const override;
  Result<uint64_t> FirstIndex() const override;
  Result<uint64_t> LastIndex() const override;
  Result<raft::Snapshot> GetSnapshot() const override;

  // Persists one Ready: the hard state (if given) and the entries, replacing any existing
  // entries at their indexes and after (a new leader's log wins), in one transaction
  // committed with sync: one fsync for the batch. Entries must be contiguous and start no
  // later than LastIndex()+1; entries already compacted are skipped.
  // With `sync` false (raft's Ready::must_sync is false when only the commit index moved)
  // the commit is written to the journal without waiting for the disk: a lost commit index
  // is learned again from the leader or recomputed, as in etcd.
  Status Save(const std::optional<raft::HardState>& hard_state,
              const std::vector<raft::Entry>& entries, bool sync = true);
  // Saves the membership that GetInitialState returns (after a conf change is applied).
  Status SetConfState(const raft::ConfState& conf_state);
  // Replaces the whole log with a received snapshot's metadata (and data). Synced.
  // ErrSnapshotOutOfDate when older than the snapshot held.
  Status ApplySnapshot(const raft::Snapshot& snapshot);
  // Records a snapshot of the local state at applied index i (<= LastIndex()).
  Status CreateSnapshot(uint64_t i, const raft::ConfState& conf_state, std::string data);
  // Discards entries before compact_index (<= LastIndex()); the entry at compact_index
  // becomes the dummy whose term stays readable. The caller keeps compact_index at or
  // below the applied index of the last checkpoint, so replay after a crash still finds
  // every entry it needs.
  Status Compact(uint64_t compact_index);

 private:
  LogStore(Db* db, std::unique_ptr<Session> session) : db_(db), session_(std::move(session)) {}
  Status Load();

  // Copies of the entries Save appended last, so that raft reads them back (to apply what
  // it committed, to send appends to followers) without going to WiredTiger: contiguous,
  // ending at last_index_, bounded by kTailBytes (it may start anywhere after the dummy).
  void Remember(const std::vector<raft::Entry>& entries, size_t from);
  const raft::Entry* Cached(uint64_t index) const;
  static constexpr uint64_t kTailBytes = 8 << 20;

  Db* db_;
  std::unique_ptr<Session> session_;
  uint64_t dummy_index_ = 0;  // entry before the first; its term is dummy_term_
  uint64_t dummy_term_ = 0;
  uint64_t last_index_ = 0;
  std::deque<raft::Entry> tail_;
  uint64_t tail_bytes_ = 0;
};

}  // namespace cairn::storage
