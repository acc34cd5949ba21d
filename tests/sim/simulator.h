// A deterministic simulator of a Raft cluster under faults, with safety and liveness checks.
//
// One seed fixes everything: the cluster size, the fault rates and every random choice
// (which message is lost, duplicated or delayed, when members crash, restart, partition,
// join, leave, transfer leadership). Running a seed twice gives the same run, so a failure
// is replayed exactly from its seed.
#pragma once

#include <cstdint>
#include <string>

namespace cairn::sim {

struct SimResult {
  bool ok = true;
  std::string failure;  // what broke, and when (tick)
  // For the report: ticks from healing the network to a working leader, and to everything
  // committed; and the amount of work done.
  int ticks_to_leader = 0;
  int ticks_to_converge = 0;
  uint64_t committed = 0;
  uint64_t elections = 0;
  uint64_t messages = 0;
  // A hash of every delivered message, in order: equal for two runs of a seed when the
  // simulation is deterministic.
  uint64_t trace_hash = 0;
};

struct SimOptions {
  uint64_t seed = 1;
  // Ticks of chaos before the network heals and the liveness phase starts.
  int chaos_ticks = 120;
  // Liveness bounds after healing, in ticks (election timeouts are 10 to 20 ticks). Split
  // votes can repeat when messages take up to 3 ticks, so the bound is generous: 30
  // election timeouts.
  int leader_bound_ticks = 300;
  int converge_bound_ticks = 300;
  // Prints every event and message.
  bool verbose = false;
};

SimResult RunSimulation(const SimOptions& options);

}  // namespace cairn::sim
