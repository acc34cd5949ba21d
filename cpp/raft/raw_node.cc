// RawNode: the Ready/Advance protocol around the Raft state machine.
#include <utility>

#include "raft/raft.h"
#include "raft/raft_core.h"

namespace cairn::raft {

RawNode::RawNode(std::unique_ptr<Raft> raft) : raft_(std::move(raft)) {
  prev_soft_ = raft_->GetSoftState();
  prev_hard_ = raft_->GetHardState();
}

RawNode::~RawNode() = default;

Result<std::unique_ptr<RawNode>> RawNode::Create(const Config& config, const Storage* storage) {
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<Raft> raft, Raft::Create(config, storage));
  return std::unique_ptr<RawNode>(new RawNode(std::move(raft)));
}

NodeId RawNode::id() const {
  return raft_->id();
}

void RawNode::Tick() {
  raft_->Tick();
}

Status RawNode::Campaign() {
  return raft_->Step(Message{.type = MessageType::kHup, .from = raft_->id()});
}

Status RawNode::Propose(std::string data) {
  Message m{.type = MessageType::kPropose, .from = raft_->id()};
  m.entries.push_back(Entry{.data = std::move(data)});
  return raft_->Step(std::move(m));
}

Status RawNode::ProposeBatch(std::vector<std::string> batch) {
  if (batch.empty()) return Status::Ok();
  Message m{.type = MessageType::kPropose, .from = raft_->id()};
  m.entries.reserve(batch.size());
  for (std::string& data : batch) m.entries.push_back(Entry{.data = std::move(data)});
  return raft_->Step(std::move(m));
}

Status RawNode::ProposeConfChange(const ConfChange& change) {
  if (raft_->role() == StateRole::kLeader && raft_->pending_conf_index() > raft_->log().applied()) {
    return ErrProposalDropped();
  }
  Message m{.type = MessageType::kPropose, .from = raft_->id()};
  m.entries.push_back(Entry{.type = EntryType::kConfChange, .data = EncodeConfChange(change)});
  return raft_->Step(std::move(m));
}

Result<ConfState> RawNode::ApplyConfChange(const ConfChange& change) {
  return raft_->ApplyConfChange(change);
}

Status RawNode::Step(Message message) {
  switch (message.type) {
    case MessageType::kHup:
    case MessageType::kBeat:
    case MessageType::kUnreachable:
    case MessageType::kSnapshotStatus:
    case MessageType::kCheckQuorum:
      return InvalidArgument("raft: local message type " +
                             std::string(MessageTypeName(message.type)) + " from the network");
    default: break;
  }
  // Messages from members we do not know are still stepped: a new member learns the
  // membership from the leader's log or snapshot. Responses from unknown members are
  // dropped inside (no progress to update).
  return raft_->Step(std::move(message));
}

void RawNode::ReadIndex(std::string ctx) {
  raft_
      ->Step(
          Message{.type = MessageType::kReadIndex, .from = raft_->id(), .context = std::move(ctx)})
      .IgnoreError();  // dropped without a leader; the caller times out and retries
}

void RawNode::TransferLeader(NodeId transferee) {
  raft_->Step(Message{.type = MessageType::kTransferLeader, .from = transferee, .to = raft_->id()})
      .IgnoreError();
}

void RawNode::ReportUnreachable(NodeId id) {
  raft_->Step(Message{.type = MessageType::kUnreachable, .from = id}).IgnoreError();
}

void RawNode::ReportSnapshot(NodeId id, SnapshotStatus status) {
  raft_
      ->Step(Message{.type = MessageType::kSnapshotStatus,
                     .from = id,
                     .reject = status == SnapshotStatus::kFailure})
      .IgnoreError();
}

bool RawNode::HasReady() const {
  const Raft& r = *raft_;
  if (r.GetSoftState() != prev_soft_) return true;
  HardState hs = r.GetHardState();
  if (!hs.IsEmpty() && hs != prev_hard_) return true;
  if (r.log().UnstableSnapshot()) return true;
  if (!r.log().UnstableEntries().empty()) return true;
  if (r.log().HasNextCommittedEntries()) return true;
  return r.HasOutput();
}

Ready RawNode::GetReady() {
  Raft& r = *raft_;
  Ready rd;
  SoftState soft = r.GetSoftState();
  if (soft != prev_soft_) {
    rd.soft_state = soft;
    prev_soft_ = soft;
  }
  HardState hard = r.GetHardState();
  if (!hard.IsEmpty() && hard != prev_hard_) {
    rd.hard_state = hard;
    // A commit-only change needs no sync: the commit index can be re-learned.
    rd.must_sync = hard.term != prev_hard_.term || hard.vote != prev_hard_.vote;
    prev_hard_ = hard;
  }
  rd.entries = r.log().UnstableEntries();
  if (r.log().UnstableSnapshot()) rd.snapshot = *r.log().UnstableSnapshot();
  rd.committed_entries = r.log().NextCommittedEntries();
  rd.messages = std::move(r.messages());
  r.messages().clear();
  rd.messages_after_persist = std::move(r.messages_after_persist());
  r.messages_after_persist().clear();
  rd.read_states = std::move(r.read_states());
  r.read_states().clear();
  if (!rd.entries.empty() || !rd.snapshot.IsEmpty()) rd.must_sync = true;

  ready_outstanding_ = true;
  ready_last_entry_.reset();
  if (!rd.entries.empty()) ready_last_entry_ = {rd.entries.back().index, rd.entries.back().term};
  ready_snapshot_index_ = rd.snapshot.metadata.index;
  ready_last_committed_ = rd.committed_entries.empty() ? 0 : rd.committed_entries.back().index;
  return rd;
}

void RawNode::Advance() {
  if (!ready_outstanding_) return;
  ready_outstanding_ = false;
  Raft& r = *raft_;
  if (ready_snapshot_index_ != 0) {
    r.log().StableSnapTo(ready_snapshot_index_);
    // The caller installed the snapshot into its state machine.
    if (r.log().applied() < ready_snapshot_index_) {
      r.log().set_applied(ready_snapshot_index_);
    }
  }
  if (ready_last_entry_) {
    r.log().StableTo(ready_last_entry_->first, ready_last_entry_->second);
    r.OnPersisted(ready_last_entry_->first, ready_last_entry_->second);
  }
  if (ready_last_committed_ != 0) r.log().AppliedTo(ready_last_committed_);
}

RaftStatus RawNode::GetStatus() const {
  const Raft& r = *raft_;
  RaftStatus s;
  s.id = r.id();
  s.hard_state = r.GetHardState();
  s.soft_state = r.GetSoftState();
  s.applied = r.log().applied();
  s.last_index = r.log().LastIndex();
  s.lead_transferee = r.lead_transferee();
  if (r.role() == StateRole::kLeader) s.progress = r.tracker().progress();
  return s;
}

}  // namespace cairn::raft
