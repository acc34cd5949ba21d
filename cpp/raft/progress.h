// The leader's view of each member: replication progress, flow control and the membership.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "raft/types.h"

namespace cairn::raft {

// A bounded window of in-flight append messages to one follower, identified by the last
// index each carried. Full() pauses replication until responses free slots.
class Inflights {
 public:
  explicit Inflights(size_t capacity) : capacity_(capacity) {}

  void Add(uint64_t last_index);
  // Frees every message whose last index is <= index (they are acknowledged).
  void FreeLE(uint64_t index);
  // Frees the oldest message: used when a heartbeat response shows the follower is alive
  // although appends went unanswered (probably lost).
  void FreeFirst();
  bool Full() const { return count_ >= capacity_; }
  size_t capacity() const { return capacity_; }
  size_t Count() const { return count_; }
  void Reset() {
    start_ = 0;
    count_ = 0;
  }

 private:
  size_t capacity_;
  // Ring buffer of capacity_ slots.
  std::vector<uint64_t> buffer_;
  size_t start_ = 0;
  size_t count_ = 0;
};

enum class ProgressState : uint8_t {
  // Next is a guess: send one append at a time and wait for its answer.
  kProbe,
  // The follower's log matches up to Match: stream appends optimistically, bounded by
  // Inflights.
  kReplicate,
  // The follower needs a snapshot (its next entry is compacted); send nothing else until
  // the caller reports the snapshot's fate.
  kSnapshot,
};

std::string_view ProgressStateName(ProgressState state);

struct Progress {
  explicit Progress(size_t max_inflight) : inflights(max_inflight) {}

  // Invariant: match < next.
  uint64_t match = 0;
  uint64_t next = 1;
  ProgressState state = ProgressState::kProbe;
  // kSnapshot: index of the snapshot being sent.
  uint64_t pending_snapshot = 0;
  // Heard from since the last check-quorum round.
  bool recent_active = false;
  // kProbe: one append is outstanding; wait for a response or heartbeat response.
  bool probe_sent = false;
  // Highest commit index sent to this follower that it can apply (it commits no further than
  // the entries it holds). An empty append carries a newer commit index when this lags.
  uint64_t sent_commit = 0;
  Inflights inflights;
  bool is_learner = false;

  void BecomeProbe();
  void BecomeReplicate();
  void BecomeSnapshot(uint64_t snapshot_index);
  // An append response acknowledged n: raise match (returns whether it moved) and next.
  bool MaybeUpdate(uint64_t n);
  // The follower rejected an append at `rejected`; match_hint is where it suggests to probe.
  // Returns false when the rejection is stale.
  bool MaybeDecrTo(uint64_t rejected, uint64_t match_hint);
  // An append carrying `count` entries ending at next - 1 + count was sent.
  void SentEntries(size_t count);
  bool IsPaused() const;
};

// Membership plus progress of every member (including the leader itself).
class ProgressTracker {
 public:
  explicit ProgressTracker(size_t max_inflight) : max_inflight_(max_inflight) {}

  // Replaces the membership; progress of new members starts at next_index.
  void Reset(const ConfState& conf, uint64_t next_index);
  ConfState GetConfState() const;

  bool IsVoter(NodeId id) const { return voters_.count(id) != 0; }
  bool IsLearner(NodeId id) const { return learners_.count(id) != 0; }
  bool IsMember(NodeId id) const { return IsVoter(id) || IsLearner(id); }
  const std::set<NodeId>& voters() const { return voters_; }
  const std::set<NodeId>& learners() const { return learners_; }
  Progress* Get(NodeId id);
  std::map<NodeId, Progress>& progress() { return progress_; }
  const std::map<NodeId, Progress>& progress() const { return progress_; }

  // Membership edits for single-step changes; progress of a new member starts at next_index.
  void AddVoter(NodeId id, uint64_t next_index);
  void AddLearner(NodeId id, uint64_t next_index);
  void Remove(NodeId id);

  // The largest index replicated on a majority of voters (by match).
  uint64_t QuorumCommitted() const;
  // Whether the voters in `yes` form a majority.
  bool IsQuorum(const std::set<NodeId>& yes) const;
  // Whether a majority of voters were recently active.
  bool QuorumActive() const;

  // Elections: record a vote once per voter; returns the tally.
  enum class VoteResult { kPending, kWon, kLost };
  void ResetVotes() { votes_.clear(); }
  void RecordVote(NodeId id, bool granted) { votes_.emplace(id, granted); }
  VoteResult TallyVotes() const;

 private:
  size_t max_inflight_;
  std::set<NodeId> voters_;
  std::set<NodeId> learners_;
  std::map<NodeId, Progress> progress_;
  std::map<NodeId, bool> votes_;
};

}  // namespace cairn::raft
