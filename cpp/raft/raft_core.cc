// The Raft state machine: elections, replication, commitment, reads, transfer, membership.
#include "raft/raft_core.h"

#include <algorithm>
#include <utility>

namespace cairn::raft {
namespace {

// Context of vote requests triggered by a leader transfer: they override leader leases.
constexpr std::string_view kCampaignTransfer = "CampaignTransfer";

// Responses that acknowledge durable state, and vote requests whose sender's own vote must
// be durable first: sent only after the Ready is persisted (see raft.h).
bool SentAfterPersist(MessageType t) {
  switch (t) {
    case MessageType::kAppendResponse:
    case MessageType::kVote:
    case MessageType::kVoteResponse:
    case MessageType::kPreVoteResponse: return true;
    default: return false;
  }
}

MessageType VoteResponseType(MessageType t) {
  return t == MessageType::kVote ? MessageType::kVoteResponse : MessageType::kPreVoteResponse;
}

std::string EncodeRoundId(uint64_t id) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>(id >> (8 * i));
  return out;
}

std::optional<uint64_t> DecodeRoundId(const std::string& ctx) {
  if (ctx.size() != 8) return std::nullopt;
  uint64_t id = 0;
  for (int i = 0; i < 8; ++i) {
    id |= static_cast<uint64_t>(static_cast<uint8_t>(ctx[static_cast<size_t>(i)])) << (8 * i);
  }
  return id;
}

}  // namespace

Status ErrProposalDropped() {
  return FailedPrecondition("raft proposal dropped");
}
bool IsProposalDropped(const Status& s) {
  return s.code() == Code::kFailedPrecondition && s.message() == "raft proposal dropped";
}

std::string_view StateRoleName(StateRole role) {
  switch (role) {
    case StateRole::kFollower: return "follower";
    case StateRole::kCandidate: return "candidate";
    case StateRole::kLeader: return "leader";
    case StateRole::kPreCandidate: return "pre-candidate";
  }
  return "unknown";
}

Status Config::Validate() const {
  if (id == kNone) return InvalidArgument("raft: config id must not be 0");
  if (heartbeat_tick <= 0) return InvalidArgument("raft: heartbeat_tick must be positive");
  if (election_tick <= heartbeat_tick) {
    return InvalidArgument("raft: election_tick must be greater than heartbeat_tick");
  }
  if (max_inflight_msgs == 0) return InvalidArgument("raft: max_inflight_msgs must be positive");
  return Status::Ok();
}

Raft::Raft(const Config& config, const Storage* storage)
    : id_(config.id),
      election_timeout_(config.election_tick),
      heartbeat_timeout_(config.heartbeat_tick),
      check_quorum_(config.check_quorum),
      pre_vote_(config.pre_vote),
      max_size_per_msg_(config.max_size_per_msg),
      // Mix in the id so members sharing a seed still draw different timeouts.
      rng_state_(config.seed ^ (config.id * 0x9e3779b97f4a7c15ull)),
      log_(storage, config.max_committed_size_per_ready),
      tracker_(config.max_inflight_msgs) {}

Result<std::unique_ptr<Raft>> Raft::Create(const Config& config, const Storage* storage) {
  CAIRN_RETURN_IF_ERROR(config.Validate());
  if (storage == nullptr) return InvalidArgument("raft: storage is required");
  CAIRN_ASSIGN_OR_RETURN(InitialState init, storage->GetInitialState());
  std::unique_ptr<Raft> r(new Raft(config, storage));
  r->tracker_.Reset(init.conf_state, r->log_.LastIndex() + 1);
  const HardState& hs = init.hard_state;
  if (!hs.IsEmpty()) {
    if (hs.commit > r->log_.LastIndex()) {
      return DataLoss("raft: hard state commit " + std::to_string(hs.commit) +
                      " is beyond the last index " + std::to_string(r->log_.LastIndex()));
    }
    r->log_.CommitTo(hs.commit);
    r->term_ = hs.term;
    r->vote_ = hs.vote;
  }
  if (config.applied > 0) {
    if (config.applied > r->log_.committed()) {
      return InvalidArgument("raft: applied index is beyond the commit index");
    }
    r->log_.set_applied(std::max(config.applied, r->log_.applied()));
  }
  r->BecomeFollower(r->term_, kNone);
  return r;
}

