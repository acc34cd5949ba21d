// Storage errors and the in-memory Storage used by tests, the simulator and the benchmark.
#include "raft/storage.h"

#include <utility>

namespace cairn::raft {

Status ErrCompacted() {
  return OutOfRange("raft: requested index is unavailable due to compaction");
}
Status ErrUnavailable() {
  return NotFound("raft: requested entry at index is unavailable");
}
Status ErrSnapshotTemporarilyUnavailable() {
  return Unavailable("raft: snapshot is temporarily unavailable");
}
Status ErrSnapshotOutOfDate() {
  return FailedPrecondition("raft: requested index is older than the existing snapshot");
}
bool IsCompacted(const Status& s) {
  return s.code() == Code::kOutOfRange;
}
bool IsUnavailable(const Status& s) {
  return s.code() == Code::kNotFound;
}
bool IsSnapshotTemporarilyUnavailable(const Status& s) {
  return s.code() == Code::kUnavailable;
}
bool IsSnapshotOutOfDate(const Status& s) {
  return s.code() == Code::kFailedPrecondition;
}

MemoryStorage::MemoryStorage() : entries_(1) {}

Result<InitialState> MemoryStorage::GetInitialState() const {
  return InitialState{hard_state_, conf_state_};
}

Result<std::vector<Entry>> MemoryStorage::Entries(uint64_t lo, uint64_t hi,
                                                  uint64_t max_bytes) const {
  uint64_t offset = entries_.front().index;
  if (lo <= offset) return ErrCompacted();
  if (hi > last_index() + 1) return ErrUnavailable();
  std::vector<Entry> out;
  uint64_t bytes = 0;
  for (uint64_t i = lo; i < hi; ++i) {
    const Entry& e = entries_[i - offset];
    bytes += e.ByteSize();
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(e);
  }
  return out;
}

Result<uint64_t> MemoryStorage::Term(uint64_t i) const {
  uint64_t offset = entries_.front().index;
  if (i < offset) return ErrCompacted();
  if (i > last_index()) return ErrUnavailable();
  return entries_[i - offset].term;
}

Result<uint64_t> MemoryStorage::FirstIndex() const {
  return first_index();
}
Result<uint64_t> MemoryStorage::LastIndex() const {
  return last_index();
}
Result<raft::Snapshot> MemoryStorage::GetSnapshot() const {
  return snapshot_;
}

Status MemoryStorage::Append(const std::vector<Entry>& entries) {
  if (entries.empty()) return Status::Ok();
  uint64_t first = first_index();
  uint64_t last = entries.back().index;
  if (last < first) return Status::Ok();  // all already compacted
  if (entries.front().index > last_index() + 1) {
    return Internal("raft: MemoryStorage::Append leaves a gap after " +
                    std::to_string(last_index()));
  }
  // Skip what was compacted, truncate any conflicting suffix, then append.
  size_t skip = entries.front().index < first ? first - entries.front().index : 0;
  uint64_t start = entries[skip].index;
  entries_.resize(start - entries_.front().index);
  entries_.insert(entries_.end(), entries.begin() + static_cast<std::ptrdiff_t>(skip),
                  entries.end());
  return Status::Ok();
}

Status MemoryStorage::ApplySnapshot(raft::Snapshot snapshot) {
  if (snapshot.metadata.index <= snapshot_.metadata.index) return ErrSnapshotOutOfDate();
  entries_.assign(1, Entry{});
  entries_[0].index = snapshot.metadata.index;
  entries_[0].term = snapshot.metadata.term;
  conf_state_ = snapshot.metadata.conf_state;
  snapshot_ = std::move(snapshot);
  return Status::Ok();
}

Result<raft::Snapshot> MemoryStorage::CreateSnapshot(uint64_t i, const ConfState& conf_state,
                                                     std::string data) {
  if (i <= snapshot_.metadata.index) return ErrSnapshotOutOfDate();
  if (i > last_index()) return Internal("raft: snapshot index beyond the last index");
  snapshot_.metadata.index = i;
  snapshot_.metadata.term = entries_[i - entries_.front().index].term;
  snapshot_.metadata.conf_state = conf_state;
  snapshot_.data = std::move(data);
  return snapshot_;
}

Status MemoryStorage::Compact(uint64_t compact_index) {
  uint64_t offset = entries_.front().index;
  if (compact_index <= offset) return ErrCompacted();
  if (compact_index > last_index()) return Internal("raft: compact beyond the last index");
  uint64_t n = compact_index - offset;
  entries_[n].data.clear();
  entries_[n].type = EntryType::kNormal;
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(n));
  return Status::Ok();
}

}  // namespace cairn::raft
