// Benchmark: how long opening a database of N keys takes and how much memory it holds,
// to show that the key index lives on disk (opening scans nothing) and memory is bounded
// by WiredTiger's cache, not by the number of keys. Prints figures; asserts nothing.
//
//   bench_storage_open [keys=1000000] [value_bytes=100] [cache_mb=128]
//
// Fills a temporary directory through the MVCC store (txns of 1000 puts), closes it,
// then measures in a fresh process (exec of itself): open time of Db + LogStore + Store,
// RSS after opening, after 1000 random gets, and after a count over every key (which
// pulls the whole current table through the cache). The directory is removed at the end.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>

#include "mvcc/store.h"
#include "storage/log_store.h"
#include "storage/test_dir.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

long RssKiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

std::string Key(long i) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "/registry/pods/ns/%010ld", i);
  return buf;
}

void Check(const cairn::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

cairn::storage::DbOptions Options(long cache_mb) {
  cairn::storage::DbOptions options;
  options.cache_size_mb = static_cast<uint64_t>(cache_mb);
  options.checkpoint_interval_s = 0;
  return options;
}

int Fill(const std::string& dir, long keys, long value_bytes, long cache_mb) {
  auto start = Clock::now();
  auto db = cairn::storage::Db::Open(dir, Options(cache_mb));
  Check(db.status(), "open");
  auto store = cairn::mvcc::Store::Open(db->get());
  Check(store.status(), "store");
  std::string value(static_cast<size_t>(value_bytes), 'v');
  uint64_t index = 0;
  for (long i = 0; i < keys;) {
    cairn::mvcc::TxnRequest txn;
    for (long j = 0; j < 1000 && i < keys; ++j, ++i) {
      cairn::mvcc::PutRequest put;
      put.key = Key(i);
      put.value = value;
      txn.success.push_back(cairn::mvcc::RequestOp{std::move(put)});
    }
    Check((*store)->Txn(txn, ++index, nullptr).status(), "txn");
  }
  Check((*store)->Checkpoint().status(), "checkpoint");
  store->reset();
  db->reset();
  std::printf("fill: %ld keys of %ld-byte values in %.1f s\n", keys, value_bytes, Seconds(start));
  return 0;
}

int Measure(const std::string& dir, long keys, long cache_mb) {
  // WiredTiger 3.2 calibrates its tick counter once per process with a busy loop of 1e8
  // iterations in the first wiredtiger_open, whatever the data: time it apart on an
  // empty database so the figure below is the cost of opening this one.
  double calibration_s = 0;
  {
    cairn::storage::TempDir empty;
    auto start = Clock::now();
    auto conn = cairn::storage::Connection::Open(empty.path(), "create");
    Check(conn.status(), "empty open");
    calibration_s = Seconds(start);
  }
  long rss_before = RssKiB();
  auto start = Clock::now();
  auto db = cairn::storage::Db::Open(dir, Options(cache_mb));
  Check(db.status(), "open");
  auto log = cairn::storage::LogStore::Open(db->get());
  Check(log.status(), "log store");
  auto store = cairn::mvcc::Store::Open(db->get());
  Check(store.status(), "store");
  double open_s = Seconds(start);
  long rss_open = RssKiB();

  std::mt19937_64 rng(1);
  start = Clock::now();
  for (int i = 0; i < 1000; ++i) {
    cairn::mvcc::RangeRequest get;
    get.key = Key(static_cast<long>(rng() % static_cast<uint64_t>(keys)));
    auto r = (*store)->Range(get);
    Check(r.status(), "get");
    if (r->kvs.size() != 1) Check(cairn::Internal("key missing"), "get");
  }
  double gets_s = Seconds(start);
  long rss_gets = RssKiB();

  start = Clock::now();
  cairn::mvcc::RangeRequest all;
  all.key = std::string(1, '\0');
  all.range_end = std::string(1, '\0');
  all.count_only = true;
  auto count = (*store)->Range(all);
  Check(count.status(), "count");
  double count_s = Seconds(start);
  long rss_count = RssKiB();

  std::printf("keys in store:           %lld (revision %lld)\n",
              static_cast<long long>(count->count),
              static_cast<long long>((*store)->current_revision()));
  std::printf("first open in a process: %.3f s (empty database: WiredTiger's one-time setup)\n",
              calibration_s);
  std::printf("open (db+log+mvcc):      %.3f s (after that)\n", open_s);
  std::printf("RSS before open:         %.1f MiB\n", rss_before / 1024.0);
  std::printf("RSS after open:          %.1f MiB\n", rss_open / 1024.0);
  std::printf("RSS after 1000 gets:     %.1f MiB (%.0f gets/s cold)\n", rss_gets / 1024.0,
              1000 / gets_s);
  std::printf("RSS after full count:    %.1f MiB (count took %.2f s)\n", rss_count / 1024.0,
              count_s);
  std::printf("cache size:              %ld MiB; goal RSS < %ld MiB, open < 1 s\n", cache_mb,
              cache_mb + 100);
  return 0;
}

long DirKiB(const std::string& dir) {
  std::string cmd = "du -sk " + dir;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  long kib = -1;
  if (std::fscanf(p, "%ld", &kib) != 1) kib = -1;
  pclose(p);
  return kib;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::strcmp(argv[1], "--measure") == 0) {
    return Measure(argv[2], std::atol(argv[3]), std::atol(argv[4]));
  }
  long keys = argc > 1 ? std::atol(argv[1]) : 1000000;
  long value_bytes = argc > 2 ? std::atol(argv[2]) : 100;
  long cache_mb = argc > 3 ? std::atol(argv[3]) : 128;
  cairn::storage::TempDir dir;
  if (dir.path().empty()) return 1;
  if (Fill(dir.path(), keys, value_bytes, cache_mb) != 0) return 1;
  std::printf("on disk: %.1f MiB\n", DirKiB(dir.path()) / 1024.0);
  std::fflush(stdout);
  // A fresh process, so the RSS is the open's alone.
  pid_t pid = fork();
  if (pid == 0) {
    std::string k = std::to_string(keys), c = std::to_string(cache_mb);
    execl("/proc/self/exe", argv[0], "--measure", dir.path().c_str(), k.c_str(), c.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