uint64_t Raft::NextRandom() {
  // splitmix64: small, fast and fully determined by the seed.
  uint64_t z = (rng_state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void Raft::ResetRandomizedElectionTimeout() {
  // Section 5.2: randomized timeouts make split votes rare. Drawn from (timeout, 2 * timeout)
  // rather than etcd's [timeout, 2 * timeout): followers that took the leader's last heartbeat
  // together tick out of phase by up to one tick, so the first to time out at exactly
  // `timeout` found the others still inside their leader lease, ignoring its pre-vote, and
  // the election took a second round (a new leader 2.1 s after the leader's kill, against
  // 1.0-1.3 s otherwise). One tick above the lease, every other follower has left it.
  const int spread = std::max(1, election_timeout_ - 1);
  randomized_election_timeout_ =
      election_timeout_ + 1 + static_cast<int>(NextRandom() % static_cast<uint64_t>(spread));
}

void Raft::Send(Message m) {
  m.from = m.type == MessageType::kTransferLeader ? m.from : id_;
  switch (m.type) {
    case MessageType::kVote:
    case MessageType::kVoteResponse:
    case MessageType::kPreVote:
    case MessageType::kPreVoteResponse:
      // The caller set the term: the proposed term for requests, and for responses the term
      // the answer is about.
      break;
    case MessageType::kPropose:
    case MessageType::kReadIndex:
    case MessageType::kTransferLeader:
      // Forwarded requests carry no term: the leader treats them as its own input.
      m.term = 0;
      break;
    default: m.term = term_;
  }
  if (SentAfterPersist(m.type)) {
    msgs_after_persist_.push_back(std::move(m));
  } else {
    msgs_.push_back(std::move(m));
  }
}

std::vector<Message> Raft::TakeMessages() {
  std::vector<Message> out = std::move(msgs_);
  msgs_.clear();
  for (Message& m : msgs_after_persist_) out.push_back(std::move(m));
  msgs_after_persist_.clear();
  return out;
}

void Raft::Reset(uint64_t term) {
  if (term_ != term) {
    term_ = term;
    vote_ = kNone;
  }
  lead_ = kNone;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  ResetRandomizedElectionTimeout();
  AbortLeaderTransfer();
  tracker_.ResetVotes();
  uint64_t next = log_.LastIndex() + 1;
  for (auto& [id, pr] : tracker_.progress()) {
    bool learner = pr.is_learner;
    pr = Progress(pr.inflights.capacity());
    pr.next = next;
    pr.is_learner = learner;
  }
  pending_conf_index_ = 0;
  pending_reads_.clear();
  read_waiting_.clear();
  read_round_.reset();
}

void Raft::BecomeFollower(uint64_t term, NodeId lead) {
  Reset(term);
  lead_ = lead;
  role_ = StateRole::kFollower;
}

void Raft::BecomePreCandidate() {
  if (role_ == StateRole::kLeader) Fatal("invalid transition leader -> pre-candidate");
  // A pre-candidate changes neither term nor vote: pre-vote is a poll, not an election.
  tracker_.ResetVotes();
  lead_ = kNone;
  role_ = StateRole::kPreCandidate;
}

void Raft::BecomeCandidate() {
  if (role_ == StateRole::kLeader) Fatal("invalid transition leader -> candidate");
  // Figure 2, candidates: increment currentTerm, vote for self.
  Reset(term_ + 1);
  vote_ = id_;
  role_ = StateRole::kCandidate;
}

void Raft::BecomeLeader() {
  if (role_ == StateRole::kFollower) Fatal("invalid transition follower -> leader");
  Reset(term_);
  lead_ = id_;
  role_ = StateRole::kLeader;
  if (Progress* self = tracker_.Get(id_)) {
    self->BecomeReplicate();
    self->recent_active = true;
  }
  // Any conf change in the log may be unapplied: treat the log as possibly holding one.
  pending_conf_index_ = log_.LastIndex();
  // Section 5.4.2 / 8: an entry of the new term lets the leader commit earlier entries and
  // learn the commit index before serving reads.
  std::vector<Entry> empty(1);
  AppendEntries(empty);
}

void Raft::Tick() {
  if (role_ == StateRole::kLeader) {
    TickHeartbeat();
  } else {
    TickElection();
  }
}

void Raft::TickElection() {
  // Saturates: a learner never resets it, and it only matters up to the timeout.
  if (election_elapsed_ < 1 << 30) ++election_elapsed_;
  // Figure 2, followers: if the election timeout elapses without hearing from a leader or
  // granting a vote, convert to candidate.
  if (Promotable() && election_elapsed_ >= randomized_election_timeout_) {
    election_elapsed_ = 0;
    Step(Message{.type = MessageType::kHup, .from = id_}).IgnoreError();
  }
}

void Raft::TickHeartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= election_timeout_) {
    election_elapsed_ = 0;
    if (check_quorum_) {
      Step(Message{.type = MessageType::kCheckQuorum, .from = id_}).IgnoreError();
    }
    // A transfer that did not finish within an election timeout is abandoned.
    if (role_ == StateRole::kLeader) AbortLeaderTransfer();
  }
  if (role_ != StateRole::kLeader) return;
  if (heartbeat_elapsed_ >= heartbeat_timeout_) {
    heartbeat_elapsed_ = 0;
    Step(Message{.type = MessageType::kBeat, .from = id_}).IgnoreError();
  }
}

