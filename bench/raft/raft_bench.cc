// raft_bench: how many entries per second three in-memory members commit, on one thread.
//
//   raft_bench [--entries N] [--batch B] [--size BYTES]
//
// One thread drives all three RawNodes: the leader proposes batches, every member handles
// its Ready (persisting to MemoryStorage, sending to the others' inboxes, applying), and
// messages are delivered at once. The figure is entries committed and applied by every
// member per second of wall time. Storage is memory, so this measures the library itself.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "raft/raft.h"
#include "raft/storage.h"

namespace {

using cairn::raft::ConfState;
using cairn::raft::Message;
using cairn::raft::NodeId;

struct Member {
  std::unique_ptr<cairn::raft::MemoryStorage> storage;
  std::unique_ptr<cairn::raft::RawNode> node;
  uint64_t applied = 0;
};

}  // namespace

int main(int argc, char** argv) {
  uint64_t total = 2'000'000;
  size_t batch = 256;
  size_t size = 128;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--entries") == 0) total = std::strtoull(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--batch") == 0) batch = std::strtoull(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--size") == 0) size = std::strtoull(argv[i + 1], nullptr, 10);
  }

  std::vector<Member> members(3);
  for (size_t i = 0; i < members.size(); ++i) {
    members[i].storage = std::make_unique<cairn::raft::MemoryStorage>();
    members[i].storage->SetConfState(ConfState{{1, 2, 3}, {}});
    cairn::raft::Config c;
    c.id = i + 1;
    c.seed = i + 1;
    c.max_inflight_msgs = 64;
    auto node = cairn::raft::RawNode::Create(c, members[i].storage.get());
    if (!node.ok()) {
      std::fprintf(stderr, "create: %s\n", node.status().ToString().c_str());
      return 1;
    }
    members[i].node = std::move(node).value();
  }

  std::vector<Message> inbox;
  // Handles every member's Ready once and delivers what they sent.
  auto round = [&] {
    for (Member& m : members) {
      if (!m.node->HasReady()) continue;
      cairn::raft::Ready rd = m.node->GetReady();
      for (Message& msg : rd.messages) inbox.push_back(std::move(msg));
      if (!rd.entries.empty() && !m.storage->Append(rd.entries).ok()) std::abort();
      if (rd.hard_state) m.storage->SetHardState(*rd.hard_state);
      for (Message& msg : rd.messages_after_persist) inbox.push_back(std::move(msg));
      if (!rd.committed_entries.empty()) m.applied = rd.committed_entries.back().index;
      m.node->Advance();
      // Keep memory flat: the log behind the applied index is not needed here.
      uint64_t first = *m.storage->FirstIndex();
      if (m.applied > first + 100'000) m.storage->Compact(m.applied - 1000).IgnoreError();
    }
    std::vector<Message> deliver = std::move(inbox);
    inbox.clear();
    for (Message& msg : deliver) {
      members[msg.to - 1].node->Step(std::move(msg)).IgnoreError();
    }
  };

  if (!members[0].node->Campaign().ok()) return 1;
  // Until everyone applied the leader's first entry.
  for (int i = 0; i < 100; ++i) round();
  uint64_t base = members[0].applied;
  for (const Member& m : members) base = std::min(base, m.applied);
  if (base == 0) {
    for (const Member& m : members) {
      auto st = m.node->GetStatus();
      std::fprintf(stderr, "member %llu: role %d term %llu applied %llu commit %llu\n",
                   static_cast<unsigned long long>(st.id), static_cast<int>(st.soft_state.role),
                   static_cast<unsigned long long>(st.hard_state.term),
                   static_cast<unsigned long long>(m.applied),
                   static_cast<unsigned long long>(st.hard_state.commit));
    }
    std::fprintf(stderr, "no leader elected\n");
    return 1;
  }

  std::string payload(size, 'x');
  auto start = std::chrono::steady_clock::now();
  uint64_t proposed = 0;
  auto min_applied = [&] {
    uint64_t a = members[0].applied;
    for (const Member& m : members) a = std::min(a, m.applied);
    return a - base;
  };
  while (min_applied() < total) {
    // Keep a bounded amount proposed but not yet committed, as a server with a queue would.
    if (proposed < total && proposed - (members[0].applied - base) < 8 * batch) {
      std::vector<std::string> b(batch, payload);
      if (!members[0].node->ProposeBatch(std::move(b)).ok()) {
        std::fprintf(stderr, "leader refused a proposal\n");
        return 1;
      }
      proposed += batch;
    }
    round();
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "raft_bench: 3 members, %llu entries of %zu bytes in batches of %zu: %.3fs, %.0f "
      "entries/s committed and applied on all members\n",
      static_cast<unsigned long long>(min_applied()), size, batch, secs,
      static_cast<double>(min_applied()) / secs);
  return 0;
}
