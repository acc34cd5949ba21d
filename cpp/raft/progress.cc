// Progress, flow control and quorum arithmetic for the leader.
#include "raft/progress.h"

#include <algorithm>

namespace cairn::raft {

void Inflights::Add(uint64_t last_index) {
  if (Full()) return;  // callers check Full() first; never overwrite a live slot
  // Allocated on first use so that idle followers cost nothing.
  if (buffer_.empty()) buffer_.resize(capacity_);
  buffer_[(start_ + count_) % buffer_.size()] = last_index;
  ++count_;
}

void Inflights::FreeLE(uint64_t index) {
  while (count_ > 0 && buffer_[start_] <= index) {
    start_ = (start_ + 1) % buffer_.size();
    --count_;
  }
  if (count_ == 0) start_ = 0;
}

void Inflights::FreeFirst() {
  if (count_ == 0) return;
  start_ = (start_ + 1) % buffer_.size();
  if (--count_ == 0) start_ = 0;
}

std::string_view ProgressStateName(ProgressState state) {
  switch (state) {
    case ProgressState::kProbe: return "probe";
    case ProgressState::kReplicate: return "replicate";
    case ProgressState::kSnapshot: return "snapshot";
  }
  return "unknown";
}

void Progress::BecomeProbe() {
  // After a snapshot, the follower holds at least the snapshot: probe just past it.
  if (state == ProgressState::kSnapshot) {
    uint64_t snap = pending_snapshot;
    next = std::max(match + 1, snap + 1);
  } else {
    next = match + 1;
  }
  state = ProgressState::kProbe;
  pending_snapshot = 0;
  probe_sent = false;
  inflights.Reset();
}

void Progress::BecomeReplicate() {
  state = ProgressState::kReplicate;
  next = match + 1;
  pending_snapshot = 0;
  probe_sent = false;
  inflights.Reset();
}

void Progress::BecomeSnapshot(uint64_t snapshot_index) {
  state = ProgressState::kSnapshot;
  pending_snapshot = snapshot_index;
  probe_sent = false;
  inflights.Reset();
}

bool Progress::MaybeUpdate(uint64_t n) {
  bool updated = false;
  if (match < n) {
    match = n;
    updated = true;
    probe_sent = false;
  }
  next = std::max(next, n + 1);
  return updated;
}

bool Progress::MaybeDecrTo(uint64_t rejected, uint64_t match_hint) {
  if (state == ProgressState::kReplicate) {
    // Appends are pipelined: a rejection at or below match is an old message.
    if (rejected <= match) return false;
    next = match + 1;
    return true;
  }
  // Probing sends one append at a time from next - 1: any other rejection is old.
  if (next - 1 != rejected) return false;
  next = std::max(std::min(rejected, match_hint + 1), match + 1);
  probe_sent = false;
  return true;
}

void Progress::SentEntries(size_t count) {
  switch (state) {
    case ProgressState::kReplicate:
      if (count > 0) {
        next += count;
        inflights.Add(next - 1);
      }
      break;
    case ProgressState::kProbe:
      if (count > 0) probe_sent = true;
      break;
    case ProgressState::kSnapshot: break;
  }
}

bool Progress::IsPaused() const {
  switch (state) {
    case ProgressState::kProbe: return probe_sent;
    case ProgressState::kReplicate: return inflights.Full();
    case ProgressState::kSnapshot: return true;
  }
  return true;
}

void ProgressTracker::Reset(const ConfState& conf, uint64_t next_index) {
  voters_.clear();
  learners_.clear();
  std::map<NodeId, Progress> old = std::move(progress_);
  progress_.clear();
  for (NodeId id : conf.voters) AddVoter(id, next_index);
  for (NodeId id : conf.learners) AddLearner(id, next_index);
  // Keep what we knew of members that stay.
  for (auto& [id, pr] : progress_) {
    auto it = old.find(id);
    if (it != old.end()) {
      bool learner = pr.is_learner;
      pr = std::move(it->second);
      pr.is_learner = learner;
    }
  }
}

ConfState ProgressTracker::GetConfState() const {
  ConfState c;
  c.voters.assign(voters_.begin(), voters_.end());
  c.learners.assign(learners_.begin(), learners_.end());
  return c;
}

Progress* ProgressTracker::Get(NodeId id) {
  auto it = progress_.find(id);
  return it == progress_.end() ? nullptr : &it->second;
}

void ProgressTracker::AddVoter(NodeId id, uint64_t next_index) {
  learners_.erase(id);
  voters_.insert(id);
  auto [it, inserted] = progress_.try_emplace(id, max_inflight_);
  if (inserted) {
    it->second.next = next_index;
    // A new member counts as active so that adding it does not trip check-quorum at once.
    it->second.recent_active = true;
  }
  it->second.is_learner = false;
}

void ProgressTracker::AddLearner(NodeId id, uint64_t next_index) {
  voters_.erase(id);
  learners_.insert(id);
  auto [it, inserted] = progress_.try_emplace(id, max_inflight_);
  if (inserted) {
    it->second.next = next_index;
    it->second.recent_active = true;
  }
  it->second.is_learner = true;
}

void ProgressTracker::Remove(NodeId id) {
  voters_.erase(id);
  learners_.erase(id);
  progress_.erase(id);
}

uint64_t ProgressTracker::QuorumCommitted() const {
  if (voters_.empty()) return 0;
  std::vector<uint64_t> matches;
  matches.reserve(voters_.size());
  for (NodeId id : voters_) {
    auto it = progress_.find(id);
    matches.push_back(it == progress_.end() ? 0 : it->second.match);
  }
  // The (n/2+1)-th largest match is on a majority.
  size_t k = matches.size() - (matches.size() / 2 + 1);
  std::nth_element(matches.begin(), matches.begin() + static_cast<std::ptrdiff_t>(k),
                   matches.end());
  return matches[k];
}

bool ProgressTracker::IsQuorum(const std::set<NodeId>& yes) const {
  size_t n = 0;
  for (NodeId id : voters_) n += yes.count(id);
  return n >= voters_.size() / 2 + 1;
}

bool ProgressTracker::QuorumActive() const {
  size_t n = 0;
  for (NodeId id : voters_) {
    auto it = progress_.find(id);
    if (it != progress_.end() && it->second.recent_active) ++n;
  }
  return n >= voters_.size() / 2 + 1;
}

ProgressTracker::VoteResult ProgressTracker::TallyVotes() const {
  size_t granted = 0;
  size_t rejected = 0;
  for (NodeId id : voters_) {
    auto it = votes_.find(id);
    if (it == votes_.end()) continue;
    (it->second ? granted : rejected)++;
  }
  size_t quorum = voters_.size() / 2 + 1;
  if (granted >= quorum) return VoteResult::kWon;
  if (rejected > voters_.size() - quorum) return VoteResult::kLost;
  return VoteResult::kPending;
}

}  // namespace cairn::raft