Status Raft::Step(Message m) {
  if (m.term == 0) {
    // Local input or a forwarded request: no term to check.
  } else if (m.term > term_) {
    if (m.type == MessageType::kVote || m.type == MessageType::kPreVote) {
      bool force = m.context == kCampaignTransfer;
      // Leader lease (thesis 4.2.3): while we hear from a leader, ignore disruptive votes.
      bool in_lease = check_quorum_ && lead_ != kNone && election_elapsed_ < election_timeout_;
      if (!force && in_lease) return Status::Ok();
    }
    if (m.type == MessageType::kPreVote) {
      // Never change term for a pre-vote.
    } else if (m.type == MessageType::kPreVoteResponse && !m.reject) {
      // A granted pre-vote carries the term we would campaign at; we take it only when the
      // real election starts.
    } else if (m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat ||
               m.type == MessageType::kSnapshot) {
      // Figure 2, all servers: if a message carries a higher term, set currentTerm and
      // convert to follower; these come from the leader of that term.
      BecomeFollower(m.term, m.from);
    } else {
      BecomeFollower(m.term, kNone);
    }
  } else if (m.term < term_) {
    if ((check_quorum_ || pre_vote_) &&
        (m.type == MessageType::kHeartbeat || m.type == MessageType::kAppend)) {
      // A stale leader (e.g. back from a partition) learns our term from the response and
      // steps down; otherwise, with leases or pre-vote, it could never be told.
      Send(Message{.type = MessageType::kAppendResponse, .to = m.from});
    } else if (m.type == MessageType::kPreVote) {
      Send(Message{
          .type = MessageType::kPreVoteResponse, .to = m.from, .term = term_, .reject = true});
    }
    // Figure 2: reply false if term < currentTerm (otherwise ignore stale messages).
    return Status::Ok();
  }

  switch (m.type) {
    case MessageType::kHup:
      Hup(pre_vote_ ? CampaignType::kPreElection : CampaignType::kElection);
      return Status::Ok();
    case MessageType::kVote:
    case MessageType::kPreVote: HandleVoteRequest(m); return Status::Ok();
    default: break;
  }
  switch (role_) {
    case StateRole::kLeader: return StepLeader(m);
    case StateRole::kCandidate:
    case StateRole::kPreCandidate: return StepCandidate(m);
    case StateRole::kFollower: return StepFollower(m);
  }
  return Status::Ok();
}

