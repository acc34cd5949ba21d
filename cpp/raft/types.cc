// Binary encodings and descriptions of the Raft data types.
#include "raft/types.h"

#include <utility>

namespace cairn::raft {
namespace {

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(static_cast<uint8_t>(v) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void PutBytes(std::string* out, std::string_view bytes) {
  PutVarint(out, bytes.size());
  out->append(bytes);
}

// Reads fields in order; the first failure sticks so callers check once at the end.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in_.empty()) {
        ok_ = false;
        return 0;
      }
      auto byte = static_cast<uint8_t>(in_.front());
      in_.remove_prefix(1);
      v |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return v;
    }
    ok_ = false;
    return 0;
  }

  std::string Bytes() {
    uint64_t n = Varint();
    if (!ok_ || n > in_.size()) {
      ok_ = false;
      return {};
    }
    std::string out(in_.substr(0, n));
    in_.remove_prefix(n);
    return out;
  }

  // Bounded so a corrupt length cannot ask for a huge allocation.
  uint64_t Count() {
    uint64_t n = Varint();
    if (n > in_.size()) ok_ = false;
    return ok_ ? n : 0;
  }

  Status Finish(const char* what) const {
    if (ok_ && in_.empty()) return Status::Ok();
    return InvalidArgument(std::string("raft: malformed ") + what);
  }

 private:
  std::string_view in_;
  bool ok_ = true;
};

void PutEntry(std::string* out, const Entry& e) {
  PutVarint(out, e.term);
  PutVarint(out, e.index);
  PutVarint(out, static_cast<uint64_t>(e.type));
  PutBytes(out, e.data);
}

Entry ReadEntry(Reader* r) {
  Entry e;
  e.term = r->Varint();
  e.index = r->Varint();
  e.type = r->Varint() == 1 ? EntryType::kConfChange : EntryType::kNormal;
  e.data = r->Bytes();
  return e;
}

void PutIds(std::string* out, const std::vector<NodeId>& ids) {
  PutVarint(out, ids.size());
  for (NodeId id : ids) PutVarint(out, id);
}

std::vector<NodeId> ReadIds(Reader* r) {
  std::vector<NodeId> ids(r->Count());
  for (auto& id : ids) id = r->Varint();
  return ids;
}

void PutConfState(std::string* out, const ConfState& c) {
  PutIds(out, c.voters);
  PutIds(out, c.learners);
}

ConfState ReadConfState(Reader* r) {
  ConfState c;
  c.voters = ReadIds(r);
  c.learners = ReadIds(r);
  return c;
}

void PutMetadata(std::string* out, const SnapshotMetadata& m) {
  PutVarint(out, m.index);
  PutVarint(out, m.term);
  PutConfState(out, m.conf_state);
}

SnapshotMetadata ReadMetadata(Reader* r) {
  SnapshotMetadata m;
  m.index = r->Varint();
  m.term = r->Varint();
  m.conf_state = ReadConfState(r);
  return m;
}

}  // namespace

std::string_view MessageTypeName(MessageType type) {
  switch (type) {
    case MessageType::kHup: return "Hup";
    case MessageType::kBeat: return "Beat";
    case MessageType::kPropose: return "Propose";
    case MessageType::kAppend: return "Append";
    case MessageType::kAppendResponse: return "AppendResponse";
    case MessageType::kVote: return "Vote";
    case MessageType::kVoteResponse: return "VoteResponse";
    case MessageType::kPreVote: return "PreVote";
    case MessageType::kPreVoteResponse: return "PreVoteResponse";
    case MessageType::kSnapshot: return "Snapshot";
    case MessageType::kHeartbeat: return "Heartbeat";
    case MessageType::kHeartbeatResponse: return "HeartbeatResponse";
    case MessageType::kUnreachable: return "Unreachable";
    case MessageType::kSnapshotStatus: return "SnapshotStatus";
    case MessageType::kCheckQuorum: return "CheckQuorum";
    case MessageType::kTransferLeader: return "TransferLeader";
    case MessageType::kTimeoutNow: return "TimeoutNow";
    case MessageType::kReadIndex: return "ReadIndex";
    case MessageType::kReadIndexResponse: return "ReadIndexResponse";
  }
  return "Unknown";
}

std::string EncodeEntry(const Entry& entry) {
  std::string out;
  PutEntry(&out, entry);
  return out;
}

Result<Entry> DecodeEntry(std::string_view bytes) {
  Reader r(bytes);
  Entry e = ReadEntry(&r);
  CAIRN_RETURN_IF_ERROR(r.Finish("entry"));
  return e;
}

