// Benchmark: operations per second of the MVCC store alone, one thread, in a temporary
// directory: puts, kube-apiserver style txns (compare mod then put, else get), and
// ranges (one key, 100 keys, one key at an old revision). Prints figures; asserts nothing.
//
//   bench_mvcc [ops=100000] [keys=10000] [value_bytes=128] [compaction_batch=1000]
//              [compaction_pause_ms=10]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "mvcc/store.h"
#include "storage/test_dir.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace cairn::mvcc;

void Check(const cairn::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

std::string Key(uint64_t i) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "/registry/configmaps/default/%08llu",
                static_cast<unsigned long long>(i));
  return buf;
}

template <typename Fn>
void Run(const char* name, long ops, Fn fn) {
  auto start = Clock::now();
  for (long i = 0; i < ops; ++i) fn(i);
  double s = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("%-34s %9ld ops in %6.2f s: %10.0f ops/s\n", name, ops, s, ops / s);
}

}  // namespace

int main(int argc, char** argv) {
  long ops = argc > 1 ? std::atol(argv[1]) : 100000;
  uint64_t keys = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 10000;
  size_t value_bytes = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 128;
  size_t batch = argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 1000;  // compaction batch
  long pause_ms = argc > 5 ? std::atol(argv[5]) : 10;  // compaction pause between batches
  cairn::storage::TempDir dir;
  cairn::storage::DbOptions options;
  options.cache_size_mb = 256;
  if (const char* extra = std::getenv("CAIRN_WT_CONFIG")) options.extra_config = extra;
  auto db = cairn::storage::Db::Open(dir.path(), options);
  Check(db.status(), "open");
  auto opened = Store::Open(db->get());
  Check(opened.status(), "store");
  Store* store = opened->get();
  std::mt19937_64 rng(1);
  std::string value(value_bytes, 'v');
  uint64_t index = 0;

  Run("put (one txn each)", ops, [&](long) {
    PutRequest put;
    put.key = Key(rng() % keys);
    put.value = value;
    Check(store->Put(put, ++index, nullptr).status(), "put");
  });

  Run("txn: mod==rev ? put : get", ops, [&](long) {
    std::string key = Key(rng() % keys);
    RangeRequest get;
    get.key = key;
    auto cur = store->Range(get);
    Check(cur.status(), "get");
    TxnRequest txn;
    Compare c;
    c.key = key;
    c.target = CompareTarget::kMod;
    c.number = cur->kvs.empty() ? 0 : cur->kvs[0].mod_revision;
    txn.compare.push_back(c);
    PutRequest put;
    put.key = key;
    put.value = value;
    txn.success.push_back(RequestOp{put});
    txn.failure.push_back(RequestOp{get});
    Check(store->Txn(txn, ++index, nullptr).status(), "txn");
  });

  Run("range: one key, latest", ops, [&](long) {
    RangeRequest get;
    get.key = Key(rng() % keys);
    Check(store->Range(get).status(), "get");
  });

  int64_t old_rev = store->current_revision() / 2;
  Run("range: one key, old revision", ops, [&](long) {
    RangeRequest get;
    get.key = Key(rng() % keys);
    get.revision = old_rev;
    Check(store->Range(get).status(), "get");
  });

  Run("range: 100 keys, latest", ops / 10, [&](long) {
    RangeRequest list;
    uint64_t from = rng() % (keys > 100 ? keys - 100 : 1);
    list.key = Key(from);
    list.range_end = Key(from + 100);
    Check(store->Range(list).status(), "list");
  });

  Run("range: 100 keys, old revision", ops / 10, [&](long) {
    RangeRequest list;
    uint64_t from = rng() % (keys > 100 ? keys - 100 : 1);
    list.key = Key(from);
    list.range_end = Key(from + 100);
    list.revision = old_rev;
    Check(store->Range(list).status(), "list");
  });

  // Puts with and without a compaction running on another thread: the compaction deletes
  // in batches (of 1000 revisions by default), each its own transaction, with a pause
  // between them (10 ms by default, as etcd), so puts keep going.
  auto timed_puts = [&](const char* name, long n, std::atomic<bool>* stop) {
    std::vector<double> took;
    long done = 0;
    auto start = Clock::now();
    while (done < n || (stop != nullptr && !stop->load())) {
      auto t = Clock::now();
      PutRequest put;
      put.key = Key(rng() % keys);
      put.value = value;
      Check(store->Put(put, ++index, nullptr).status(), "put");
      took.push_back(std::chrono::duration<double>(Clock::now() - t).count());
      ++done;
    }
    double s = std::chrono::duration<double>(Clock::now() - start).count();
    std::sort(took.begin(), took.end());
    auto at = [&](double q) { return took[static_cast<size_t>(q * (took.size() - 1))] * 1e3; };
    std::printf(
        "%-34s %9ld ops in %6.2f s: %10.0f ops/s, p99 %.2f ms, p99.9 %.2f ms, "
        "slowest %.1f ms\n",
        name, done, s, done / s, at(0.99), at(0.999), took.back() * 1e3);
  };
  timed_puts("put, no compaction", ops / 4, nullptr);
  int64_t revisions = store->current_revision();
  Check(store->Compact(revisions, ++index).status(), "compact");
  std::atomic<bool> compacted{false};
  double compaction_s = 0;
  std::thread compactor([&] {
    auto start = Clock::now();
    Check(store->RunCompaction(batch, std::chrono::milliseconds(pause_ms)), "run compaction");
    compaction_s = std::chrono::duration<double>(Clock::now() - start).count();
    compacted = true;
  });
  timed_puts("put, while compaction runs", 0, &compacted);
  compactor.join();
  std::printf("compaction of %lld revisions to %llu keys: %.2f s\n",
              static_cast<long long>(revisions), static_cast<unsigned long long>(keys),
              compaction_s);
  return 0;
}
