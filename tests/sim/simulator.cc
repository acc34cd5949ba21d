// The cluster simulator: members on MemoryStorage, a faulty network, random events, checkers.
#include "simulator.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "raft/raft.h"
#include "raft/raft_core.h"
#include "raft/storage.h"

namespace cairn::sim {
namespace {

using raft::ConfChange;
using raft::ConfChangeType;
using raft::ConfState;
using raft::Entry;
using raft::EntryType;
using raft::Message;
using raft::MessageType;
using raft::NodeId;
using raft::StateRole;

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint64_t Uniform(uint64_t n) { return n == 0 ? 0 : Next() % n; }
  // p in [0, 1], resolved to 1/1e6.
  bool Chance(double p) { return static_cast<double>(Uniform(1000000)) < p * 1e6; }
  template <typename C>
  auto Pick(const C& c) {
    auto it = c.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(Uniform(c.size())));
    return *it;
  }

 private:
  uint64_t state_;
};

uint64_t Fnv(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (char c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t Mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h;
}

// The replicated state machine: a running hash over every applied entry. Two members that
// applied the same entries in the same order hold the same hash.
struct StateMachine {
  uint64_t applied = 0;
  uint64_t hash = 0;

  std::string Encode() const { return std::to_string(applied) + ":" + std::to_string(hash); }
  static StateMachine Decode(const std::string& s) {
    StateMachine m;
    auto colon = s.find(':');
    if (colon == std::string::npos) return m;
    m.applied = std::stoull(s.substr(0, colon));
    m.hash = std::stoull(s.substr(colon + 1));
    return m;
  }
};

struct Member {
  NodeId id = raft::kNone;
  std::unique_ptr<raft::MemoryStorage> disk;  // survives crashes
  std::unique_ptr<raft::RawNode> node;        // null while crashed
  StateMachine sm;                            // lost on crash, rebuilt from the snapshot
  ConfState conf;                             // membership as of sm.applied
  uint64_t restarts = 0;
};

struct InFlight {
  Message m;
  // Lost on the way; the sender's transport notices (a snapshot stream reports failure).
  bool lost = false;
};
// In-flight messages by (delivery tick, send order).
using Network = std::map<std::pair<int64_t, uint64_t>, InFlight>;

struct Proposal {
  int64_t proposed_at = 0;
  std::optional<uint64_t> committed_index;
};

struct PendingRead {
  NodeId member;
  uint64_t floor;  // highest index acknowledged to a client when the read was asked
};

class Simulation {
 public:
  explicit Simulation(const SimOptions& options) : opt_(options), rng_(options.seed) {}

  SimResult Run();

 private:
  void Fail(const std::string& what) {
    if (!result_.ok) return;
    result_.ok = false;
    result_.failure = "tick " + std::to_string(now_) + ": " + what;
  }
  void Log(const std::string& what) {
    if (opt_.verbose) std::printf("[%lld] %s\n", static_cast<long long>(now_), what.c_str());
  }

  raft::Config MakeConfig(NodeId id, uint64_t applied) {
    raft::Config c;
    c.id = id;
    c.seed = opt_.seed * 7919 + id * 104729 + members_[id].restarts;
    c.applied = applied;
    c.election_tick = 10;
    c.heartbeat_tick = heartbeat_tick_;
    c.pre_vote = pre_vote_;
    c.check_quorum = check_quorum_;
    c.max_size_per_msg = max_size_per_msg_;
    c.max_inflight_msgs = max_inflight_;
    return c;
  }
  void Start(NodeId id);
  void Crash(NodeId id);
  void StartNewMember(NodeId id);

  void Send(Message m);
  void Pump();
  void HandleReady(Member& mem);
  void Apply(Member& mem, const Entry& e);
  void AfterStep(Member& mem);
  void CheckLeader(Member& mem);

  void RandomEvents();
  void ProposeConfChange(Member& leader);
  std::optional<NodeId> CurrentLeader();
  std::set<NodeId> Live() const;
  bool Connected(NodeId a, NodeId b) const {
    if (partition_.empty()) return true;
    return partition_.count(a) == partition_.count(b);
  }
  bool AllConverged(NodeId leader, uint64_t target);

  SimOptions opt_;
  Rng rng_;
  SimResult result_;
  int64_t now_ = 0;

  // Per-seed fault rates.
  double loss_ = 0, dup_ = 0, crash_ = 0, partition_rate_ = 0, conf_rate_ = 0;
  int max_delay_ = 0;
  uint64_t max_size_per_msg_ = 1 << 20;
  size_t max_inflight_ = 256;
  int heartbeat_tick_ = 1;
  bool pre_vote_ = true;
  bool check_quorum_ = true;
  bool chaos_ = true;

  std::map<NodeId, Member> members_;
  NodeId next_id_ = 1;
  std::set<NodeId> partition_;  // one side of the partition; empty when healed
  Network net_;
  uint64_t seq_ = 0;

  // Checkers' memory.
  std::map<uint64_t, NodeId> leader_of_term_;
  struct LogSlot {
    uint64_t data_hash;
    uint64_t prev_term;
  };
  std::map<std::pair<uint64_t, uint64_t>, LogSlot> log_slots_;  // (index, term)
  std::vector<uint64_t> committed_term_{0};                     // by index; index 0 unused
  std::vector<uint64_t> committed_hash_{0};                     // state machine hash after index
  std::unordered_map<std::string, Proposal> proposals_;
  uint64_t proposal_seq_ = 0;
  uint64_t max_acked_ = 0;
  std::map<std::string, PendingRead> reads_;
  uint64_t read_seq_ = 0;
};

std::set<NodeId> Simulation::Live() const {
  std::set<NodeId> out;
  for (auto& [id, m] : members_) {
    if (m.node) out.insert(id);
  }
  return out;
}

void Simulation::Start(NodeId id) {
  Member& mem = members_[id];
  // What survived is the disk: the state machine restarts from the snapshot, and raft
  // re-delivers the committed entries after it (including conf changes).
  auto snap = mem.disk->GetSnapshot();
  mem.sm = StateMachine::Decode(snap->data);
  mem.sm.applied = snap->metadata.index;
  mem.conf = snap->metadata.conf_state;
  mem.disk->SetConfState(mem.conf);
  if (snap->metadata.index > 0 && mem.sm.hash != committed_hash_[snap->metadata.index]) {
    Fail("member " + std::to_string(id) + " restarts from a snapshot that diverges");
  }
  auto node = raft::RawNode::Create(MakeConfig(id, mem.sm.applied), mem.disk.get());
  if (!node.ok()) {
    Fail("restart of " + std::to_string(id) + ": " + node.status().ToString());
    return;
  }
  mem.node = std::move(node).value();
  Log("start " + std::to_string(id));
}

void Simulation::Crash(NodeId id) {
  Member& mem = members_[id];
  mem.node.reset();
  mem.restarts++;
  Log("crash " + std::to_string(id));
}

void Simulation::StartNewMember(NodeId id) {
  Member& mem = members_[id];
  mem.id = id;
  mem.disk = std::make_unique<raft::MemoryStorage>();
  Start(id);
}

void Simulation::Send(Message m) {
  result_.messages++;
  if (chaos_ && rng_.Chance(loss_)) {
    net_.emplace(std::make_pair(now_, seq_++), InFlight{std::move(m), true});
    return;
  }
  auto delay = [&] {
    return now_ + static_cast<int64_t>(rng_.Uniform(static_cast<uint64_t>(max_delay_) + 1));
  };
  if (chaos_ && rng_.Chance(dup_)) net_.emplace(std::make_pair(delay(), seq_++), InFlight{m});
  net_.emplace(std::make_pair(delay(), seq_++), InFlight{std::move(m)});
}

void Simulation::CheckLeader(Member& mem) {
  raft::Raft& r = mem.node->raft();
  if (r.role() != StateRole::kLeader) return;
  auto [it, inserted] = leader_of_term_.emplace(r.term(), mem.id);
  if (!inserted) {
    if (it->second != mem.id) {
      Fail("election safety: " + std::to_string(it->second) + " and " + std::to_string(mem.id) +
           " both lead term " + std::to_string(r.term()));
    }
    return;
  }
  result_.elections++;
  Log("leader " + std::to_string(mem.id) + " term " + std::to_string(r.term()));
  // Leader completeness: a new leader holds every entry committed so far.
  const raft::RaftLog& log = r.log();
  for (uint64_t i = std::max<uint64_t>(1, log.FirstIndex()); i < committed_term_.size(); ++i) {
    if (i > log.LastIndex() || log.ZeroTermOnError(i) != committed_term_[i]) {
      Fail("leader completeness: leader " + std::to_string(mem.id) + " of term " +
           std::to_string(r.term()) + " lacks committed entry " + std::to_string(i));
      return;
    }
  }
}

void Simulation::Apply(Member& mem, const Entry& e) {
  if (e.index != mem.sm.applied + 1) {
    Fail("member " + std::to_string(mem.id) + " applies " + std::to_string(e.index) + " after " +
         std::to_string(mem.sm.applied));
    return;
  }
  mem.sm.applied = e.index;
  mem.sm.hash = Mix(Mix(mem.sm.hash, e.term), Fnv(e.data));
  // State machine safety: every member applies the same entry at each index.
  if (e.index < committed_hash_.size()) {
    if (committed_hash_[e.index] != mem.sm.hash || committed_term_[e.index] != e.term) {
      Fail("state machine safety: member " + std::to_string(mem.id) +
           " applied a different entry at " + std::to_string(e.index));
      return;
    }
  } else if (e.index == committed_hash_.size()) {
    committed_hash_.push_back(mem.sm.hash);
    committed_term_.push_back(e.term);
    result_.committed = e.index;
  } else {
    Fail("applied index " + std::to_string(e.index) + " skips a committed entry");
    return;
  }
  if (e.type == EntryType::kConfChange) {
    auto cc = raft::DecodeConfChange(e.data);
    if (!cc.ok()) {
      Fail("bad conf change entry");
      return;
    }
    auto conf = mem.node->ApplyConfChange(*cc);
    if (conf.ok()) {
      mem.conf = *conf;
      mem.disk->SetConfState(*conf);
    }
  } else if (!e.data.empty()) {
    auto it = proposals_.find(e.data);
    if (it != proposals_.end() && !it->second.committed_index) {
      it->second.committed_index = e.index;
      max_acked_ = std::max(max_acked_, e.index);
    }
  }
}

void Simulation::HandleReady(Member& mem) {
  raft::Ready rd = mem.node->GetReady();
  if (rd.soft_state) CheckLeader(mem);
  for (Message& m : rd.messages) Send(std::move(m));
  // Crashes between sending and persisting are where persistence bugs hide: more likely
  // when the Ready carries a new term or vote.
  const raft::HardState& on_disk = mem.disk->hard_state();
  bool new_vote =
      rd.hard_state && (rd.hard_state->term != on_disk.term || rd.hard_state->vote != on_disk.vote);
  if (chaos_ && rng_.Chance(new_vote ? crash_ * 3 : crash_ / 20)) {
    // Crash in the middle of the Ready: the leader's appends left, nothing was persisted.
    Crash(mem.id);
    return;
  }
  if (!rd.snapshot.IsEmpty()) {
    const raft::Snapshot& s = rd.snapshot;
    if (s.metadata.index >= committed_hash_.size()) {
      Fail("snapshot beyond the committed log");
      return;
    }
    StateMachine sm = StateMachine::Decode(s.data);
    if (sm.hash != committed_hash_[s.metadata.index]) {
      Fail("snapshot at " + std::to_string(s.metadata.index) + " diverges");
      return;
    }
    auto st = mem.disk->ApplySnapshot(s);
    if (!st.ok()) {
      Fail("apply snapshot: " + st.ToString());
      return;
    }
    mem.sm = sm;
    mem.sm.applied = s.metadata.index;
    mem.conf = s.metadata.conf_state;
  }
  if (!rd.entries.empty()) {
    auto st = mem.disk->Append(rd.entries);
    if (!st.ok()) {
      Fail("append: " + st.ToString());
      return;
    }
    // Log matching: an (index, term) pair names one entry and one predecessor term.
    for (const Entry& e : rd.entries) {
      auto prev = mem.disk->Term(e.index - 1);
      uint64_t prev_term = prev.ok() ? *prev : ~0ull;
      LogSlot slot{Fnv(e.data) ^ static_cast<uint64_t>(e.type), prev_term};
      auto [it, inserted] = log_slots_.emplace(std::make_pair(e.index, e.term), slot);
      if (!inserted && (it->second.data_hash != slot.data_hash ||
                        (prev_term != ~0ull && it->second.prev_term != ~0ull &&
                         it->second.prev_term != prev_term))) {
        Fail("log matching: two different entries at index " + std::to_string(e.index) + " term " +
             std::to_string(e.term));
        return;
      }
    }
  }
  if (rd.hard_state) mem.disk->SetHardState(*rd.hard_state);
  for (Message& m : rd.messages_after_persist) Send(std::move(m));
  for (const Entry& e : rd.committed_entries) {
    Apply(mem, e);
    if (!result_.ok) return;
  }
  for (const raft::ReadState& rs : rd.read_states) {
    auto it = reads_.find(rs.request_ctx);
    if (it == reads_.end()) continue;
    // Linearizable reads: the read index covers every write acknowledged before the read.
    if (rs.index < it->second.floor) {
      Fail("read index " + std::to_string(rs.index) + " misses acknowledged write at " +
           std::to_string(it->second.floor));
      return;
    }
    reads_.erase(it);
  }
  mem.node->Advance();
}

void Simulation::AfterStep(Member& mem) {
  if (mem.node) CheckLeader(mem);
}

void Simulation::Pump() {
  for (int iter = 0; iter < 1000 && result_.ok; ++iter) {
    bool moved = false;
    for (auto& [id, mem] : members_) {
      while (mem.node && mem.node->HasReady() && result_.ok) {
        moved = true;
        HandleReady(mem);
      }
    }
    // Deliver what is due, in (time, send order).
    std::vector<Network::node_type> due;
    while (!net_.empty() && net_.begin()->first.first <= now_)
      due.push_back(net_.extract(net_.begin()));
    if (chaos_ && due.size() > 1 && rng_.Chance(0.3)) {
      // Reorder a pair beyond what delays did.
      size_t i = rng_.Uniform(due.size());
      size_t j = rng_.Uniform(due.size());
      std::swap(due[i], due[j]);
    }
    for (Network::node_type& node : due) {
      InFlight& f = node.mapped();
      moved = true;
      Message& m = f.m;
      auto from = members_.find(m.from);
      bool reachable = Connected(m.from, m.to);
      auto to = members_.find(m.to);
      if (f.lost || !reachable || to == members_.end() || !to->second.node) {
        // The sender's transport notices; it reports snapshots it failed to send.
        if (from != members_.end() && from->second.node) {
          if (m.type == MessageType::kSnapshot) {
            from->second.node->ReportSnapshot(m.to, raft::SnapshotStatus::kFailure);
          } else if (rng_.Chance(0.5)) {
            from->second.node->ReportUnreachable(m.to);
          }
        }
        continue;
      }
      if (opt_.verbose) Log("deliver " + raft::DescribeMessage(m));
      result_.trace_hash =
          Mix(Mix(Mix(result_.trace_hash, static_cast<uint64_t>(m.type)), m.from * 1000003 + m.to),
              Mix(m.term, m.index + m.commit + m.entries.size()));
      MessageType type = m.type;
      NodeId sender = m.from;
      NodeId dest = m.to;
      to->second.node->Step(std::move(m)).IgnoreError();
      AfterStep(to->second);
      if (type == MessageType::kSnapshot && from != members_.end() && from->second.node) {
        from->second.node->ReportSnapshot(dest, raft::SnapshotStatus::kFinish);
      }
      (void)sender;
      if (!result_.ok) return;
    }
    if (!moved) return;
  }
}

std::optional<NodeId> Simulation::CurrentLeader() {
  std::optional<NodeId> best;
  uint64_t best_term = 0;
  for (auto& [id, mem] : members_) {
    if (!mem.node) continue;
    raft::Raft& r = mem.node->raft();
    if (r.role() == StateRole::kLeader && r.term() >= best_term) {
      best = id;
      best_term = r.term();
    }
  }
  return best;
}

void Simulation::ProposeConfChange(Member& leader) {
  const ConfState& conf = leader.conf;
  ConfChange cc;
  uint64_t choice = rng_.Uniform(5);
  if (choice == 0 && !conf.learners.empty()) {
    cc = ConfChange{ConfChangeType::kAddVoter, rng_.Pick(conf.learners), ""};  // promote
  } else if (choice == 1 && conf.voters.size() > 3) {
    cc = ConfChange{ConfChangeType::kRemoveNode, rng_.Pick(conf.voters), ""};
  } else if (choice == 2 && !conf.learners.empty()) {
    cc = ConfChange{ConfChangeType::kRemoveNode, rng_.Pick(conf.learners), ""};
  } else if (choice == 3) {
    cc = ConfChange{ConfChangeType::kUpdateNode, rng_.Pick(conf.voters), "peer-url"};
  } else if (conf.voters.size() + conf.learners.size() < 7) {
    // Joiners start as learners or voters with an empty log.
    NodeId id = next_id_++;
    cc = ConfChange{rng_.Chance(0.7) ? ConfChangeType::kAddLearner : ConfChangeType::kAddVoter, id,
                    ""};
    StartNewMember(id);
  } else {
    return;
  }
  auto st = leader.node->ProposeConfChange(cc);
  Log("propose conf change type " + std::to_string(static_cast<int>(cc.type)) + " node " +
      std::to_string(cc.node_id) + ": " + st.ToString());
}

void Simulation::RandomEvents() {
  std::set<NodeId> live = Live();
  if (!live.empty() && rng_.Chance(0.4)) {
    Member& m = members_[rng_.Pick(live)];
    // Batches of proposals, as a server proposes under load.
    uint64_t n = 1 + rng_.Uniform(3);
    for (uint64_t i = 0; i < n; ++i) {
      std::string data = "p" + std::to_string(proposal_seq_++);
      if (m.node->Propose(data).ok()) proposals_[data] = Proposal{now_, std::nullopt};
    }
  }
  if (!live.empty() && rng_.Chance(0.05)) {
    Member& m = members_[rng_.Pick(live)];
    std::string ctx = "r" + std::to_string(read_seq_++);
    reads_[ctx] = PendingRead{m.id, max_acked_};
    m.node->ReadIndex(ctx);
  }
  auto leader = CurrentLeader();
  if (leader && rng_.Chance(conf_rate_)) ProposeConfChange(members_[*leader]);
  if (leader && rng_.Chance(0.01)) {
    const ConfState& conf = members_[*leader].conf;
    if (!conf.voters.empty()) {
      NodeId to = rng_.Pick(conf.voters);
      Log("transfer leader " + std::to_string(*leader) + " -> " + std::to_string(to));
      members_[*leader].node->TransferLeader(to);
    }
  }
  if (!live.empty() && rng_.Chance(crash_)) Crash(rng_.Pick(live));
  for (auto& [id, mem] : members_) {
    if (!mem.node && rng_.Chance(0.2)) {
      Start(id);
      break;
    }
  }
  if (partition_.empty() && rng_.Chance(partition_rate_)) {
    for (auto& [id, mem] : members_) {
      if (rng_.Chance(0.4)) partition_.insert(id);
    }
    Log("partition");
  } else if (!partition_.empty() && rng_.Chance(0.05)) {
    partition_.clear();
    Log("heal");
  }
  if (!live.empty() && rng_.Chance(0.03)) {
    // Snapshot at the applied index and compact the log behind it, keeping a short tail.
    Member& m = members_[rng_.Pick(live)];
    uint64_t applied = m.sm.applied;
    auto first = m.disk->FirstIndex();
    if (applied >= *first) {
      auto snap = m.disk->CreateSnapshot(applied, m.conf, m.sm.Encode());
      if (snap.ok()) {
        uint64_t keep = rng_.Uniform(4);
        if (applied > keep && applied - keep >= *first)
          m.disk->Compact(applied - keep).IgnoreError();
        Log("snapshot " + std::to_string(m.id) + " at " + std::to_string(applied));
      }
    }
  }
}

bool Simulation::AllConverged(NodeId leader, uint64_t target) {
  const ConfState& conf = members_[leader].conf;
  for (const auto& ids : {conf.voters, conf.learners}) {
    for (NodeId id : ids) {
      const Member& m = members_[id];
      if (!m.node || m.sm.applied < target) return false;
    }
  }
  return true;
}

SimResult Simulation::Run() {
  // Everything about this run comes from the seed.
  size_t n = 1 + rng_.Uniform(5);  // 1 to 5 voters
  loss_ = rng_.Chance(0.2) ? 0 : 0.15 * static_cast<double>(rng_.Uniform(100)) / 100;
  dup_ = 0.05 * static_cast<double>(rng_.Uniform(100)) / 100;
  max_delay_ = static_cast<int>(rng_.Uniform(4));
  crash_ = 0.02 * static_cast<double>(rng_.Uniform(100)) / 100;
  partition_rate_ = 0.02 * static_cast<double>(rng_.Uniform(100)) / 100;
  conf_rate_ = rng_.Chance(0.5) ? 0.03 : 0;
  max_size_per_msg_ = rng_.Chance(0.5) ? 64 : (1 << 20);
  max_inflight_ = rng_.Chance(0.5) ? 2 : 256;
  heartbeat_tick_ = 1 + static_cast<int>(rng_.Uniform(3));
  // Mostly the defaults; sometimes without pre-vote or check-quorum: safety must not
  // depend on them.
  if (rng_.Chance(0.2)) {
    pre_vote_ = rng_.Chance(0.5);
    check_quorum_ = rng_.Chance(0.5);
  }

  // Bootstrap: the initial members share a snapshot at index 1 holding the membership, so
  // that members added later can be brought up by a snapshot.
  ConfState initial;
  for (size_t i = 0; i < n; ++i) initial.voters.push_back(next_id_++);
  committed_term_.push_back(1);
  committed_hash_.push_back(0);
  for (NodeId id : initial.voters) {
    Member& mem = members_[id];
    mem.id = id;
    mem.disk = std::make_unique<raft::MemoryStorage>();
    raft::Snapshot boot;
    boot.metadata = raft::SnapshotMetadata{1, 1, initial};
    boot.data = StateMachine{1, 0}.Encode();
    mem.disk->ApplySnapshot(boot).IgnoreError();
    Start(id);
  }

  for (now_ = 0; now_ < opt_.chaos_ticks && result_.ok; ++now_) {
    RandomEvents();
    for (auto& [id, mem] : members_) {
      if (!mem.node) continue;
      mem.node->Tick();
      AfterStep(mem);
    }
    Pump();
  }
  if (!result_.ok) return result_;

  // Liveness: heal everything and restart every member that is down.
  chaos_ = false;
  partition_.clear();
  for (auto& [id, mem] : members_) {
    if (!mem.node) Start(id);
  }
  Log("heal all");
  int64_t healed_at = now_;
  std::optional<NodeId> leader;
  for (; result_.ok; ++now_) {
    for (auto& [id, mem] : members_) {
      mem.node->Tick();
      AfterStep(mem);
    }
    Pump();
    leader = CurrentLeader();
    if (leader) {
      raft::Raft& r = members_[*leader].node->raft();
      // Working: it committed an entry of its term, and it is not handing over.
      if (r.log().ZeroTermOnError(r.log().committed()) == r.term() &&
          r.lead_transferee() == raft::kNone && r.Promotable()) {
        break;
      }
    }
    if (now_ - healed_at > opt_.leader_bound_ticks) {
      Fail("liveness: no working leader " + std::to_string(opt_.leader_bound_ticks) +
           " ticks after healing");
      return result_;
    }
  }
  if (!result_.ok) return result_;
  result_.ticks_to_leader = static_cast<int>(now_ - healed_at);

  // Queued work commits: a final proposal through the leader, then everyone applies it
  // and every acknowledged proposal before it.
  Member& lm = members_[*leader];
  std::string final_data = "final";
  proposals_[final_data] = Proposal{now_, std::nullopt};
  if (!lm.node->Propose(final_data).ok()) {
    Fail("liveness: the leader refused a proposal after healing");
    return result_;
  }
  int64_t start = now_;
  std::pair<NodeId, uint64_t> proposed_to{*leader, lm.node->raft().term()};
  for (; result_.ok; ++now_) {
    Pump();
    auto& fin = proposals_[final_data];
    if (auto l = CurrentLeader(); !fin.committed_index && l) {
      // An uncommitted entry may be lost when leadership changes: the client retries with
      // the new leader, as a real client would after a timeout.
      std::pair<NodeId, uint64_t> now_leading{*l, members_[*l].node->raft().term()};
      if (now_leading != proposed_to && members_[*l].node->Propose(final_data).ok()) {
        proposed_to = now_leading;
      }
    }
    NodeId l = CurrentLeader().value_or(*leader);
    if (fin.committed_index && AllConverged(l, std::max(*fin.committed_index, max_acked_))) break;
    if (now_ - start > opt_.converge_bound_ticks) {
      std::string state;
      for (auto& [id, mem] : members_) {
        raft::Raft& r = mem.node->raft();
        state += " [" + std::to_string(id) + " " + std::string(raft::StateRoleName(r.role())) +
                 " term " + std::to_string(r.term()) + " applied " +
                 std::to_string(mem.sm.applied) + " commit " + std::to_string(r.log().committed()) +
                 " last " + std::to_string(r.log().LastIndex()) + " first " +
                 std::to_string(r.log().FirstIndex()) + "]";
        if (r.role() == StateRole::kLeader) {
          for (auto& [pid, pr] : r.tracker().progress()) {
            state += " {" + std::to_string(pid) + " " +
                     std::string(raft::ProgressStateName(pr.state)) + " match " +
                     std::to_string(pr.match) + " next " + std::to_string(pr.next) +
                     (pr.recent_active ? " active" : "") + (pr.probe_sent ? " probe_sent" : "") +
                     " pending_snap " + std::to_string(pr.pending_snapshot) + "}";
          }
        }
      }
      Fail("liveness: members did not apply everything " +
           std::to_string(opt_.converge_bound_ticks) + " ticks after a leader was elected;" +
           " final at " + std::to_string(fin.committed_index.value_or(0)) + ", acked " +
           std::to_string(max_acked_) + state);
      return result_;
    }
    for (auto& [id, mem] : members_) {
      mem.node->Tick();
      AfterStep(mem);
    }
  }
  result_.ticks_to_converge = static_cast<int>(now_ - start);
  return result_;
}

}  // namespace

SimResult RunSimulation(const SimOptions& options) {
  return Simulation(options).Run();
}

}  // namespace cairn::sim
