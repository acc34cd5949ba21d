// The public face of cairn::raft: configuration, Ready batches and RawNode, the object a
// server drives.
//
// RawNode does no I/O, keeps no clock and starts no thread. The caller:
//   1. feeds it input: Tick() at a fixed interval, Step() for every message from a peer,
//      Propose/ProposeConfChange/ReadIndex/TransferLeader for client requests, and
//      ReportUnreachable/ReportSnapshot for what the transport observed;
//   2. when HasReady(), takes GetReady() and handles it in this order:
//        a. send `messages` (these may go out before anything is persisted),
//        b. persist `snapshot` (if any), then `entries` and `hard_state`, durably (one
//           synced write),
//        c. send `messages_after_persist` (only now),
//        d. install `snapshot` into the state machine if any, then apply
//           `committed_entries` in order (calling ApplyConfChange for conf change entries),
//        e. serve `read_states` once applied >= their index;
//   3. calls Advance(). Between GetReady() and Advance() only ApplyConfChange may be called.
//
// Which messages may precede persistence, and why:
//   - In `messages`: a leader's appends, heartbeats and snapshots (the leader counts its own
//     copy of an entry towards commit only after Advance confirms it is durable, so sending
//     early cannot commit anything that a crash could lose - Raft thesis 10.2.1); pre-votes
//     (they change no state); forwarded proposals, reads and transfers; read index and
//     heartbeat responses; TimeoutNow.
//   - In `messages_after_persist`: vote requests (the candidate's own vote and new term must
//     be durable before anyone can elect it), vote and pre-vote responses (a granted vote
//     must survive a crash, or a member could vote twice in one term) and append responses
//     (an acknowledged entry counts towards commit, so it must be durable).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "raft/progress.h"
#include "raft/storage.h"
#include "raft/types.h"

namespace cairn::raft {

class Raft;

struct Config {
  // This member's id; must not be kNone.
  NodeId id = kNone;
  // Ticks without hearing from a leader before a follower campaigns. The actual timeout is
  // drawn from (election_tick, 2 * election_tick) by a PRNG seeded with `seed`.
  int election_tick = 10;
  // Ticks between a leader's heartbeats. Must be less than election_tick.
  int heartbeat_tick = 1;
  // Seed of the PRNG for election timeouts; the same seed gives the same schedule.
  uint64_t seed = 1;
  // Index the caller's state machine has applied (on restart); 0 for a fresh start.
  uint64_t applied = 0;
  // Bound on the bytes of entries in one append message (at least one entry is sent).
  uint64_t max_size_per_msg = 1 << 20;
  // Bound on append messages in flight to one follower in replicate state.
  size_t max_inflight_msgs = 256;
  // Bound on the bytes of committed entries in one Ready.
  uint64_t max_committed_size_per_ready = 64 << 20;
  // A leader steps down when it has not heard from a quorum within an election timeout,
  // and members ignore votes while they hear from a leader (leader lease).
  bool check_quorum = true;
  // Run a pre-vote round before a real election, so a member that was partitioned away does
  // not raise the term and depose a healthy leader when it returns (thesis 9.6).
  bool pre_vote = true;