void Raft::HandleVoteRequest(const Message& m) {
  // Figure 2, RequestVote receiver: grant if votedFor is null or the candidate, and the
  // candidate's log is at least as up-to-date (5.4.1). A member that knows a leader of this
  // term does not vote for anyone else. Pre-votes for a future term are granted on the log
  // alone: they change nothing.
  bool can_vote = vote_ == m.from || (vote_ == kNone && lead_ == kNone) ||
                  (m.type == MessageType::kPreVote && m.term > term_);
  if (can_vote && log_.IsUpToDate(m.index, m.log_term)) {
    Send(Message{.type = VoteResponseType(m.type), .to = m.from, .term = m.term});
    if (m.type == MessageType::kVote) {
      election_elapsed_ = 0;
      vote_ = m.from;
    }
  } else {
    Send(Message{.type = VoteResponseType(m.type), .to = m.from, .term = term_, .reject = true});
  }
}

void Raft::Hup(CampaignType type) {
  if (role_ == StateRole::kLeader) return;
  if (!Promotable()) return;
  // A committed but unapplied conf change may change who votes: wait until it is applied.
  if (HasUnappliedConfChange()) return;
  Campaign(type);
}

bool Raft::HasUnappliedConfChange() const {
  if (log_.committed() <= log_.applied()) return false;
  uint64_t lo = std::max(log_.applied() + 1, log_.FirstIndex());
  auto ents = log_.Slice(lo, log_.committed() + 1, kNoLimit);
  if (!ents.ok()) return false;
  for (const Entry& e : *ents) {
    if (e.type == EntryType::kConfChange) return true;
  }
  return false;
}

void Raft::Campaign(CampaignType type) {
  MessageType vote_type;
  uint64_t vote_term;
  if (type == CampaignType::kPreElection) {
    BecomePreCandidate();
    vote_type = MessageType::kPreVote;
    vote_term = term_ + 1;
  } else {
    BecomeCandidate();
    vote_type = MessageType::kVote;
    vote_term = term_;
  }
  tracker_.RecordVote(id_, true);
  if (tracker_.TallyVotes() == ProgressTracker::VoteResult::kWon) {
    // A single voter wins at once.
    if (type == CampaignType::kPreElection) {
      Campaign(CampaignType::kElection);
    } else {
      BecomeLeader();
    }
    return;
  }
  for (NodeId voter : tracker_.voters()) {
    if (voter == id_) continue;
    Message m{.type = vote_type,
              .to = voter,
              .term = vote_term,
              .log_term = log_.LastTerm(),
              .index = log_.LastIndex()};
    if (type == CampaignType::kTransfer) m.context = std::string(kCampaignTransfer);
    Send(std::move(m));
  }
}

Status Raft::StepFollower(Message& m) {
  switch (m.type) {
    case MessageType::kPropose:
      if (lead_ == kNone) return ErrProposalDropped();
      m.to = lead_;
      Send(std::move(m));
      return Status::Ok();
    case MessageType::kAppend:
      election_elapsed_ = 0;
      lead_ = m.from;
      HandleAppendEntries(m);
      return Status::Ok();
    case MessageType::kHeartbeat:
      election_elapsed_ = 0;
      lead_ = m.from;
      HandleHeartbeat(m);
      return Status::Ok();
    case MessageType::kSnapshot:
      election_elapsed_ = 0;
      lead_ = m.from;
      HandleSnapshot(m);
      return Status::Ok();
    case MessageType::kTransferLeader:
      if (lead_ == kNone) return ErrProposalDropped();
      m.to = lead_;
      Send(std::move(m));
      return Status::Ok();
    case MessageType::kTimeoutNow:
      // Leader transfer: campaign at once, skipping pre-vote, overriding leases.
      Hup(CampaignType::kTransfer);
      return Status::Ok();
    case MessageType::kReadIndex:
      if (lead_ == kNone) return ErrProposalDropped();
      m.to = lead_;
      Send(std::move(m));
      return Status::Ok();
    case MessageType::kReadIndexResponse:
      read_states_.push_back(ReadState{m.index, std::move(m.context)});
      return Status::Ok();
    default: return Status::Ok();
  }
}

