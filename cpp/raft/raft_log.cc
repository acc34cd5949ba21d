// RaftLog: merges the persisted log (Storage) with the entries not yet persisted (Unstable).
#include "raft/raft_log.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace cairn::raft {

void Fatal(const std::string& message) {
  std::fprintf(stderr, "cairn::raft fatal: %s\n", message.c_str());
  std::abort();
}

namespace {

template <typename T>
T MustOk(Result<T> r, const char* what) {
  if (!r.ok()) Fatal(std::string(what) + ": " + r.status().ToString());
  return std::move(r).value();
}

}  // namespace

std::optional<uint64_t> Unstable::MaybeFirstIndex() const {
  if (snapshot_) return snapshot_->metadata.index + 1;
  return std::nullopt;
}

std::optional<uint64_t> Unstable::MaybeLastIndex() const {
  if (!entries_.empty()) return offset_ + entries_.size() - 1;
  if (snapshot_) return snapshot_->metadata.index;
  return std::nullopt;
}

std::optional<uint64_t> Unstable::MaybeTerm(uint64_t i) const {
  if (i < offset_) {
    if (snapshot_ && snapshot_->metadata.index == i) return snapshot_->metadata.term;
    return std::nullopt;
  }
  auto last = MaybeLastIndex();
  if (!last || i > *last) return std::nullopt;
  return entries_[i - offset_].term;
}

void Unstable::StableTo(uint64_t i, uint64_t t) {
  auto term = MaybeTerm(i);
  // Only if the entry is still the one that was persisted: a newer leader may have replaced
  // it meanwhile, and then the replacement still needs persisting.
  if (!term || *term != t || i < offset_) return;
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(i + 1 - offset_));
  offset_ = i + 1;
}

void Unstable::StableSnapTo(uint64_t i) {
  if (snapshot_ && snapshot_->metadata.index == i) snapshot_.reset();
}

void Unstable::Restore(Snapshot snapshot) {
  offset_ = snapshot.metadata.index + 1;
  entries_.clear();
  snapshot_ = std::move(snapshot);
}

void Unstable::TruncateAndAppend(const std::vector<Entry>& entries) {
  if (entries.empty()) return;
  uint64_t after = entries.front().index;
  if (after == offset_ + entries_.size()) {
    // The common case: directly after what we hold.
  } else if (after <= offset_) {
    // Replaces everything unstable; the caller's persisted log is truncated at `after` when
    // these are persisted.
    offset_ = after;
    entries_.clear();
  } else {
    entries_.resize(after - offset_);
  }
  entries_.insert(entries_.end(), entries.begin(), entries.end());
}

std::vector<Entry> Unstable::Slice(uint64_t lo, uint64_t hi) const {
  return std::vector<Entry>(entries_.begin() + static_cast<std::ptrdiff_t>(lo - offset_),
                            entries_.begin() + static_cast<std::ptrdiff_t>(hi - offset_));
}

RaftLog::RaftLog(const Storage* storage, uint64_t max_committed_bytes_per_ready)
    : storage_(storage), max_committed_bytes_per_ready_(max_committed_bytes_per_ready) {
  uint64_t first = MustOk(storage_->FirstIndex(), "storage FirstIndex");
  uint64_t last = MustOk(storage_->LastIndex(), "storage LastIndex");
  unstable_.set_offset(last + 1);
  committed_ = first - 1;
  applied_ = first - 1;
}

uint64_t RaftLog::FirstIndex() const {
  if (auto i = unstable_.MaybeFirstIndex()) return *i;
  return MustOk(storage_->FirstIndex(), "storage FirstIndex");
}

uint64_t RaftLog::LastIndex() const {
  if (auto i = unstable_.MaybeLastIndex()) return *i;
  return MustOk(storage_->LastIndex(), "storage LastIndex");
}

Result<uint64_t> RaftLog::Term(uint64_t i) const {
  if (auto t = unstable_.MaybeTerm(i)) return *t;
  if (i + 1 < FirstIndex()) return ErrCompacted();
  if (i > LastIndex()) return ErrUnavailable();
  auto t = storage_->Term(i);
  if (t.ok() || IsCompacted(t.status()) || IsUnavailable(t.status())) return t;
  Fatal("storage Term: " + t.status().ToString());
}

uint64_t RaftLog::LastTerm() const {
  auto t = Term(LastIndex());
  if (!t.ok()) Fatal("term of the last index: " + t.status().ToString());
  return *t;
}

uint64_t RaftLog::ZeroTermOnError(uint64_t i) const {
  auto t = Term(i);
  return t.ok() ? *t : 0;
}

bool RaftLog::MatchTerm(uint64_t i, uint64_t term) const {
  auto t = Term(i);
  return t.ok() && *t == term;
}