  Status Validate() const;
};

enum class StateRole : uint8_t { kFollower, kCandidate, kLeader, kPreCandidate };
std::string_view StateRoleName(StateRole role);

struct SoftState {
  NodeId lead = kNone;
  StateRole role = StateRole::kFollower;
  friend bool operator==(const SoftState&, const SoftState&) = default;
};

// A linearizable read may be served once the state machine has applied `index`.
struct ReadState {
  uint64_t index = 0;
  std::string request_ctx;
  friend bool operator==(const ReadState&, const ReadState&) = default;
};

enum class SnapshotStatus : uint8_t { kFinish, kFailure };

struct Ready {
  // Set when leader or role changed since the last Ready. Not persisted.
  std::optional<SoftState> soft_state;
  // Set when term, vote or commit changed; persist with `entries`.
  std::optional<HardState> hard_state;
  // Entries to append to stable storage (replacing any stored entries at the same indexes).
  std::vector<Entry> entries;
  // A snapshot to persist and install, when not IsEmpty().
  Snapshot snapshot;
  // Committed entries to apply, in order. They may include entries of `entries` above: apply
  // only after persisting.
  std::vector<Entry> committed_entries;
  // Messages to send at once (before persisting), see the top of this file.
  std::vector<Message> messages;
  // Messages to send only after hard_state, entries and snapshot are durable.
  std::vector<Message> messages_after_persist;
  std::vector<ReadState> read_states;
  // Whether the write of hard_state/entries must be synced (false when only commit moved).
  bool must_sync = false;
};

// A snapshot of the state for monitoring and tests.
struct RaftStatus {
  NodeId id = kNone;
  HardState hard_state;
  SoftState soft_state;
  uint64_t applied = 0;
  uint64_t last_index = 0;
  NodeId lead_transferee = kNone;
  std::map<NodeId, Progress> progress;  // leader only
};

// One member's Raft state machine behind the Ready/Advance protocol.
// Thread safety: none; drive it from one thread.
class RawNode {
 public:
  // Reads the initial state from `storage`, which must outlive the RawNode.
  static Result<std::unique_ptr<RawNode>> Create(const Config& config, const Storage* storage);
  ~RawNode();
  RawNode(const RawNode&) = delete;
  RawNode& operator=(const RawNode&) = delete;

  // Advances the logical clock by one tick (elections, heartbeats, check-quorum).
  void Tick();
  // Starts an election now (pre-vote first when enabled).
  Status Campaign();
  // Proposes data for the log. Fails with FailedPrecondition ("proposal dropped") when there
  // is no known leader, a leader transfer is in progress, or this member was removed.
  // Success means accepted for replication, not committed.
  Status Propose(std::string data);
  // Proposes several entries at once: one append per follower carries them all, which is how
  // a server batches concurrent client requests (group commit).
  Status ProposeBatch(std::vector<std::string> batch);
  // Proposes a membership change. A leader refuses it while another is pending (proposed but
  // not yet applied).
  Status ProposeConfChange(const ConfChange& change);
  // Applies a committed conf change entry's change; call when the entry is applied. Returns
  // the new membership, which the caller persists with the applied index.
  Result<ConfState> ApplyConfChange(const ConfChange& change);
  // Feeds a message from a peer. Local message types are refused.
  Status Step(Message message);
  // Requests a read index; `ctx` (unique per request) comes back in a ReadState. A request
  // is dropped without an answer when there is no leader or leadership changes before it is
  // confirmed: the caller retries after a timeout.
  void ReadIndex(std::string ctx);
  // Asks the leader to hand leadership to `transferee`.
  void TransferLeader(NodeId transferee);
  // The transport could not reach `id`: the leader stops pipelining to it.
  void ReportUnreachable(NodeId id);
  // The transport finished (or failed) sending the snapshot to `id`.
  void ReportSnapshot(NodeId id, SnapshotStatus status);

  bool HasReady() const;
  Ready GetReady();
  // The last Ready was handled (see the top of this file).
  void Advance();

  RaftStatus GetStatus() const;
  NodeId id() const;

  // For tests: the state machine inside.
  Raft& raft() { return *raft_; }

 private:
  explicit RawNode(std::unique_ptr<Raft> raft);

  std::unique_ptr<Raft> raft_;
  SoftState prev_soft_;
  HardState prev_hard_;
  // What the outstanding Ready handed out, to acknowledge in Advance.
  bool ready_outstanding_ = false;
  std::optional<std::pair<uint64_t, uint64_t>> ready_last_entry_;  // index, term
  uint64_t ready_snapshot_index_ = 0;
  uint64_t ready_last_committed_ = 0;
};

}  // namespace cairn::raft