Status Raft::StepCandidate(Message& m) {
  MessageType my_response = role_ == StateRole::kPreCandidate ? MessageType::kPreVoteResponse
                                                              : MessageType::kVoteResponse;
  switch (m.type) {
    case MessageType::kPropose: return ErrProposalDropped();
    case MessageType::kAppend:
      // Figure 2, candidates: if AppendEntries is received from a new leader, convert to
      // follower (its term is >= ours, or Step would have dropped it).
      BecomeFollower(m.term, m.from);
      HandleAppendEntries(m);
      return Status::Ok();
    case MessageType::kHeartbeat:
      BecomeFollower(m.term, m.from);
      HandleHeartbeat(m);
      return Status::Ok();
    case MessageType::kSnapshot:
      BecomeFollower(m.term, m.from);
      HandleSnapshot(m);
      return Status::Ok();
    case MessageType::kReadIndex:
    case MessageType::kTransferLeader: return ErrProposalDropped();
    default: break;
  }
  if (m.type != my_response) return Status::Ok();
  tracker_.RecordVote(m.from, !m.reject);
  switch (tracker_.TallyVotes()) {
    case ProgressTracker::VoteResult::kWon:
      // Figure 2, candidates: votes from a majority: become leader.
      if (role_ == StateRole::kPreCandidate) {
        Campaign(CampaignType::kElection);
      } else {
        BecomeLeader();
        BroadcastAppend();
      }
      break;
    case ProgressTracker::VoteResult::kLost:
      // The rejections told us the term (or our pre-vote failed): wait as a follower.
      BecomeFollower(term_, kNone);
      break;
    case ProgressTracker::VoteResult::kPending: break;
  }
  return Status::Ok();
}

Status Raft::StepLeader(Message& m) {
  switch (m.type) {
    case MessageType::kBeat: BroadcastHeartbeat(); return Status::Ok();
    case MessageType::kCheckQuorum:
      // Check quorum (thesis 6.2): step down if a majority was not heard from lately, so a
      // partitioned leader stops serving and clients find the new one.
      if (!tracker_.QuorumActive()) {
        BecomeFollower(term_, kNone);
        return Status::Ok();
      }
      for (auto& [id, pr] : tracker_.progress()) {
        if (id != id_) pr.recent_active = false;
      }
      return Status::Ok();
    case MessageType::kPropose: {
      if (m.entries.empty()) return InvalidArgument("raft: proposal without entries");
      // A removed leader, or one handing over leadership, takes no new entries.
      if (!tracker_.IsMember(id_)) return ErrProposalDropped();
      if (lead_transferee_ != kNone) return ErrProposalDropped();
      for (size_t i = 0; i < m.entries.size(); ++i) {
        Entry& e = m.entries[i];
        if (e.type != EntryType::kConfChange) continue;
        if (pending_conf_index_ > log_.applied()) {
          // At most one pending change: this one becomes a no-op entry.
          e = Entry{};
        } else {
          pending_conf_index_ = log_.LastIndex() + i + 1;
        }
      }
      AppendEntries(m.entries);
      BroadcastAppend();
      return Status::Ok();
    }
    case MessageType::kReadIndex: HandleReadIndexAtLeader(m); return Status::Ok();
    default: break;
  }

  Progress* pr = tracker_.Get(m.from);
  if (pr == nullptr) return Status::Ok();
  switch (m.type) {
    case MessageType::kAppendResponse: HandleAppendResponse(m, pr); break;
    case MessageType::kHeartbeatResponse: HandleHeartbeatResponse(m, pr); break;
    case MessageType::kSnapshotStatus:
      if (pr->state != ProgressState::kSnapshot) break;
      if (m.reject) pr->pending_snapshot = 0;  // failed: probe from match
      pr->BecomeProbe();
      // Wait for a heartbeat response before probing, so a failed send is not retried in a
      // tight loop.
      pr->probe_sent = true;
      break;
    case MessageType::kUnreachable:
      // Appends were probably lost: stop pipelining and probe.
      if (pr->state == ProgressState::kReplicate) pr->BecomeProbe();
      break;
    case MessageType::kTransferLeader: HandleTransferLeader(m, pr); break;
    default: break;
  }
  return Status::Ok();
}

