// Property test: the store and a plain in-memory model of etcd's semantics get the same
// random operations and must give the same answers, events and revisions.
//
// The model is in mvcc/etcd_model.h. A second store with the same history runs its
// physical compaction at other moments, in other batch sizes, and must agree on HashKV.
// A failure prints its seed; CAIRN_SEED=<n> replays that seed alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "base/etcd_errors.h"
#include "mvcc/check.h"
#include "mvcc/etcd_model.h"
#include "mvcc/store.h"
#include "storage/test_dir.h"

namespace cairn::mvcc {
namespace {

using model::Gen;
using model::Model;

struct Member {
  storage::TempDir dir;
  std::unique_ptr<storage::Db> db;
  std::unique_ptr<Store> store;

  void Open() {
    store.reset();
    db.reset();
    storage::DbOptions options;
    options.checkpoint_interval_s = 0;
    options.cache_size_mb = 16;
    auto d = storage::Db::Open(dir.path(), options);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    db = std::move(*d);
    auto s = Store::Open(db.get());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store = std::move(*s);
  }
};

template <typename T>
void ExpectSame(const Result<T>& got, const Result<T>& want, const char* what) {
  ASSERT_EQ(got.status(), want.status())
      << what << ": " << got.status().ToString() << " vs " << want.status().ToString();
  if (want.ok()) {
    ASSERT_TRUE(*got == *want) << what << " responses differ";
  }
}

void RunSeed(uint64_t seed, int ops) {
  SCOPED_TRACE("seed " + std::to_string(seed) + " (replay with CAIRN_SEED=" + std::to_string(seed) +
               ")");
  Gen gen(seed);
  Model model;
  Member a, b;
  ASSERT_NO_FATAL_FAILURE(a.Open());
  ASSERT_NO_FATAL_FAILURE(b.Open());
  uint64_t index = 0;
  for (int step = 0; step < ops; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    int64_t cur = model.current();
    int64_t compact = a.store->compact_revision();
    std::vector<Event> want_events, got_events, b_events;
    ++index;
    int kind = gen.Int(0, 99);
    if (kind < 30) {
      PutRequest req = gen.Put();
      auto want = model.Put(req, &want_events);
      ExpectSame(a.store->Put(req, index, &got_events), want, "put");
      ExpectSame(b.store->Put(req, index, &b_events), want, "put on b");
    } else if (kind < 40) {
      DeleteRangeRequest req = gen.Delete();
      auto want = model.DeleteRange(req, &want_events);
      ExpectSame(a.store->DeleteRange(req, index, &got_events), want, "delete");
      ExpectSame(b.store->DeleteRange(req, index, &b_events), want, "delete on b");
    } else if (kind < 60) {
      TxnRequest req = gen.Txn(cur, compact, 2);
      auto want = model.Txn(req, &want_events);
      ExpectSame(a.store->Txn(req, index, &got_events), want, "txn");
      ExpectSame(b.store->Txn(req, index, &b_events), want, "txn on b");
    } else if (kind < 64) {
      int64_t rev =
          gen.Int(static_cast<int>(std::max<int64_t>(compact - 1, 0)), static_cast<int>(cur + 1));
      auto want = model.Compact(rev);
      auto got = a.store->Compact(rev, index);
      ASSERT_EQ(got.status(), want.status()) << "compact " << rev;
      if (want.ok()) {
        ASSERT_EQ(got->revision, want->revision);
      }
      ASSERT_EQ(b.store->Compact(rev, index).status(), want.status());
    } else {
      --index;  // reads are not raft entries
      RangeRequest req = gen.Range(cur, compact);
      auto want = model.Range(req);
      ExpectSame(a.store->Range(req), want, "range");
      ExpectSame(b.store->Range(req), want, "range on b");
    }
    ASSERT_TRUE(got_events == want_events) << "events differ";
    ASSERT_TRUE(b_events == want_events) << "events on b differ";
    ASSERT_EQ(a.store->current_revision(), model.current());
    // b compacts physically now and then, in small batches; a only when it reopens.
    if (gen.Chance(10)) {
      auto done = b.store->CompactBatch(static_cast<size_t>(gen.Int(1, 5)));
      ASSERT_TRUE(done.ok()) << done.status().ToString();
    }
    if (gen.Chance(1)) {
      ASSERT_TRUE(a.store->RunCompaction(3, std::chrono::microseconds(0)).ok());
      ASSERT_NO_FATAL_FAILURE(a.Open());
      ASSERT_EQ(a.store->current_revision(), model.current());
      ASSERT_EQ(a.store->applied_index(), index);
    }
    if (gen.Chance(5)) {
      int64_t rev = gen.Chance(30) ? 0 : gen.Int(static_cast<int>(compact), static_cast<int>(cur));
      auto ha = a.store->HashKV(rev);
      auto hb = b.store->HashKV(rev);
      ASSERT_EQ(ha.status(), hb.status()) << "HashKV " << rev;
      if (ha.ok()) {
        ASSERT_EQ(ha->hash, hb->hash) << "HashKV " << rev;
        ASSERT_EQ(ha->compact_revision, hb->compact_revision);
        ASSERT_EQ(ha->hash_revision, hb->hash_revision);
      }
    }
  }
}

TEST(ModelTest, StoreAgreesWithTheModelOnRandomOperations) {
  if (const char* replay = std::getenv("CAIRN_SEED")) {
    RunSeed(std::strtoull(replay, nullptr, 10), 600);
    return;
  }
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    RunSeed(seed, 600);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace cairn::mvcc
