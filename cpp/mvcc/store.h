// The MVCC key-value store: etcd 3.5's revisions, ranges, puts, deletes, txns, compaction
// and hashes, on the WiredTiger tables of cpp/storage (layout in mvcc/codec.h).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "mvcc/types.h"
#include "storage/db.h"

namespace cairn::mvcc {

// Thread safety: reads (Range, Hash, HashKV, the accessors) from any thread, each on a
// pooled session in a WiredTiger snapshot, so they neither block nor see a write half
// done. Writes (Put, DeleteRange, Txn, Compact, SetAppliedIndex) are serialized inside;
// the server issues them from its apply thread. RunCompaction may run on another thread
// alongside writes: it deletes only revisions no read or write can need any more.
class Store {
 public:
  // Opens the store on `db` (which must outlive it), reading only the meta record. A
  // compaction a crash interrupted is finished by calling RunCompaction after opening;
  // until then reads below it fail, as they should, and it only costs disk space.
  static Result<std::unique_ptr<Store>> Open(storage::Db* db);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  Result<RangeResponse> Range(const RangeRequest& req) const;
  // A txn without puts or deletes (nested ones included), decided and read in one snapshot
  // of the state, as a reader: etcd serves these without going through raft.
  Result<TxnResponse> ReadTxn(const TxnRequest& req) const;

  class Writer;

  // Several writes in one WiredTiger transaction, for the apply thread: a run of committed
  // entries pays for one transaction, one set of cursors and one meta update instead of
  // one each. Each write gets its own revision and events as if alone; readers see none of
  // them, and current_revision() and applied_index() do not move, until Commit. A write
  // etcd refuses before changing anything leaves the batch going. One that fails after
  // changing something (a bug, or the storage failing) breaks the batch: Commit refuses
  // it and the caller must roll back by destroying it. Holds the store's write lock from
  // BeginBatch until committed or destroyed (which rolls back).
  class Batch {
   public:
    ~Batch();
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;

    Result<PutResponse> Put(const PutRequest& req, std::vector<Event>* events);
    Result<DeleteRangeResponse> DeleteRange(const DeleteRangeRequest& req,
                                            std::vector<Event>* events);
    Result<TxnResponse> Txn(const TxnRequest& req, std::vector<Event>* events);
    Result<CompactResponse> Compact(int64_t revision);
    bool broken() const { return broken_; }
    // Stores `applied_index` (the last entry the batch applied) and the new revision, and
    // commits.
    Status Commit(uint64_t applied_index);

   private:
    friend class Store;
    Batch(Store* store, std::unique_lock<std::mutex> lock);
    Status Open();
    template <typename Fn>
    auto Run(std::vector<Event>* events, Fn fn) -> decltype(fn(std::declval<Writer*>()));

    Store* store_;
    std::unique_lock<std::mutex> lock_;
    std::optional<storage::Transaction> txn_;
    std::unique_ptr<Writer> writer_;
    bool broken_ = false;
  };
  Result<std::unique_ptr<Batch>> BeginBatch();

  // A batch of one write that also stores `applied_index` (the raft entry being applied),
  // appends the events it produced to `events` (may be null) and bumps the revision only
  // when it changed something. A refused write still stores the applied index, so that
  // replay after a crash does not apply the entry again.
  Result<PutResponse> Put(const PutRequest& req, uint64_t applied_index,
                          std::vector<Event>* events);
  Result<DeleteRangeResponse> DeleteRange(const DeleteRangeRequest& req, uint64_t applied_index,
                                          std::vector<Event>* events);
  Result<TxnResponse> Txn(const TxnRequest& req, uint64_t applied_index,
                          std::vector<Event>* events);
  // Marks every revision below `revision` compacted (reads there fail from now on) and
  // schedules their removal, which RunCompaction does. etcd's errors: Compacted when at or
  // below the compacted revision, FutureRev when above the current one.
  Result<CompactResponse> Compact(int64_t revision, uint64_t applied_index);
  // Checkpoints the database and returns an applied index it made durable: the raft log
  // may be compacted below it, since replay after a crash starts above it.
  Result<uint64_t> Checkpoint();
  // Stores the applied index of a raft entry that does not touch the MVCC state.
  Status SetAppliedIndex(uint64_t applied_index);
  // Reads the meta record again, after the tables were replaced underneath (a raft
  // snapshot installed by the server).
  Status Reload();