void Raft::HandleAppendResponse(const Message& m, Progress* pr) {
  pr->recent_active = true;
  if (m.reject) {
    // Fast back-off: the follower's hint (the last index of its log whose term is <= the
    // term we sent) lets us skip a whole conflicting term per round trip.
    uint64_t next_probe = m.reject_hint;
    if (m.log_term > 0) next_probe = log_.FindConflictByTerm(m.reject_hint, m.log_term).first;
    if (pr->MaybeDecrTo(m.index, next_probe)) {
      if (pr->state == ProgressState::kReplicate) pr->BecomeProbe();
      MaybeSendAppend(m.from, true);
    }
    return;
  }
  bool was_paused = pr->IsPaused();
  if (pr->MaybeUpdate(m.index) || (pr->match == m.index && pr->state == ProgressState::kProbe)) {
    switch (pr->state) {
      case ProgressState::kProbe: pr->BecomeReplicate(); break;
      case ProgressState::kSnapshot:
        if (pr->match + 1 >= log_.FirstIndex()) {
          // The follower caught up past the snapshot: stream from its log.
          pr->BecomeProbe();
          pr->BecomeReplicate();
        }
        break;
      case ProgressState::kReplicate: pr->inflights.FreeLE(m.index); break;
    }
    if (MaybeCommit()) {
      OnCommitAdvanced();
    } else if (was_paused) {
      MaybeSendAppend(m.from, false);
    }
    // Fill the freed window.
    while (MaybeSendAppend(m.from, false)) {
    }
    if (m.from == lead_transferee_ && pr->match == log_.LastIndex()) SendTimeoutNow(m.from);
  }
}

void Raft::HandleHeartbeatResponse(const Message& m, Progress* pr) {
  pr->recent_active = true;
  pr->probe_sent = false;
  // Appends may have been lost while the window was full: let one more through.
  if (pr->state == ProgressState::kReplicate && pr->inflights.Full()) pr->inflights.FreeFirst();
  if (pr->match < log_.LastIndex() || pr->state == ProgressState::kProbe) {
    MaybeSendAppend(m.from, true);
  }
  if (read_round_ && !m.context.empty()) {
    auto id = DecodeRoundId(m.context);
    if (id && *id == read_round_->id) {
      read_round_->acks.insert(m.from);
      MaybeCompleteReadRound();
    }
  }
}

void Raft::HandleTransferLeader(const Message& m, Progress* pr) {
  if (pr->is_learner) return;  // a learner cannot lead
  NodeId transferee = m.from;
  if (lead_transferee_ != kNone) {
    if (lead_transferee_ == transferee) return;
    AbortLeaderTransfer();
  }
  if (transferee == id_) return;
  // The transfer must finish within an election timeout, or it is abandoned.
  election_elapsed_ = 0;
  lead_transferee_ = transferee;
  if (pr->match == log_.LastIndex()) {
    SendTimeoutNow(transferee);
  } else {
    MaybeSendAppend(transferee, true);
  }
}

void Raft::SendTimeoutNow(NodeId to) {
  Send(Message{.type = MessageType::kTimeoutNow, .to = to});
}

void Raft::HandleAppendEntries(const Message& m) {
  if (m.index < log_.committed()) {
    // Everything up to committed is already here and final: say so.
    Send(Message{.type = MessageType::kAppendResponse, .to = m.from, .index = log_.committed()});
    return;
  }
  // Figure 2, AppendEntries receiver rules 2-5.
  if (auto last = log_.MaybeAppend(m.index, m.log_term, m.commit, m.entries)) {
    Send(Message{.type = MessageType::kAppendResponse, .to = m.from, .index = *last});
    return;
  }
  // Rule 2: reply false if the log has no entry at prevLogIndex with prevLogTerm. Hint the
  // largest index whose term is <= prevLogTerm: entries above it cannot match.
  uint64_t hint = std::min(m.index, log_.LastIndex());
  auto [hint_index, hint_term] = log_.FindConflictByTerm(hint, m.log_term);
  Send(Message{.type = MessageType::kAppendResponse,
               .to = m.from,
               .log_term = hint_term,
               .index = m.index,
               .reject = true,
               .reject_hint = hint_index});
}

