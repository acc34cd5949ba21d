// The raft log on WiredTiger: batch appends with conflict truncation, one fsync per batch.
#include "storage/log_store.h"

#include <string>
#include <utility>

#include "storage/encoding.h"

namespace cairn::storage {

namespace {

constexpr std::string_view kHardStateKey = "hard_state";
constexpr std::string_view kConfStateKey = "conf_state";
constexpr std::string_view kSnapshotKey = "snapshot";
constexpr std::string_view kSnapshotDataKey = "snapshot_data";
constexpr std::string_view kDummyKey = "dummy";

std::string EncodeLogValue(const raft::Entry& e) {
  std::string v;
  v.reserve(9 + e.data.size());
  AppendBigEndian64(&v, e.term);
  v.push_back(static_cast<char>(e.type));
  v.append(e.data);
  return v;
}

Result<raft::Entry> DecodeLogRecord(std::string_view key, std::string_view value) {
  if (key.size() != 8 || value.size() < 9) return DataLoss("raft log: malformed record");
  raft::Entry e;
  e.index = ReadBigEndian64(key);
  e.term = ReadBigEndian64(value);
  e.type = static_cast<raft::EntryType>(value[8]);
  e.data.assign(value.substr(9));
  return e;
}

// Deletes log records with index in [from, to].
Status DeleteRange(Cursor* log, uint64_t from, uint64_t to) {
  for (uint64_t i = from; i <= to && i != 0; ++i) {
    CAIRN_RETURN_IF_ERROR(log->Delete(BigEndian64(i)));
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<LogStore>> LogStore::Open(Db* db) {
  CAIRN_ASSIGN_OR_RETURN(auto session, db->OpenSession());
  std::unique_ptr<LogStore> store(new LogStore(db, std::move(session)));
  CAIRN_RETURN_IF_ERROR(store->Load());
  return store;
}

Status LogStore::Load() {
  CAIRN_ASSIGN_OR_RETURN(Cursor state, session_->OpenCursor(kRaftStateTable));
  CAIRN_ASSIGN_OR_RETURN(bool has_dummy, state.Find(kDummyKey));
  if (has_dummy) {
    std::string_view v = state.value();
    if (v.size() != 16) return DataLoss("raft log: malformed dummy record");
    dummy_index_ = ReadBigEndian64(v);
    dummy_term_ = ReadBigEndian64(v.substr(8));
  }
  CAIRN_ASSIGN_OR_RETURN(Cursor log, session_->OpenCursor(kRaftLogTable));
  CAIRN_ASSIGN_OR_RETURN(bool has_last, log.Prev());
  last_index_ = has_last ? ReadBigEndian64(log.key()) : dummy_index_;
  if (last_index_ < dummy_index_) last_index_ = dummy_index_;
  return Status::Ok();
}

Result<raft::InitialState> LogStore::GetInitialState() const {
  raft::InitialState out;
  CAIRN_ASSIGN_OR_RETURN(Cursor state, session_->OpenCursor(kRaftStateTable));
  CAIRN_ASSIGN_OR_RETURN(bool found, state.Find(kHardStateKey));
  if (found) {
    CAIRN_ASSIGN_OR_RETURN(out.hard_state, raft::DecodeHardState(state.value()));
  }
  CAIRN_ASSIGN_OR_RETURN(found, state.Find(kConfStateKey));
  if (found) {
    CAIRN_ASSIGN_OR_RETURN(out.conf_state, raft::DecodeConfState(state.value()));
  }
  return out;
}

Result<std::vector<raft::Entry>> LogStore::Entries(uint64_t lo, uint64_t hi,
                                                   uint64_t max_bytes) const {
  if (lo <= dummy_index_) return raft::ErrCompacted();
  if (hi > last_index_ + 1) return raft::ErrUnavailable();
  std::vector<raft::Entry> out;
  if (lo >= hi) return out;
  if (Cached(lo) != nullptr) {
    uint64_t bytes = 0;
    for (uint64_t i = lo; i < hi; ++i) {
      const raft::Entry& e = *Cached(i);
      bytes += e.ByteSize();
      if (!out.empty() && bytes > max_bytes) break;
      out.push_back(e);
    }
    return out;
  }
  CAIRN_ASSIGN_OR_RETURN(Cursor log, session_->OpenCursor(kRaftLogTable));
  CAIRN_ASSIGN_OR_RETURN(bool ok, log.Find(BigEndian64(lo)));
  uint64_t bytes = 0;
  for (uint64_t i = lo; i < hi; ++i) {
    if (!ok) return DataLoss("raft log: entry " + std::to_string(i) + " missing");
    CAIRN_ASSIGN_OR_RETURN(raft::Entry e, DecodeLogRecord(log.key(), log.value()));
    if (e.index != i) return DataLoss("raft log: entry " + std::to_string(i) + " missing");
    bytes += e.ByteSize();
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(std::move(e));
    if (i + 1 < hi) {
      CAIRN_ASSIGN_OR_RETURN(ok, log.Next());
    }
  }
  return out;
}

Result<uint64_t> LogStore::Term(uint64_t i) const {
  if (i < dummy_index_) return raft::ErrCompacted();
  if (i > last_index_) return raft::ErrUnavailable();
  if (i == dummy_index_) return dummy_term_;
  if (const raft::Entry* e = Cached(i)) return e->term;
  CAIRN_ASSIGN_OR_RETURN(Cursor log, session_->OpenCursor(kRaftLogTable));
  CAIRN_ASSIGN_OR_RETURN(bool found, log.Find(BigEndian64(i)));
  if (!found || log.value().size() < 9) {
    return DataLoss("raft log: entry " + std::to_string(i) + " missing");
  }
  return ReadBigEndian64(log.value());
}

Result<uint64_t> LogStore::FirstIndex() const {
  return dummy_index_ + 1;
}
Result<uint64_t> LogStore::LastIndex() const {
  return last_index_;
}

Result<raft::Snapshot> LogStore::GetSnapshot() const {
  raft::Snapshot snap;
  CAIRN_ASSIGN_OR_RETURN(Cursor state, session_->OpenCursor(kRaftStateTable));
  CAIRN_ASSIGN_OR_RETURN(bool found, state.Find(kSnapshotKey));
  if (!found) return snap;
  CAIRN_ASSIGN_OR_RETURN(snap.metadata, raft::DecodeSnapshotMetadata(state.value()));
  CAIRN_ASSIGN_OR_RETURN(found, state.Find(kSnapshotDataKey));
  if (found) snap.data.assign(state.value());
  return snap;
}

Status LogStore::Save(const std::optional<raft::HardState>& hard_state,
                      const std::vector<raft::Entry>& entries, bool sync) {
  size_t skip = 0;
  while (skip < entries.size() && entries[skip].index <= dummy_index_) ++skip;
  if (skip < entries.size() && entries[skip].index > last_index_ + 1) {
    return InvalidArgument("raft log: append at " + std::to_string(entries[skip].index) +
                           " leaves a gap after " + std::to_string(last_index_));
  }
  for (size_t i = skip + 1; i < entries.size(); ++i) {
    if (entries[i].index != entries[i - 1].index + 1) {
      return InvalidArgument("raft log: entries are not contiguous");
    }
  }
  CAIRN_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(session_.get()));
  uint64_t new_last = last_index_;
  if (skip < entries.size()) {
    CAIRN_ASSIGN_OR_RETURN(Cursor log, session_->OpenCursor(kRaftLogTable));
    // A conflicting suffix beyond the new entries goes; the rest is overwritten in place.
    CAIRN_RETURN_IF_ERROR(DeleteRange(&log, entries.back().index + 1, last_index_));
    for (size_t i = skip; i < entries.size(); ++i) {
      CAIRN_RETURN_IF_ERROR(log.Put(BigEndian64(entries[i].index), EncodeLogValue(entries[i])));
    }
    new_last = entries.back().index;
  }
  if (hard_state.has_value()) {
    CAIRN_ASSIGN_OR_RETURN(Cursor state, session_->OpenCursor(kRaftStateTable));
    CAIRN_RETURN_IF_ERROR(state.Put(kHardStateKey, raft::EncodeHardState(*hard_state)));
  }
  CAIRN_RETURN_IF_ERROR(txn.Commit(sync ? "sync=on" : "sync=off"));
  last_index_ = new_last;
  Remember(entries, skip);
  return Status::Ok();
}

void LogStore::Remember(const std::vector<raft::Entry>& entries, size_t from) {
  if (from >= entries.size()) return;
  // What the append replaced (or cut off after it) goes first.
  const uint64_t first = entries[from].index;
  while (!tail_.empty() && tail_.back().index >= first) {
    tail_bytes_ -= tail_.back().ByteSize();
    tail_.pop_back();
  }
  if (!tail_.empty() && tail_.back().index + 1 != first) {
    tail_.clear();
    tail_bytes_ = 0;
  }
  for (size_t i = from; i < entries.size(); ++i) {
    tail_.push_back(entries[i]);
    tail_bytes_ += entries[i].ByteSize();
  }
  while (tail_bytes_ > kTailBytes && tail_.size() > 1) {
    tail_bytes_ -= tail_.front().ByteSize();
    tail_.pop_front();
  }
}

const raft::Entry* LogStore::Cached(uint64_t index) const {
  if (tail_.empty() || index < tail_.front().index || index > tail_.back().index) return nullptr;
  return &tail_[index - tail_.front().index];
}

Status LogStore::SetConfState(const raft::ConfState& conf_state) {
  CAIRN_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(session_.get()));
  CAIRN_ASSIGN_OR_RETURN(Cursor state, session_->OpenCursor(kRaftStateTable));
  CAIRN_RETURN_IF_ERROR(state.Put(kConfStateKey, raft::EncodeConfState(conf_state)));
  return txn.Commit("sync=on");
}

Status LogStore::ApplySnapshot(const raft::Snapshot& snapshot) {
  CAIRN_ASSIGN_OR_RETURN(raft::Snapshot held, GetSnapshot());
  if (snapshot.metadata.index <= held.metadata.index) return raft::ErrSnapshotOutOfDate();
  CAIRN_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(session_.get()));
  CAIRN_ASSIGN_OR_RETURN(Cursor log, session_->OpenCursor(kRaftLogTable));
  CAIRN_RETURN_IF_ERROR(DeleteRange(&log, dummy_index_ + 1, last_index_));
  CAIRN_ASSIGN_OR_RETURN(Cursor state, session_->OpenCursor(kRaftStateTable));
  CAIRN_RETURN_IF_ERROR(state.Put(kSnapshotKey, raft::EncodeSnapshotMetadata(snapshot.metadata)));
  CAIRN_RETURN_IF_ERROR(state.Put(kSnapshotDataKey, snapshot.data));
  CAIRN_RETURN_IF_ERROR(
      state.Put(kConfStateKey, raft::EncodeConfState(snapshot.metadata.conf_state)));
  std::string dummy = BigEndian64(snapshot.metadata.index);
  AppendBigEndian64(&dummy, snapshot.metadata.term);
  CAIRN_RETURN_IF_ERROR(state.Put(kDummyKey, dummy));
  CAIRN_RETURN_IF_ERROR(txn.Commit("sync=on"));
  dummy_index_ = snapshot.metadata.index;
  dummy_term_ = snapshot.metadata.term;
  last_index_ = dummy_index_;
  tail_.clear();
  tail_bytes_ = 0;
  return Status::Ok();
}

Status LogStore::CreateSnapshot(uint64_t i, const raft::ConfState& conf_state, std::string data) {
  CAIRN_ASSIGN_OR_RETURN(raft::Snapshot held, GetSnapshot());
  if (i <= held.metadata.index) return raft::ErrSnapshotOutOfDate();
  if (i > last_index_) {
    return InvalidArgument("raft log: snapshot index " + std::to_string(i) +
                           " is beyond the last index");
  }
  raft::SnapshotMetadata meta;
  meta.index = i;
  CAIRN_ASSIGN_OR_RETURN(meta.term, Term(i));
  meta.conf_state = conf_state;
  CAIRN_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(session_.get()));
  CAIRN_ASSIGN_OR_RETURN(Cursor state, session_->OpenCursor(kRaftStateTable));
  CAIRN_RETURN_IF_ERROR(state.Put(kSnapshotKey, raft::EncodeSnapshotMetadata(meta)));
  CAIRN_RETURN_IF_ERROR(state.Put(kSnapshotDataKey, data));
  return txn.Commit("sync=on");
}

