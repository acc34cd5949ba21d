// Crash test: a forked writer appends to the raft log and applies to the MVCC store as
// a member does, and dies (SIGKILL at a random moment, or _exit at a random op) many
// times over one database. After each death the database is reopened, the raft log
// replayed above the stored applied index, and then: every log entry the writer was told
// was synced is there, and the state equals the model's after the same entries.
// A failure prints its seed; CAIRN_SEED=<n> replays it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "mvcc/etcd_model.h"
#include "mvcc/store.h"
#include "storage/log_store.h"
#include "storage/test_dir.h"

namespace cairn::mvcc {
namespace {

using model::Gen;
using model::Model;

// The request carried by log entry `index`: derived from the seed and the index, and from
// the revisions at apply time (equal in store and model as long as they agree).
struct Op {
  int kind = 0;  // 0 put, 1 delete, 2 txn, 3 compact
  PutRequest put;
  DeleteRangeRequest del;
  TxnRequest txn;
  int64_t compact_rev = 0;
};

Op MakeOp(uint64_t seed, uint64_t index, int64_t cur, int64_t compact) {
  Gen g(seed * 1000003 + index);
  Op op;
  int k = g.Int(0, 99);
  if (k < 50) {
    op.kind = 0;
    op.put = g.Put();
  } else if (k < 65) {
    op.kind = 1;
    op.del = g.Delete();
  } else if (k < 96) {
    op.kind = 2;
    op.txn = g.Txn(cur, compact, 1);
  } else {
    op.kind = 3;
    op.compact_rev =
        g.Int(static_cast<int>(std::max<int64_t>(compact - 1, 0)), static_cast<int>(cur + 1));
  }
  return op;
}

// Applies entry `index`; only storage failures are errors (etcd's refusals are results).
Status ApplyToStore(Store* store, uint64_t seed, uint64_t index) {
  Op op = MakeOp(seed, index, store->current_revision(), store->compact_revision());
  Status s;
  switch (op.kind) {
    case 0: s = store->Put(op.put, index, nullptr).status(); break;
    case 1: s = store->DeleteRange(op.del, index, nullptr).status(); break;
    case 2: s = store->Txn(op.txn, index, nullptr).status(); break;
    default: s = store->Compact(op.compact_rev, index).status(); break;
  }
  if (s.code() == Code::kInvalidArgument || s.code() == Code::kOutOfRange) return Status::Ok();
  return s;
}

void ApplyToModel(Model* m, uint64_t seed, uint64_t index) {
  Op op = MakeOp(seed, index, m->current(), m->compacted());
  std::vector<Event> events;
  switch (op.kind) {
    case 0: m->Put(op.put, &events).status().IgnoreError(); break;
    case 1: m->DeleteRange(op.del, &events).status().IgnoreError(); break;
    case 2: m->Txn(op.txn, &events).status().IgnoreError(); break;
    default: m->Compact(op.compact_rev).status().IgnoreError(); break;
  }
}

struct Member {
  std::unique_ptr<storage::Db> db;
  std::unique_ptr<storage::LogStore> log;
  std::unique_ptr<Store> store;