std::optional<uint64_t> RaftLog::MaybeAppend(uint64_t index, uint64_t log_term, uint64_t committed,
                                             const std::vector<Entry>& entries) {
  if (!MatchTerm(index, log_term)) return std::nullopt;
  uint64_t last_new = index + entries.size();
  uint64_t ci = FindConflict(entries);
  if (ci != 0) {
    // Committed entries are never overwritten: that would break State Machine Safety.
    if (ci <= committed_) {
      Fatal("entry " + std::to_string(ci) + " conflicts with committed entry (committed " +
            std::to_string(committed_) + ")");
    }
    uint64_t offset = index + 1;
    Append(std::vector<Entry>(entries.begin() + static_cast<std::ptrdiff_t>(ci - offset),
                              entries.end()));
  }
  CommitTo(std::min(committed, last_new));
  return last_new;
}

uint64_t RaftLog::Append(const std::vector<Entry>& entries) {
  if (entries.empty()) return LastIndex();
  if (entries.front().index - 1 < committed_) {
    Fatal("append at " + std::to_string(entries.front().index) + " is below committed " +
          std::to_string(committed_));
  }
  unstable_.TruncateAndAppend(entries);
  return LastIndex();
}

uint64_t RaftLog::FindConflict(const std::vector<Entry>& entries) const {
  for (const Entry& e : entries) {
    if (!MatchTerm(e.index, e.term)) return e.index;
  }
  return 0;
}

std::pair<uint64_t, uint64_t> RaftLog::FindConflictByTerm(uint64_t index, uint64_t term) const {
  for (; index > 0; --index) {
    auto t = Term(index);
    // An unknown (compacted) term: the caller probes from here.
    if (!t.ok()) return {index, 0};
    if (*t <= term) return {index, *t};
  }
  return {0, 0};
}

Result<std::vector<Entry>> RaftLog::Slice(uint64_t lo, uint64_t hi, uint64_t max_bytes) const {
  if (lo >= hi) return std::vector<Entry>{};
  if (lo < FirstIndex()) return ErrCompacted();
  if (hi > LastIndex() + 1) Fatal("slice beyond the last index");
  std::vector<Entry> out;
  uint64_t offset = unstable_.offset();
  if (lo < offset) {
    auto stored = storage_->Entries(lo, std::min(hi, offset), max_bytes);
    if (!stored.ok()) {
      if (IsCompacted(stored.status())) return stored.status();
      Fatal("storage Entries: " + stored.status().ToString());
    }
    out = std::move(stored).value();
    // Storage stopped at the byte limit: do not add unstable entries after a gap.
    if (out.size() < std::min(hi, offset) - lo) return out;
  }
  if (hi > offset) {
    uint64_t bytes = 0;
    for (const Entry& e : out) bytes += e.ByteSize();
    for (uint64_t i = std::max(lo, offset); i < hi; ++i) {
      const Entry& e = unstable_.entries()[i - offset];
      bytes += e.ByteSize();
      if (!out.empty() && bytes > max_bytes) break;
      out.push_back(e);
    }
  }
  return out;
}

Result<std::vector<Entry>> RaftLog::EntriesFrom(uint64_t i, uint64_t max_bytes) const {
  if (i > LastIndex()) return std::vector<Entry>{};
  return Slice(i, LastIndex() + 1, max_bytes);
}

bool RaftLog::IsUpToDate(uint64_t lasti, uint64_t term) const {
  uint64_t my_term = LastTerm();
  return term > my_term || (term == my_term && lasti >= LastIndex());
}

void RaftLog::CommitTo(uint64_t to_commit) {
  if (to_commit <= committed_) return;  // commit never decreases
  if (to_commit > LastIndex()) {
    Fatal("commit " + std::to_string(to_commit) + " is beyond the last index " +
          std::to_string(LastIndex()));
  }
  committed_ = to_commit;
}

bool RaftLog::MaybeCommit(uint64_t max_index, uint64_t term) {
  if (max_index > committed_ && ZeroTermOnError(max_index) == term) {
    CommitTo(max_index);
    return true;
  }
  return false;
}

void RaftLog::AppliedTo(uint64_t i) {
  if (i == 0) return;
  if (i > committed_ || i < applied_) {
    Fatal("applied " + std::to_string(i) + " outside [" + std::to_string(applied_) + ", " +
          std::to_string(committed_) + "]");
  }
  applied_ = i;
}

void RaftLog::Restore(Snapshot snapshot) {
  committed_ = snapshot.metadata.index;
  unstable_.Restore(std::move(snapshot));
}

bool RaftLog::HasNextCommittedEntries() const {
  uint64_t lo = std::max(applied_ + 1, FirstIndex());
  return committed_ + 1 > lo;
}

std::vector<Entry> RaftLog::NextCommittedEntries() const {
  uint64_t lo = std::max(applied_ + 1, FirstIndex());
  if (committed_ + 1 <= lo) return {};
  auto ents = Slice(lo, committed_ + 1, max_committed_bytes_per_ready_);
  if (!ents.ok()) Fatal("committed entries: " + ents.status().ToString());
  return std::move(ents).value();
}

Result<Snapshot> RaftLog::GetSnapshot() const {
  if (unstable_.snapshot()) return *unstable_.snapshot();
  return storage_->GetSnapshot();
}

}  // namespace cairn::raft
