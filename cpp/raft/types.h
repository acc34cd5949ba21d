// Plain data types of the Raft library: log entries, states, membership, snapshots, messages.
//
// These types are the contract between cairn::raft and its users (cpp/storage persists
// Entry, HardState, ConfState and SnapshotMetadata; the peer transport carries Message). They
// are plain structs with no protobuf; each has a compact binary encoding (Encode*/Decode*)
// that is stable: new fields may only be appended.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace cairn::raft {

// Member ids are chosen by the caller; 0 means "nobody" (no vote, no leader).
using NodeId = uint64_t;
inline constexpr NodeId kNone = 0;

enum class EntryType : uint8_t {
  kNormal = 0,      // data is opaque to raft (an application command, or empty)
  kConfChange = 1,  // data is an EncodeConfChange() payload
};

struct Entry {
  uint64_t term = 0;
  uint64_t index = 0;
  EntryType type = EntryType::kNormal;
  std::string data;

  // Size counted against max_size_per_msg and Entries(max_bytes): payload plus a fixed
  // overhead, so that empty entries still count.
  uint64_t ByteSize() const { return data.size() + 24; }

  friend bool operator==(const Entry&, const Entry&) = default;
};

// What must be durable before a member answers a vote or an append (Figure 2 "persistent
// state": currentTerm, votedFor) plus the commit index, which is kept to avoid replaying
// it on restart but is not needed for safety.
struct HardState {
  uint64_t term = 0;
  NodeId vote = kNone;
  uint64_t commit = 0;

  bool IsEmpty() const { return term == 0 && vote == kNone && commit == 0; }
  friend bool operator==(const HardState&, const HardState&) = default;
};

// The membership: voters vote and count for commit; learners only receive the log.
// A node is in at most one of the two lists. Lists are kept sorted.
struct ConfState {
  std::vector<NodeId> voters;
  std::vector<NodeId> learners;

  friend bool operator==(const ConfState&, const ConfState&) = default;
};

enum class ConfChangeType : uint8_t {
  kAddVoter = 0,    // also promotes an existing learner to voter
  kAddLearner = 1,  // adds a learner, or demotes a voter to learner
  kRemoveNode = 2,
  kUpdateNode = 3,  // membership unchanged; context carries the new member data
};

// One single-step membership change, proposed with ProposeConfChange and applied by the
// caller with RawNode::ApplyConfChange when its entry is applied.
struct ConfChange {
  ConfChangeType type = ConfChangeType::kAddVoter;
  NodeId node_id = kNone;
  std::string context;  // opaque to raft (the server stores member URLs here)

  friend bool operator==(const ConfChange&, const ConfChange&) = default;
};

struct SnapshotMetadata {
  uint64_t index = 0;  // last log index the snapshot covers
  uint64_t term = 0;   // term of that entry
  ConfState conf_state;

  friend bool operator==(const SnapshotMetadata&, const SnapshotMetadata&) = default;
};

struct Snapshot {
  SnapshotMetadata metadata;
  std::string data;  // the application's state, opaque to raft

  bool IsEmpty() const { return metadata.index == 0; }
  friend bool operator==(const Snapshot&, const Snapshot&) = default;
};

enum class MessageType : uint8_t {
  kHup = 0,              // local: start an election (pre-vote first when enabled)
  kBeat = 1,             // local: leader sends heartbeats
  kPropose = 2,          // entries to append; forwarded from followers to the leader
  kAppend = 3,           // leader -> follower: entries after (index, log_term), commit
  kAppendResponse = 4,   // follower -> leader: index accepted or reject with hint
  kVote = 5,             // candidate -> all: request vote for term
  kVoteResponse = 6,     //
  kPreVote = 7,          // would you vote for me at term (not yet taken)?
  kPreVoteResponse = 8,  //
  kSnapshot = 9,         // leader -> follower: install snapshot
  kHeartbeat = 10,       // leader -> follower: commit, context (read index round)
  kHeartbeatResponse = 11,
  kUnreachable = 12,     // local: the transport could not deliver to `from`
  kSnapshotStatus = 13,  // local: the transport reports a snapshot send; reject = failed
  kCheckQuorum = 14,     // local: leader checks it heard from a quorum
  kTransferLeader = 15,  // local or forwarded: from = transferee
  kTimeoutNow = 16,      // leader -> transferee: campaign now, ignoring leases
  kReadIndex = 17,       // request a read index; context identifies the request
  kReadIndexResponse = 18,
};

std::string_view MessageTypeName(MessageType type);

struct Message {
  MessageType type = MessageType::kHup;
  NodeId from = kNone;
  NodeId to = kNone;
  uint64_t term = 0;
  uint64_t log_term = 0;  // kAppend: term of `index`; votes: term of candidate's last entry
  uint64_t index = 0;     // kAppend: entry before `entries`; votes: candidate's last index
  std::vector<Entry> entries;
  uint64_t commit = 0;
  bool reject = false;
  uint64_t reject_hint = 0;  // kAppendResponse: follower's guess at the leader's next index
  Snapshot snapshot;         // kSnapshot only
  std::string context;       // kHeartbeat(Response), kReadIndex(Response): request context

  friend bool operator==(const Message&, const Message&) = default;
};

// Binary encodings. Integers are unsigned LEB128 varints; strings and lists carry a varint
// length. Decode* reject truncated or trailing input with InvalidArgument.
std::string EncodeEntry(const Entry& entry);
Result<Entry> DecodeEntry(std::string_view bytes);
std::string EncodeConfChange(const ConfChange& change);
Result<ConfChange> DecodeConfChange(std::string_view bytes);
std::string EncodeHardState(const HardState& state);
Result<HardState> DecodeHardState(std::string_view bytes);
std::string EncodeConfState(const ConfState& state);
Result<ConfState> DecodeConfState(std::string_view bytes);
std::string EncodeSnapshotMetadata(const SnapshotMetadata& metadata);
Result<SnapshotMetadata> DecodeSnapshotMetadata(std::string_view bytes);
std::string EncodeMessage(const Message& message);
Result<Message> DecodeMessage(std::string_view bytes);

// For logs and test failures.
std::string DescribeMessage(const Message& message);

}  // namespace cairn::raft
