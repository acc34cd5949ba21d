// Benchmark: operations per second of the MVCC store alone, one thread, in a temporary
// directory: puts, kube-apiserver style txns (compare mod then put, else get), and
// ranges (one key, 100 keys, one key at an old revision). Prints figures; asserts nothing.
//
//   bench_mvcc [ops=100000] [keys=10000] [value_bytes=128] [compaction_batch=1000]
//              [compaction_pause_ms=10] [phases=all|compaction] [puts_alone=ops/4]
//
// phases=compaction fills the store with ops*2 puts (the revisions the full run holds
// by then) and runs only the compaction phase. CAIRN_WT_STATS=1 prints WiredTiger's
// statistics that moved during each compaction-phase run (=all: every one that moved).
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
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

// CPU time of the calling thread: unlike wall time, other engineers' builds on the shared
// machine do not inflate it, so per-operation CPU shows interference between threads.
double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Times the calling thread blocked (waited on a lock, a condition, I/O or a sleep): a
// writer that compaction stalls blocks more often; one that merely shares the CPU does not.
double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

long ThreadBlockedCount() {
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  return ru.ru_nvcsw;
}

std::map<std::string, int64_t> WtStats(cairn::storage::Db* db) {
  std::map<std::string, int64_t> out;
  auto session = db->OpenSession();
  if (!session.ok()) return out;
  WT_SESSION* s = (*session)->get();
  WT_CURSOR* c = nullptr;
  if (s->open_cursor(s, "statistics:", nullptr, nullptr, &c) != 0) return out;
  const char* desc = nullptr;
  const char* pvalue = nullptr;
  int64_t value = 0;
  while (c->next(c) == 0 && c->get_value(c, &desc, &pvalue, &value) == 0) out[desc] = value;
  c->close(c);
  return out;
}