  // Removes what the scheduled compaction made unreachable, in transactions of at most
  // about `batch` revisions each, pausing `pause` between them (etcd's defaults: 1000
  // and 10 ms; the pause is never shorter than the batch took), so writers are never held
  // up by more than one batch and keep most of the machine. Resumes after a crash where the last
  // committed batch left off.
  Status RunCompaction(size_t batch = 1000,
                       std::chrono::microseconds pause = std::chrono::milliseconds(10));
  // One batch of RunCompaction: true when nothing is left.
  Result<bool> CompactBatch(size_t batch);

  // crc32c over every revision held (etcd's Hash, for the whole key space).
  Result<HashResult> Hash() const;
  // etcd's HashKV: crc32c over the revisions in (compacted, revision] plus those at or
  // below the compacted revision that are still a live key's latest at `revision`; equal
  // on members with the same history whether or not their compaction has finished.
  // revision 0: the current one.
  Result<HashResult> HashKV(int64_t revision) const;

  int64_t current_revision() const { return current_rev_.load(); }
  int64_t compact_revision() const { return compact_rev_.load(); }
  uint64_t applied_index() const { return applied_index_.load(); }

 private:
  class View;

  explicit Store(storage::Db* db) : db_(db) {}
  Status Load();
  // Runs `fn` in a batch of its own that also stores the applied index; when fn fails as
  // etcd refuses a request, stores only the applied index.
  template <typename Fn>
  auto Write(uint64_t applied_index, Fn fn) -> decltype(fn(std::declval<Batch*>()));

  storage::Db* db_;
  std::mutex write_mu_;
  std::unique_ptr<storage::Session> writer_session_;  // guarded by write_mu_ (a Batch holds it)
  // A compaction run to one target, fixed when the run starts (a later Compact starts
  // another run after it). Two passes, each walking one table in its own order, so that a
  // batch's deletes land on a few adjacent pages: deletes scattered over a table dirty
  // most of its pages, and WiredTiger's eviction of those (its threads' and, past the dirty
  // trigger, the writer's own) is what slowed writers down, far more than the deletes.
  //   1. The index, key by key: drops every entry at or below the target but a live key's
  //      latest (and a revision kept by an earlier run that is now superseded: at most one
  //      per key).
  //   2. The revisions in (finished, target], in order: drops those without an index entry.
  // Reads never need what either pass drops. A crash loses only this in-memory state: the
  // run starts again, and what it already did does not need doing again.
  struct CompactionRun {
    int64_t target = 0;
    int64_t finished = 0;     // the finished_compact_rev the run started from
    bool index_done = false;  // pass 1 over, pass 2 going on
    std::string index_from;   // pass 1 resumes at this index key ("": the first)
    Revision rev_from;        // pass 2 resumes at this revision
  };
  Result<bool> CompactIndex(storage::Session* s, CompactionRun* run, size_t batch);
  Result<bool> CompactRevisions(storage::Session* s, CompactionRun* run, size_t batch);

  std::mutex compact_mu_;
  std::unique_ptr<storage::Session> compact_session_;  // guarded by compact_mu_
  std::optional<CompactionRun> compaction_;            // guarded by compact_mu_
  std::atomic<int64_t> current_rev_{1};
  std::atomic<int64_t> compact_rev_{-1};
  std::atomic<uint64_t> applied_index_{0};
};

}  // namespace cairn::mvcc