Status LogStore::Compact(uint64_t compact_index) {
  if (compact_index <= dummy_index_) return raft::ErrCompacted();
  if (compact_index > last_index_) {
    return InvalidArgument("raft log: compact index " + std::to_string(compact_index) +
                           " is beyond the last index");
  }
  CAIRN_ASSIGN_OR_RETURN(uint64_t term, Term(compact_index));
  CAIRN_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(session_.get()));
  CAIRN_ASSIGN_OR_RETURN(Cursor log, session_->OpenCursor(kRaftLogTable));
  CAIRN_RETURN_IF_ERROR(DeleteRange(&log, dummy_index_ + 1, compact_index));
  CAIRN_ASSIGN_OR_RETURN(Cursor state, session_->OpenCursor(kRaftStateTable));
  std::string dummy = BigEndian64(compact_index);
  AppendBigEndian64(&dummy, term);
  CAIRN_RETURN_IF_ERROR(state.Put(kDummyKey, dummy));
  // Not synced: losing a compaction in a crash only keeps entries a little longer.
  CAIRN_RETURN_IF_ERROR(txn.Commit());
  dummy_index_ = compact_index;
  dummy_term_ = term;
  while (!tail_.empty() && tail_.front().index <= compact_index) {
    tail_bytes_ -= tail_.front().ByteSize();
    tail_.pop_front();
  }
  return Status::Ok();
}

}  // namespace cairn::storage