// What moved between two snapshots of the statistics; without `all`, only those that
// tell where a writer's time goes (eviction, cache pressure, waits, yields).
void PrintWtStatsDelta(const std::map<std::string, int64_t>& before,
                       const std::map<std::string, int64_t>& after, bool all) {
  static const char* const kWatched[] = {"application thread",
                                         "by application threads",
                                         "thread-yield",
                                         "forced eviction",
                                         "wait",
                                         "dirty",
                                         "bytes currently in the cache",
                                         "pages evicted",
                                         "checkpoint"};
  for (const auto& [name, value] : after) {
    auto it = before.find(name);
    int64_t delta = value - (it != before.end() ? it->second : 0);
    if (delta == 0) continue;
    bool show = all;
    for (const char* w : kWatched) show = show || name.find(w) != std::string::npos;
    if (show) {
      std::printf("    %-78s %14lld (now %lld)\n", name.c_str(), static_cast<long long>(delta),
                  static_cast<long long>(value));
    }
  }
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
  bool only_compaction = argc > 6 && std::strcmp(argv[6], "compaction") == 0;
  // Puts timed without compaction: as many as run during it make the fairer comparison,
  // since WiredTiger's eviction starts only once enough of the cache is dirty.
  long alone_puts = argc > 7 ? std::atol(argv[7]) : ops / 4;
  const char* stats_env = std::getenv("CAIRN_WT_STATS");
  bool wt_stats = stats_env != nullptr && *stats_env != '\0' && std::strcmp(stats_env, "0") != 0;
  cairn::storage::TempDir dir;
  cairn::storage::DbOptions options;
  options.cache_size_mb = 256;
  if (wt_stats) options.extra_config = "statistics=(fast)";
  if (const char* extra = std::getenv("CAIRN_WT_CONFIG")) {
    if (!options.extra_config.empty()) options.extra_config += ",";
    options.extra_config += extra;
  }
  auto db = cairn::storage::Db::Open(dir.path(), options);
  Check(db.status(), "open");
  auto opened = Store::Open(db->get());
  Check(opened.status(), "store");
  Store* store = opened->get();
  std::mt19937_64 rng(1);
  std::string value(value_bytes, 'v');
  uint64_t index = 0;

  Run(only_compaction ? "put (filling)" : "put (one txn each)", only_compaction ? ops * 2 : ops,
      [&](long) {
        PutRequest put;
        put.key = Key(rng() % keys);
        put.value = value;
        Check(store->Put(put, ++index, nullptr).status(), "put");
      });

  if (!only_compaction) {
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
  }

  // Puts with and without a compaction running on another thread: the compaction deletes
  // in batches (of 1000 revisions by default), each its own transaction, with a pause
  // between them (10 ms by default, as etcd), so puts keep going.
  // Each timed phase also gives the writer's CPU per put: wall time on this shared machine
  // moves with others' load, CPU per put moves only with what the compactor costs the writer.
  auto timed_puts = [&](const char* name, long n, std::atomic<bool>* stop) {
    std::vector<double> took;
    long done = 0;
    auto start = Clock::now();
    double cpu_start = ThreadCpuSeconds();
    double process_cpu_start = ProcessCpuSeconds();
    long blocked_start = ThreadBlockedCount();
    while (done < n || (stop != nullptr && !stop->load())) {
      auto t = Clock::now();
      PutRequest put;
      put.key = Key(rng() % keys);
      put.value = value;
      Check(store->Put(put, ++index, nullptr).status(), "put");
      took.push_back(std::chrono::duration<double>(Clock::now() - t).count());
      ++done;
    }
    double cpu = ThreadCpuSeconds() - cpu_start;
    long blocked = ThreadBlockedCount() - blocked_start;
    double process_cpu = ProcessCpuSeconds() - process_cpu_start;
    double s = std::chrono::duration<double>(Clock::now() - start).count();
    std::sort(took.begin(), took.end());
    auto at = [&](double q) { return took[static_cast<size_t>(q * (took.size() - 1))] * 1e3; };
    std::printf(
        "%-34s %9ld ops in %6.2f s: %10.0f ops/s, p99 %.2f ms, p99.9 %.2f ms, "
        "slowest %.1f ms\n",
        name, done, s, done / s, at(0.99), at(0.999), took.back() * 1e3);
    std::printf(
        "%-34s cpu per put: writer %.1f us, whole process %.1f us; writer blocked %.2f "
        "times/1000 puts\n",
        "", cpu / done * 1e6, process_cpu / done * 1e6,
        1000.0 * static_cast<double>(blocked) / static_cast<double>(done));
  };
  auto stats_before = wt_stats ? WtStats(db->get()) : std::map<std::string, int64_t>{};
  auto print_stats = [&](const char* phase) {
    if (!wt_stats) return;
    auto now = WtStats(db->get());
    std::printf("  WiredTiger statistics that moved during %s:\n", phase);
    PrintWtStatsDelta(stats_before, now, std::strcmp(stats_env, "all") == 0);
    stats_before = std::move(now);
  };
  print_stats("the runs before");
  timed_puts("put, no compaction", alone_puts, nullptr);
  print_stats("puts without compaction");
  int64_t revisions = store->current_revision();
  Check(store->Compact(revisions, ++index).status(), "compact");
  std::atomic<bool> compacted{false};
  double compaction_s = 0;
  double compaction_cpu_s = 0;
  std::thread compactor([&] {
    auto start = Clock::now();
    double cpu_start = ThreadCpuSeconds();
    Check(store->RunCompaction(batch, std::chrono::milliseconds(pause_ms)), "run compaction");
    compaction_cpu_s = ThreadCpuSeconds() - cpu_start;
    compaction_s = std::chrono::duration<double>(Clock::now() - start).count();
    compacted = true;
  });
  timed_puts("put, while compaction runs", 0, &compacted);
  compactor.join();
  print_stats("puts while compaction runs");
  std::printf("compaction of %lld revisions to %llu keys: %.2f s, compactor cpu %.2f s\n",
              static_cast<long long>(revisions), static_cast<unsigned long long>(keys),
              compaction_s, compaction_cpu_s);
  return 0;
}