std::string EncodeConfChange(const ConfChange& change) {
  std::string out;
  PutVarint(&out, static_cast<uint64_t>(change.type));
  PutVarint(&out, change.node_id);
  PutBytes(&out, change.context);
  return out;
}

Result<ConfChange> DecodeConfChange(std::string_view bytes) {
  Reader r(bytes);
  ConfChange c;
  uint64_t type = r.Varint();
  c.node_id = r.Varint();
  c.context = r.Bytes();
  CAIRN_RETURN_IF_ERROR(r.Finish("conf change"));
  if (type > static_cast<uint64_t>(ConfChangeType::kUpdateNode)) {
    return InvalidArgument("raft: unknown conf change type");
  }
  c.type = static_cast<ConfChangeType>(type);
  return c;
}

std::string EncodeHardState(const HardState& state) {
  std::string out;
  PutVarint(&out, state.term);
  PutVarint(&out, state.vote);
  PutVarint(&out, state.commit);
  return out;
}

Result<HardState> DecodeHardState(std::string_view bytes) {
  Reader r(bytes);
  HardState s;
  s.term = r.Varint();
  s.vote = r.Varint();
  s.commit = r.Varint();
  CAIRN_RETURN_IF_ERROR(r.Finish("hard state"));
  return s;
}

std::string EncodeConfState(const ConfState& state) {
  std::string out;
  PutConfState(&out, state);
  return out;
}

Result<ConfState> DecodeConfState(std::string_view bytes) {
  Reader r(bytes);
  ConfState c = ReadConfState(&r);
  CAIRN_RETURN_IF_ERROR(r.Finish("conf state"));
  return c;
}

std::string EncodeSnapshotMetadata(const SnapshotMetadata& metadata) {
  std::string out;
  PutMetadata(&out, metadata);
  return out;
}

Result<SnapshotMetadata> DecodeSnapshotMetadata(std::string_view bytes) {
  Reader r(bytes);
  SnapshotMetadata m = ReadMetadata(&r);
  CAIRN_RETURN_IF_ERROR(r.Finish("snapshot metadata"));
  return m;
}

std::string EncodeMessage(const Message& m) {
  std::string out;
  PutVarint(&out, static_cast<uint64_t>(m.type));
  PutVarint(&out, m.from);
  PutVarint(&out, m.to);
  PutVarint(&out, m.term);
  PutVarint(&out, m.log_term);
  PutVarint(&out, m.index);
  PutVarint(&out, m.entries.size());
  for (const Entry& e : m.entries) PutEntry(&out, e);
  PutVarint(&out, m.commit);
  PutVarint(&out, m.reject ? 1 : 0);
  PutVarint(&out, m.reject_hint);
  PutMetadata(&out, m.snapshot.metadata);
  PutBytes(&out, m.snapshot.data);
  PutBytes(&out, m.context);
  return out;
}

Result<Message> DecodeMessage(std::string_view bytes) {
  Reader r(bytes);
  Message m;
  uint64_t type = r.Varint();
  m.from = r.Varint();
  m.to = r.Varint();
  m.term = r.Varint();
  m.log_term = r.Varint();
  m.index = r.Varint();
  uint64_t n = r.Count();
  m.entries.reserve(n);
  for (uint64_t i = 0; i < n; ++i) m.entries.push_back(ReadEntry(&r));
  m.commit = r.Varint();
  m.reject = r.Varint() != 0;
  m.reject_hint = r.Varint();
  m.snapshot.metadata = ReadMetadata(&r);
  m.snapshot.data = r.Bytes();
  m.context = r.Bytes();
  CAIRN_RETURN_IF_ERROR(r.Finish("message"));
  if (type > static_cast<uint64_t>(MessageType::kReadIndexResponse)) {
    return InvalidArgument("raft: unknown message type");
  }
  m.type = static_cast<MessageType>(type);
  return m;
}

std::string DescribeMessage(const Message& m) {
  std::string out(MessageTypeName(m.type));
  out += " " + std::to_string(m.from) + "->" + std::to_string(m.to);
  out += " term=" + std::to_string(m.term);
  out += " log_term=" + std::to_string(m.log_term);
  out += " index=" + std::to_string(m.index);
  out += " commit=" + std::to_string(m.commit);
  if (!m.entries.empty()) {
    out += " entries=[" + std::to_string(m.entries.front().index) + ".." +
           std::to_string(m.entries.back().index) + "]";
  }
  if (m.reject) out += " reject hint=" + std::to_string(m.reject_hint);
  if (!m.snapshot.IsEmpty()) out += " snapshot@" + std::to_string(m.snapshot.metadata.index);
  return out;
}

}  // namespace cairn::raft