  Status Open(const std::string& dir) {
    storage::DbOptions options;
    options.cache_size_mb = 16;
    options.checkpoint_interval_s = 1;
    CAIRN_ASSIGN_OR_RETURN(db, storage::Db::Open(dir, options));
    CAIRN_ASSIGN_OR_RETURN(log, storage::LogStore::Open(db.get()));
    CAIRN_ASSIGN_OR_RETURN(store, Store::Open(db.get()));
    return Status::Ok();
  }
  // Recovery: apply the entries above the applied index the state tables hold.
  Status Replay(uint64_t seed) {
    CAIRN_ASSIGN_OR_RETURN(uint64_t last, log->LastIndex());
    for (uint64_t i = store->applied_index() + 1; i <= last; ++i) {
      CAIRN_ASSIGN_OR_RETURN(auto entries, log->Entries(i, i + 1, raft::kNoLimit));
      if (entries[0].data != std::to_string(i)) return DataLoss("entry " + std::to_string(i));
      CAIRN_RETURN_IF_ERROR(ApplyToStore(store.get(), seed, i));
    }
    return Status::Ok();
  }
  void Close() {
    store.reset();
    log.reset();
    db.reset();
  }
};

[[noreturn]] void Fail(const char* what, const Status& s) {
  std::fprintf(stderr, "writer: %s: %s\n", what, s.ToString().c_str());
  _exit(2);
}

// The writer: recover, then append batches (one synced Save each, reported on `fd`
// once it returned) and apply them, checkpointing, compacting the log below the durable
// applied index and running MVCC compaction now and then. Never returns.
[[noreturn]] void Writer(const std::string& dir, uint64_t seed, int round, int fd, int exit_after) {
  Member m;
  if (Status s = m.Open(dir); !s.ok()) Fail("open", s);
  if (Status s = m.Replay(seed); !s.ok()) Fail("replay", s);
  std::mt19937_64 rng(seed * 7919 + static_cast<uint64_t>(round));
  int applied = 0;
  while (true) {
    uint64_t last = *m.log->LastIndex();
    uint64_t n = 1 + rng() % 8;
    std::vector<raft::Entry> entries;
    for (uint64_t i = last + 1; i <= last + n; ++i) {
      raft::Entry e;
      e.term = 1;
      e.index = i;
      e.data = std::to_string(i);
      entries.push_back(std::move(e));
    }
    if (Status s = m.log->Save(raft::HardState{1, 1, last + n}, entries); !s.ok()) {
      Fail("save", s);
    }
    uint64_t synced = last + n;
    if (write(fd, &synced, sizeof synced) != sizeof synced) _exit(3);
    for (const raft::Entry& e : entries) {
      if (Status s = ApplyToStore(m.store.get(), seed, e.index); !s.ok()) Fail("apply", s);
      if (++applied == exit_after) _exit(0);
    }
    if (rng() % 16 == 0) {
      auto durable = m.store->Checkpoint();
      if (!durable.ok()) Fail("checkpoint", durable.status());
      uint64_t first = *m.log->FirstIndex();
      if (*durable >= first + 8) {
        if (Status s = m.log->Compact(*durable - 8); !s.ok()) Fail("log compact", s);
      }
    }
    if (rng() % 8 == 0) {
      auto done = m.store->CompactBatch(1 + rng() % 16);
      if (!done.ok()) Fail("compact batch", done.status());
    }
  }
}

TEST(CrashTest, KilledWritersLoseNoSyncedEntryAndRecoverTheModelsState) {
  uint64_t seed = 42;
  if (const char* s = std::getenv("CAIRN_SEED")) seed = std::strtoull(s, nullptr, 10);
  SCOPED_TRACE("seed " + std::to_string(seed) + " (replay with CAIRN_SEED=" + std::to_string(seed) +
               ")");
  std::mt19937_64 rng(seed);
  storage::TempDir dir;
  Model model;
  uint64_t model_index = 0;
  std::map<uint64_t, int64_t> rev_at_index = {{0, 1}};  // the model's revision after entry i
  uint64_t total_entries_seen = 0;
  uint64_t replayed = 0;  // entries applied by recovery: the state tables were behind
  for (int round = 0; round < 20; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    int exit_after = rng() % 3 == 0 ? static_cast<int>(1 + rng() % 300) : -1;
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      Writer(dir.path(), seed, round, fds[1], exit_after);
    }
    close(fds[1]);
    if (exit_after < 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 700));
      kill(pid, SIGKILL);
    }
    int wstatus = 0;
    ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
    uint64_t synced = 0, v = 0;
    while (read(fds[0], &v, sizeof v) == sizeof v) synced = std::max(synced, v);
    close(fds[0]);
    bool died_as_planned = (WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL) ||
                           (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
    ASSERT_TRUE(died_as_planned) << "writer failed, wait status " << wstatus;

    Member m;
    ASSERT_TRUE(m.Open(dir.path()).ok());
    uint64_t first = *m.log->FirstIndex();
    uint64_t last = *m.log->LastIndex();
    ASSERT_GE(last, synced) << "a synced entry is missing";
    // Entries replay needs were never compacted away.
    ASSERT_LE(first, m.store->applied_index() + 1);
    auto all = m.log->Entries(first, last + 1, raft::kNoLimit);
    ASSERT_TRUE(all.ok()) << all.status().ToString();
    ASSERT_EQ(all->size(), last - first + 1);
    for (const raft::Entry& e : *all) ASSERT_EQ(e.data, std::to_string(e.index));
    // The model catches up with the log; the state tables are at some checkpoint.
    for (uint64_t i = model_index + 1; i <= last; ++i) {
      ApplyToModel(&model, seed, i);
      rev_at_index[i] = model.current();
    }
    model_index = std::max(model_index, last);
    uint64_t applied = m.store->applied_index();
    ASSERT_LE(applied, last);
    ASSERT_EQ(m.store->current_revision(), rev_at_index.at(applied));
    replayed += last - applied;
    ASSERT_TRUE(m.Replay(seed).ok());
    ASSERT_EQ(m.store->applied_index(), last);
    ASSERT_EQ(m.store->current_revision(), model.current());
    ASSERT_EQ(m.store->compact_revision(), model.compacted());
    int64_t lowest = std::max<int64_t>({1, model.compacted(), model.current() - 10});
    for (int64_t rev = lowest; rev <= model.current(); ++rev) {
      RangeRequest all_keys;
      all_keys.key = std::string(1, '\0');
      all_keys.range_end = std::string(1, '\0');
      all_keys.revision = rev;
      auto got = m.store->Range(all_keys);
      auto want = model.Range(all_keys);
      ASSERT_TRUE(got.ok() && want.ok()) << got.status().ToString();
      ASSERT_TRUE(*got == *want) << "state differs at revision " << rev;
    }
    total_entries_seen = last;
    m.Close();
  }
  std::printf("crash test: 20 deaths, %llu log entries, %llu replayed, final revision %lld\n",
              static_cast<unsigned long long>(total_entries_seen),
              static_cast<unsigned long long>(replayed), static_cast<long long>(model.current()));
  // The deaths must have caught the state tables behind the log, or recovery went untested.
  EXPECT_GT(replayed, 0u);
}

}  // namespace
}  // namespace cairn::mvcc
