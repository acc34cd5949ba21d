// TestCluster: RawNodes on MemoryStorage wired by a lossless in-memory network, for unit tests.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "raft/raft.h"
#include "raft/raft_core.h"
#include "raft/storage.h"

namespace cairn::raft::testing {

struct TestNode {
  std::unique_ptr<MemoryStorage> storage;
  std::unique_ptr<RawNode> node;
  std::vector<std::string> applied;  // data of applied normal entries, in order
  std::vector<ReadState> reads;
  ConfState conf;
  uint64_t applied_index = 0;
};

class TestCluster {
 public:
  using Tweak = std::function<void(Config&)>;

  // Every member starts with an empty log and the given membership.
  explicit TestCluster(std::vector<NodeId> voters, std::vector<NodeId> learners = {},
                       Tweak tweak = nullptr)
      : tweak_(std::move(tweak)) {
    ConfState conf{voters, learners};
    for (NodeId id : voters) AddNode(id, conf);
    for (NodeId id : learners) AddNode(id, conf);
  }

  // A member with its own storage; `conf` is its initial membership (empty for a joiner).
  void AddNode(NodeId id, const ConfState& conf) {
    TestNode n;
    n.storage = std::make_unique<MemoryStorage>();
    n.storage->SetConfState(conf);
    n.conf = conf;
    Config c;
    c.id = id;
    c.seed = id;
    if (tweak_) tweak_(c);
    auto node = RawNode::Create(c, n.storage.get());
    EXPECT_TRUE(node.ok()) << node.status().ToString();
    n.node = std::move(node).value();
    nodes_[id] = std::move(n);
  }

  RawNode& node(NodeId id) { return *nodes_.at(id).node; }
  Raft& raft(NodeId id) { return node(id).raft(); }
  TestNode& member(NodeId id) { return nodes_.at(id); }
  MemoryStorage& storage(NodeId id) { return *nodes_.at(id).storage; }

  // Network faults: messages to or from isolated members, and matching drop_, are lost.
  void Isolate(NodeId id) { isolated_.insert(id); }
  void Heal() {
    isolated_.clear();
    drop_ = nullptr;
  }
  std::function<bool(const Message&)> drop_;

  void Tick(NodeId id, int n = 1) {
    for (int i = 0; i < n; ++i) node(id).Tick();
  }
  void TickAll(int n = 1) {
    for (int i = 0; i < n; ++i) {
      for (auto& [id, m] : nodes_) m.node->Tick();
      Stabilize();
    }
  }

  // Handles every Ready and delivers every message until nothing moves.
  void Stabilize() {
    for (int round = 0; round < 10000; ++round) {
      bool moved = false;
      for (auto& [id, n] : nodes_) {
        if (!n.node->HasReady()) continue;
        moved = true;
        HandleReady(n);
      }
      std::vector<Message> queue = std::move(in_flight_);
      in_flight_.clear();
      for (Message& m : queue) {
        moved = true;
        Deliver(std::move(m));
      }
      if (!moved) return;
    }
    ADD_FAILURE() << "cluster did not stabilize";
  }

  // Messages delivered so far (after the drop filter), oldest first.
  std::vector<Message> delivered;

  NodeId Leader() {
    NodeId leader = kNone;
    for (auto& [id, n] : nodes_) {
      if (n.node->raft().role() == StateRole::kLeader) {
        if (leader == kNone || n.node->raft().term() > raft(leader).term()) leader = id;
      }
    }
    return leader;
  }

  void Elect(NodeId id) {
    EXPECT_TRUE(node(id).Campaign().ok());
    Stabilize();
    EXPECT_EQ(raft(id).role(), StateRole::kLeader) << "member " << id << " was not elected";
  }

  void Propose(NodeId id, const std::string& data) {
    EXPECT_TRUE(node(id).Propose(data).ok());
    Stabilize();
  }

 private:
  void HandleReady(TestNode& n) {
    Ready rd = n.node->GetReady();
    for (Message& m : rd.messages) in_flight_.push_back(std::move(m));
    if (!rd.snapshot.IsEmpty()) {
      EXPECT_TRUE(n.storage->ApplySnapshot(rd.snapshot).ok());
      n.conf = rd.snapshot.metadata.conf_state;
      n.applied_index = rd.snapshot.metadata.index;
    }
    EXPECT_TRUE(n.storage->Append(rd.entries).ok());
    if (rd.hard_state) n.storage->SetHardState(*rd.hard_state);
    for (Message& m : rd.messages_after_persist) in_flight_.push_back(std::move(m));
    for (const Entry& e : rd.committed_entries) {
      EXPECT_EQ(e.index, n.applied_index + 1) << "committed entries must come in order";
      n.applied_index = e.index;
      if (e.type == EntryType::kConfChange) {
        auto cc = DecodeConfChange(e.data);
        EXPECT_TRUE(cc.ok());
        auto conf = n.node->ApplyConfChange(*cc);
        if (conf.ok()) {
          n.conf = *conf;
          n.storage->SetConfState(*conf);
        }
      } else if (!e.data.empty()) {
        n.applied.push_back(e.data);
      }
    }
    for (ReadState& r : rd.read_states) n.reads.push_back(std::move(r));
    n.node->Advance();
  }

  void Deliver(Message m) {
    if (isolated_.count(m.from) || isolated_.count(m.to)) return;
    if (drop_ && drop_(m)) return;
    auto it = nodes_.find(m.to);
    if (it == nodes_.end()) return;
    delivered.push_back(m);
    it->second.node->Step(std::move(m)).IgnoreError();
  }

  Tweak tweak_;
  std::map<NodeId, TestNode> nodes_;
  std::set<NodeId> isolated_;
  std::vector<Message> in_flight_;
};

}  // namespace cairn::raft::testing
