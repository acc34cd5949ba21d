// raft_sim: runs the cluster simulator over a range of seeds and reports any that fail.
//
//   raft_sim [--seeds N] [--first S] [--verbose] [--determinism]
//   CAIRN_SIM_SEEDS=N      how many seeds (the long mode: e.g. 1000000)
//   CAIRN_SIM_FIRST_SEED=S first seed of the range
//   CAIRN_SIM_SEED=S       replay exactly one seed, printing every event
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "simulator.h"

namespace {

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seeds = EnvOr("CAIRN_SIM_SEEDS", 10000);
  uint64_t first = EnvOr("CAIRN_SIM_FIRST_SEED", 1);
  bool verbose = false;
  bool determinism = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) {
      seeds = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--first") == 0 && i + 1 < argc) {
      first = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--verbose") == 0) {
      verbose = true;
    } else if (std::strcmp(argv[i], "--determinism") == 0) {
      determinism = true;
    } else {
      std::fprintf(stderr, "usage: %s [--seeds N] [--first S] [--verbose] [--determinism]\n",
                   argv[0]);
      return 2;
    }
  }
  if (const char* one = std::getenv("CAIRN_SIM_SEED"); one != nullptr && *one != '\0') {
    first = std::strtoull(one, nullptr, 10);
    seeds = 1;
    verbose = std::getenv("CAIRN_SIM_QUIET") == nullptr;
  }

  auto start = std::chrono::steady_clock::now();
  uint64_t failures = 0;
  int max_to_leader = 0;
  uint64_t slowest_election_seed = 0;
  int max_to_converge = 0;
  uint64_t total_to_leader = 0;
  uint64_t committed = 0;
  uint64_t elections = 0;
  for (uint64_t seed = first; seed < first + seeds; ++seed) {
    cairn::sim::SimOptions options;
    options.seed = seed;
    options.verbose = verbose;
    cairn::sim::SimResult r = cairn::sim::RunSimulation(options);
    if (determinism) {
      // A seed must replay exactly: run it again and compare the traces.
      cairn::sim::SimResult again = cairn::sim::RunSimulation(options);
      if (again.trace_hash != r.trace_hash || again.failure != r.failure) {
        r.ok = false;
        r.failure = "two runs of the seed differ";
      }
    }
    if (!r.ok) {
      ++failures;
      std::printf("FAIL seed %llu: %s\n  replay: CAIRN_SIM_SEED=%llu %s\n",
                  static_cast<unsigned long long>(seed), r.failure.c_str(),
                  static_cast<unsigned long long>(seed), argv[0]);
      std::fflush(stdout);  // long runs: show failures as they happen
      if (failures >= 20) break;
      continue;
    }
    if (r.ticks_to_leader > max_to_leader) slowest_election_seed = seed;
    max_to_leader = std::max(max_to_leader, r.ticks_to_leader);
    max_to_converge = std::max(max_to_converge, r.ticks_to_converge);
    total_to_leader += static_cast<uint64_t>(r.ticks_to_leader);
    committed += r.committed;
    elections += r.elections;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "raft_sim: seeds %llu..%llu, %llu failed; %llu entries committed, %llu elections; "
      "after healing: leader within %d ticks (seed %llu; mean %.1f), all applied within %d more; "
      "%.1fs\n",
      static_cast<unsigned long long>(first), static_cast<unsigned long long>(first + seeds - 1),
      static_cast<unsigned long long>(failures), static_cast<unsigned long long>(committed),
      static_cast<unsigned long long>(elections), max_to_leader,
      static_cast<unsigned long long>(slowest_election_seed),
      seeds ? static_cast<double>(total_to_leader) / static_cast<double>(seeds) : 0.0,
      max_to_converge, secs);
  return failures == 0 ? 0 : 1;
}
