// Benchmark: raft log appends, one synced WiredTiger transaction per batch (group
// commit), for batches of 1, 10 and 100 entries of 256 bytes, in a temporary directory.
// Prints batches and entries per second; asserts nothing. Run it under
// `strace -f -c -e trace=fsync,fdatasync` to count the syncs per batch.
//
//   bench_log_append [batches=2000]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "storage/log_store.h"
#include "storage/test_dir.h"

int main(int argc, char** argv) {
  long batches = argc > 1 ? std::atol(argv[1]) : 2000;
  for (uint64_t size : {1, 10, 100}) {
    cairn::storage::TempDir dir;
    cairn::storage::DbOptions options;
    options.checkpoint_interval_s = 0;
    auto db = cairn::storage::Db::Open(dir.path(), options);
    if (!db.ok()) return 1;
    auto log = cairn::storage::LogStore::Open(db->get());
    if (!log.ok()) return 1;
    uint64_t index = 0;
    auto start = std::chrono::steady_clock::now();
    for (long b = 0; b < batches; ++b) {
      std::vector<cairn::raft::Entry> entries(size);
      for (auto& e : entries) {
        e.term = 1;
        e.index = ++index;
        e.data.assign(256, 'e');
      }
      cairn::Status s = (*log)->Save(cairn::raft::HardState{1, 1, index}, entries);
      if (!s.ok()) {
        std::fprintf(stderr, "save: %s\n", s.ToString().c_str());
        return 1;
      }
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("batches of %3llu: %6ld batches in %5.2f s: %8.0f batches/s, %9.0f entries/s\n",
                static_cast<unsigned long long>(size), batches, secs, batches / secs,
                batches * static_cast<double>(size) / secs);
  }
  return 0;
}