void Raft::HandleHeartbeat(const Message& m) {
  // The leader sends commit = min(match, committed), which this log holds.
  log_.CommitTo(m.commit);
  Send(Message{.type = MessageType::kHeartbeatResponse, .to = m.from, .context = m.context});
}

void Raft::HandleSnapshot(const Message& m) {
  if (Restore(m.snapshot)) {
    Send(Message{.type = MessageType::kAppendResponse, .to = m.from, .index = log_.LastIndex()});
  } else {
    Send(Message{.type = MessageType::kAppendResponse, .to = m.from, .index = log_.committed()});
  }
}

bool Raft::Restore(const Snapshot& s) {
  if (s.metadata.index <= log_.committed()) return false;
  if (role_ != StateRole::kFollower) return false;
  if (log_.MatchTerm(s.metadata.index, s.metadata.term)) {
    // We hold the snapshot's last entry: everything up to it is committed; keep our log.
    log_.CommitTo(s.metadata.index);
    return false;
  }
  log_.Restore(s);
  tracker_.Reset(s.metadata.conf_state, log_.LastIndex() + 1);
  return true;
}

void Raft::AppendEntries(std::vector<Entry>& entries) {
  uint64_t last = log_.LastIndex();
  for (size_t i = 0; i < entries.size(); ++i) {
    entries[i].term = term_;
    entries[i].index = last + 1 + i;
  }
  log_.Append(entries);
  // The leader's own copy counts towards commit once persisted: see OnPersisted.
}

void Raft::OnPersisted(uint64_t index, uint64_t term) {
  if (role_ != StateRole::kLeader) return;
  Progress* self = tracker_.Get(id_);
  if (self == nullptr || log_.ZeroTermOnError(index) != term) return;
  if (self->MaybeUpdate(index) && MaybeCommit()) OnCommitAdvanced();
}

bool Raft::MaybeCommit() {
  // Figure 2, leaders: if N > commitIndex, a majority has matchIndex >= N and
  // log[N].term == currentTerm, set commitIndex = N (Figure 8: never count older terms).
  return log_.MaybeCommit(tracker_.QuorumCommitted(), term_);
}

void Raft::OnCommitAdvanced() {
  if (!pending_reads_.empty() && CommittedEntryInCurrentTerm()) {
    std::vector<Message> reads = std::move(pending_reads_);
    pending_reads_.clear();
    for (const Message& m : reads) HandleReadIndexAtLeader(m);
  }
  BroadcastAppend();
}

bool Raft::CommittedEntryInCurrentTerm() const {
  return log_.ZeroTermOnError(log_.committed()) == term_;
}

bool Raft::MaybeSendAppend(NodeId to, bool send_if_empty) {
  Progress* pr = tracker_.Get(to);
  if (pr == nullptr || pr->IsPaused()) return false;
  auto term = log_.Term(pr->next - 1);
  auto ents = log_.EntriesFrom(pr->next, max_size_per_msg_);
  // Even with nothing new to send, tell the follower a commit index it has not heard of.
  bool bump_commit = std::min(log_.committed(), pr->next - 1) > pr->sent_commit;
  if (term.ok() && ents.ok() && ents->empty() && !send_if_empty && !bump_commit) return false;
  if (!term.ok() || !ents.ok()) return SendSnapshot(to, pr);
  size_t n = ents->size();
  uint64_t commit = log_.committed();
  pr->sent_commit = std::max(pr->sent_commit, std::min(commit, pr->next - 1 + n));
  Send(Message{.type = MessageType::kAppend,
               .to = to,
               .log_term = *term,
               .index = pr->next - 1,
               .entries = std::move(ents).value(),
               .commit = commit});
  pr->SentEntries(n);
  return true;
}

bool Raft::SendSnapshot(NodeId to, Progress* pr) {
  // Only to a follower we heard from lately: snapshots are expensive.
  if (!pr->recent_active) return false;
  auto snap = log_.GetSnapshot();
  if (!snap.ok()) {
    if (IsSnapshotTemporarilyUnavailable(snap.status())) return false;
    Fatal("snapshot: " + snap.status().ToString());
  }
  if (snap->IsEmpty()) Fatal("need a non-empty snapshot to send");
  pr->BecomeSnapshot(snap->metadata.index);
  Send(Message{.type = MessageType::kSnapshot, .to = to, .snapshot = std::move(snap).value()});
  return true;
}

