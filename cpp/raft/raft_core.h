// Raft: the consensus state machine itself, one Step function per role. Internal to the
// library and its tests; servers use RawNode (raft.h).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "raft/progress.h"
#include "raft/raft.h"
#include "raft/raft_log.h"
#include "raft/storage.h"
#include "raft/types.h"

namespace cairn::raft {

// Returned for proposals that cannot be accepted now (no leader, transfer in progress,
// removed member, conf change pending); the caller may retry later.
Status ErrProposalDropped();
bool IsProposalDropped(const Status& status);

class Raft {
 public:
  static Result<std::unique_ptr<Raft>> Create(const Config& config, const Storage* storage);

  // Every input, local or from a peer, enters here. Figure 2's "Rules for Servers: all
  // servers" (a higher term makes us follower) are applied first, then the role's step.
  Status Step(Message m);
  void Tick();

  // The caller persisted entries up to (index, term): a leader counts its own copy now.
  void OnPersisted(uint64_t index, uint64_t term);
  Result<ConfState> ApplyConfChange(const ConfChange& change);

  void BecomeFollower(uint64_t term, NodeId lead);
  void BecomePreCandidate();
  void BecomeCandidate();
  void BecomeLeader();

  NodeId id() const { return id_; }
  uint64_t term() const { return term_; }
  NodeId vote() const { return vote_; }
  NodeId lead() const { return lead_; }
  StateRole role() const { return role_; }
  NodeId lead_transferee() const { return lead_transferee_; }
  uint64_t pending_conf_index() const { return pending_conf_index_; }
  int election_elapsed() const { return election_elapsed_; }
  int randomized_election_timeout() const { return randomized_election_timeout_; }
  RaftLog& log() { return log_; }
  const RaftLog& log() const { return log_; }
  ProgressTracker& tracker() { return tracker_; }
  const ProgressTracker& tracker() const { return tracker_; }
  HardState GetHardState() const { return {term_, vote_, log_.committed()}; }
  SoftState GetSoftState() const { return {lead_, role_}; }
  // Whether this member may campaign: a voter of the current membership.
  bool Promotable() const { return tracker_.IsVoter(id_); }

  // Output queues, drained into each Ready.
  std::vector<Message>& messages() { return msgs_; }
  std::vector<Message>& messages_after_persist() { return msgs_after_persist_; }
  std::vector<ReadState>& read_states() { return read_states_; }
  bool HasOutput() const {
    return !msgs_.empty() || !msgs_after_persist_.empty() || !read_states_.empty();
  }
  std::vector<Message> TakeMessages();

 private:
  enum class CampaignType { kPreElection, kElection, kTransfer };
  struct PendingRead {
    NodeId from;
    std::string ctx;
  };
  // One heartbeat round confirming leadership for a batch of reads (Section 6.4 of the
  // thesis): every read in it is served at `index` once a quorum acknowledged the round.
  struct ReadRound {
    uint64_t id;
    uint64_t index;
    std::vector<PendingRead> reads;
    std::set<NodeId> acks;
  };

  Raft(const Config& config, const Storage* storage);

  Status StepLeader(Message& m);
  Status StepCandidate(Message& m);
  Status StepFollower(Message& m);

  void Reset(uint64_t term);
  void ResetRandomizedElectionTimeout();
  void TickElection();
  void TickHeartbeat();
  void Hup(CampaignType type);
  void Campaign(CampaignType type);
  void HandleVoteRequest(const Message& m);
  void HandleAppendEntries(const Message& m);
  void HandleHeartbeat(const Message& m);
  void HandleSnapshot(const Message& m);
  void HandleAppendResponse(const Message& m, Progress* pr);
  void HandleHeartbeatResponse(const Message& m, Progress* pr);
  void HandleTransferLeader(const Message& m, Progress* pr);
  bool Restore(const Snapshot& snapshot);

  void AppendEntries(std::vector<Entry>& entries);
  bool MaybeCommit();
  // Leader: the commit index moved; release what waited for it and tell followers.
  void OnCommitAdvanced();
  bool MaybeSendAppend(NodeId to, bool send_if_empty);
  bool SendSnapshot(NodeId to, Progress* pr);
  void BroadcastAppend();
  void BroadcastHeartbeat();
  void SendHeartbeat(NodeId to, const std::string& ctx);
  void SendTimeoutNow(NodeId to);
  void AbortLeaderTransfer() { lead_transferee_ = kNone; }
  bool HasUnappliedConfChange() const;
  bool CommittedEntryInCurrentTerm() const;

  void HandleReadIndexAtLeader(const Message& m);
  void StartReadRound();
  void MaybeCompleteReadRound();
  void RespondToRead(const PendingRead& read, uint64_t index);

  void Send(Message m);
  uint64_t NextRandom();

  const NodeId id_;
  const int election_timeout_;
  const int heartbeat_timeout_;
  const bool check_quorum_;
  const bool pre_vote_;
  const uint64_t max_size_per_msg_;
  uint64_t rng_state_;

  // Figure 2, persistent state on all servers (with log_): currentTerm, votedFor.
  uint64_t term_ = 0;
  NodeId vote_ = kNone;
  RaftLog log_;

  StateRole role_ = StateRole::kFollower;
  NodeId lead_ = kNone;
  ProgressTracker tracker_;
  // Leader: a conf change at an index above applied is pending; at most one may be.
  uint64_t pending_conf_index_ = 0;
  NodeId lead_transferee_ = kNone;

  // Ticks since the last election timeout reset (followers: since hearing from the leader).
  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_election_timeout_ = 0;

  // Reads: requests before the first commit of this term wait in pending_reads_; then
  // they queue in read_waiting_ for the next round; one round is in flight at a time.
  std::vector<Message> pending_reads_;
  std::vector<PendingRead> read_waiting_;
  std::optional<ReadRound> read_round_;
  uint64_t read_round_seq_ = 0;

  std::vector<Message> msgs_;
  std::vector<Message> msgs_after_persist_;
  std::vector<ReadState> read_states_;
};

}  // namespace cairn::raft
