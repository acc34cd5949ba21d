// RaftLog: the log as raft sees it, the durable part (Storage) plus what is not yet persisted.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "raft/storage.h"
#include "raft/types.h"

namespace cairn::raft {

// Stops the process: raft hit a broken invariant or a storage failure it cannot recover
// from. Like a CHECK: continuing would risk a safety violation.
[[noreturn]] void Fatal(const std::string& message);

// Entries and a snapshot that raft has accepted but the caller has not yet persisted.
// Invariant: entries_, if any, are at indexes [offset_, offset_ + size); if snapshot_ is set,
// offset_ == snapshot_->metadata.index + 1.
class Unstable {
 public:
  std::optional<uint64_t> MaybeFirstIndex() const;
  std::optional<uint64_t> MaybeLastIndex() const;
  std::optional<uint64_t> MaybeTerm(uint64_t i) const;

  // The caller persisted entries up to i (of term t): forget them.
  void StableTo(uint64_t i, uint64_t t);
  void StableSnapTo(uint64_t i);
  void Restore(Snapshot snapshot);
  void TruncateAndAppend(const std::vector<Entry>& entries);
  // Entries [lo, hi) held here; lo >= offset_.
  std::vector<Entry> Slice(uint64_t lo, uint64_t hi) const;

  uint64_t offset() const { return offset_; }
  void set_offset(uint64_t offset) { offset_ = offset; }
  const std::vector<Entry>& entries() const { return entries_; }
  const std::optional<Snapshot>& snapshot() const { return snapshot_; }

 private:
  std::optional<Snapshot> snapshot_;
  std::vector<Entry> entries_;
  uint64_t offset_ = 0;
};

class RaftLog {
 public:
  // Starts from what the storage holds: everything in it is persisted; committed and
  // applied start at the snapshot (the caller then raises them from its hard state).
  explicit RaftLog(const Storage* storage, uint64_t max_committed_bytes_per_ready);

  uint64_t FirstIndex() const;
  uint64_t LastIndex() const;
  // Term of entry i; 0 with ok() when i is out of [FirstIndex()-1, LastIndex()] and not
  // compacted (matching etcd's convention that unknown terms are 0), ErrCompacted below.
  Result<uint64_t> Term(uint64_t i) const;
  uint64_t LastTerm() const;
  // Term(i) or 0 when it is unknown or compacted.
  uint64_t ZeroTermOnError(uint64_t i) const;
  bool MatchTerm(uint64_t i, uint64_t term) const;

  // Figure 2, AppendEntries receiver rules 2-5: if the entry at `index` has `log_term`,
  // append `entries` after it (truncating any conflicting suffix) and raise the commit index
  // to min(committed, index of last new entry). Returns the index of the last new entry, or
  // nullopt when the log does not match at `index`.
  std::optional<uint64_t> MaybeAppend(uint64_t index, uint64_t log_term, uint64_t committed,
                                      const std::vector<Entry>& entries);
  // Appends at the end of the (possibly unstable) log, truncating from entries[0].index.
  uint64_t Append(const std::vector<Entry>& entries);
  // Index of the first entry whose term conflicts with the log, or of the first new entry,
  // or 0 when every entry is already present.
  uint64_t FindConflict(const std::vector<Entry>& entries) const;
  // For fast back-off: the largest index <= index whose term is <= term, with that term.
  std::pair<uint64_t, uint64_t> FindConflictByTerm(uint64_t index, uint64_t term) const;

  // Entries [lo, hi), at most max_bytes (at least one). ErrCompacted when lo is compacted.
  Result<std::vector<Entry>> Slice(uint64_t lo, uint64_t hi, uint64_t max_bytes) const;
  // Entries [i, LastIndex()], at most max_bytes.
  Result<std::vector<Entry>> EntriesFrom(uint64_t i, uint64_t max_bytes) const;

  // Section 5.4.1: is a log ending at (lasti, term) at least as up-to-date as this one?
  bool IsUpToDate(uint64_t lasti, uint64_t term) const;

  void CommitTo(uint64_t to_commit);
  // Leader's commit rule (Section 5.4.2, Figure 8): commit max_index only if its entry is of
  // the current term; earlier entries are then committed with it.
  bool MaybeCommit(uint64_t max_index, uint64_t term);
  void AppliedTo(uint64_t i);
  void StableTo(uint64_t i, uint64_t t) { unstable_.StableTo(i, t); }
  void StableSnapTo(uint64_t i) { unstable_.StableSnapTo(i); }
  void Restore(Snapshot snapshot);

  const std::vector<Entry>& UnstableEntries() const { return unstable_.entries(); }
  const std::optional<Snapshot>& UnstableSnapshot() const { return unstable_.snapshot(); }
  bool HasNextCommittedEntries() const;
  std::vector<Entry> NextCommittedEntries() const;
  // The snapshot to send to a follower: the unstable one if any, else Storage's.
  Result<Snapshot> GetSnapshot() const;

  uint64_t committed() const { return committed_; }
  uint64_t applied() const { return applied_; }
  void set_applied(uint64_t applied) { applied_ = applied; }

 private:
  const Storage* storage_;
  Unstable unstable_;
  uint64_t committed_ = 0;
  // Highest index handed to the caller to apply (and acknowledged by Advance).
  uint64_t applied_ = 0;
  uint64_t max_committed_bytes_per_ready_;
};

}  // namespace cairn::raft