void Raft::BroadcastAppend() {
  for (auto& [id, pr] : tracker_.progress()) {
    if (id != id_) MaybeSendAppend(id, true);
  }
}

void Raft::BroadcastHeartbeat() {
  // Heartbeats carry the read round in flight, so a lost round is retried every beat.
  std::string ctx = read_round_ ? EncodeRoundId(read_round_->id) : std::string();
  for (auto& [id, pr] : tracker_.progress()) {
    if (id != id_) SendHeartbeat(id, ctx);
  }
}

void Raft::SendHeartbeat(NodeId to, const std::string& ctx) {
  Progress* pr = tracker_.Get(to);
  // The follower may not have entries up to our commit index yet.
  uint64_t commit = std::min(pr->match, log_.committed());
  pr->sent_commit = std::max(pr->sent_commit, commit);
  Send(Message{.type = MessageType::kHeartbeat, .to = to, .commit = commit, .context = ctx});
}

void Raft::HandleReadIndexAtLeader(const Message& m) {
  // Section 6.4: the read index is only sure to be the cluster's commit index once this
  // leader committed an entry of its own term.
  if (!CommittedEntryInCurrentTerm()) {
    pending_reads_.push_back(m);
    return;
  }
  read_waiting_.push_back(PendingRead{m.from, m.context});
  if (!read_round_) StartReadRound();
}

void Raft::StartReadRound() {
  read_round_ = ReadRound{++read_round_seq_, log_.committed(), std::move(read_waiting_), {id_}};
  read_waiting_.clear();
  MaybeCompleteReadRound();
  if (read_round_) BroadcastHeartbeat();
}

void Raft::MaybeCompleteReadRound() {
  if (!read_round_ || !tracker_.IsQuorum(read_round_->acks)) return;
  ReadRound round = std::move(*read_round_);
  read_round_.reset();
  for (const PendingRead& read : round.reads) RespondToRead(read, round.index);
  // Reads that arrived during the round need a round that started after them.
  if (!read_waiting_.empty()) StartReadRound();
}

void Raft::RespondToRead(const PendingRead& read, uint64_t index) {
  if (read.from == id_ || read.from == kNone) {
    read_states_.push_back(ReadState{index, read.ctx});
  } else {
    Send(Message{.type = MessageType::kReadIndexResponse,
                 .to = read.from,
                 .index = index,
                 .context = read.ctx});
  }
}

Result<ConfState> Raft::ApplyConfChange(const ConfChange& cc) {
  uint64_t next = log_.LastIndex() + 1;
  switch (cc.type) {
    case ConfChangeType::kAddVoter: tracker_.AddVoter(cc.node_id, next); break;
    case ConfChangeType::kAddLearner:
      if (tracker_.IsVoter(cc.node_id) && tracker_.voters().size() == 1) {
        return InvalidArgument("raft: cannot demote the last voter");
      }
      tracker_.AddLearner(cc.node_id, next);
      break;
    case ConfChangeType::kRemoveNode:
      if (tracker_.IsVoter(cc.node_id) && tracker_.voters().size() == 1) {
        return InvalidArgument("raft: cannot remove the last voter");
      }
      tracker_.Remove(cc.node_id);
      break;
    case ConfChangeType::kUpdateNode: break;
  }
  if (role_ == StateRole::kLeader) {
    if (!tracker_.IsVoter(id_)) {
      // A removed (or demoted) leader steps down; the remaining voters elect a new one.
      BecomeFollower(term_, kNone);
    } else {
      if (lead_transferee_ != kNone && !tracker_.IsVoter(lead_transferee_)) {
        AbortLeaderTransfer();
      }
      // The quorum may have shrunk, and new members need the log.
      if (MaybeCommit()) {
        OnCommitAdvanced();
      } else {
        BroadcastAppend();
      }
    }
  }
  return tracker_.GetConfState();
}

}  // namespace cairn::raft
