// The watch hub: every watcher of a member, the streams that multiplex them, live delivery
// from the apply thread and catch-up from the revision table on one dispatcher thread.
//
// A watcher is synced (it has every event up to the hub's revision, and Notify hands it the
// next ones as they are applied) or unsynced (it still needs events from `next_rev` on:
// created with an old start revision, or a victim whose stream queue was full when Notify
// had events for it). The dispatcher reads the history of unsynced watchers in bounded
// batches and makes them synced once they reach the hub's revision; both moves happen under
// the hub's lock, so a watcher sees every revision once, in order, whichever path it takes.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/status.h"
#include "mvcc/store.h"
#include "mvcc/types.h"
#include "storage/db.h"
#include "watch/history.h"
#include "watch/response.h"

namespace cairn::watch {

struct HubOptions {
  // Responses a stream may hold before Notify stops adding events to it: its watchers with
  // new events become unsynced and catch up from history once the stream drains. Control
  // responses (created, canceled, compacted, progress) are always added. etcd: chanBufLen.
  size_t stream_queue_capacity = 128;
  // Progress notifications for watchers created with progress_notify.
  // etcd: --watch-progress-notify-interval.
  std::chrono::steady_clock::duration progress_interval = std::chrono::minutes(10);
  // Responses of fragment watchers at or above this estimated size are split. The server
  // passes etcd's --max-request-bytes plus gRPC's overhead, as etcd does.
  size_t max_request_bytes = 1536 * 1024 + 512 * 1024;
  // Per dispatcher round: history read in one snapshot, watchers served.
  HistoryLimits catchup_limits;
  size_t max_watchers_per_round = 512;  // etcd: maxWatchersPerSync
  // When true the dispatcher calls Tick(steady_clock::now()) itself; tests turn it off and
  // call Tick with the times they choose.
  bool tick_from_dispatcher = true;
  // How long the dispatcher sleeps with nothing to do; it checks compaction and ticks then.
  std::chrono::milliseconds idle_wait{100};
};

class Hub;
class Stream;

// Called when a stream's queue goes from empty to non-empty, with no hub or stream lock
// held; the rpc layer starts popping (TryPop) in answer. It runs on whichever thread added
// the response (the apply thread in Notify, the dispatcher, or a thread calling the
// stream's methods), possibly on two threads at once, so it must be quick, must not block,
// and must not destroy the stream (Close from inside it is fine). It may also come while
// the rpc layer is still writing the response it popped last (the queue was empty, not
// idle), so the rpc layer keeps its own "write in flight" flag. After Stream::Close
// returns it is never called again.
using WakeFn = std::function<void()>;

// One member's watch hub. Thread safety: every method may be called from any thread.
// Notify must be called by one thread at a time (the member's applier) in revision order.
class Hub {
 public:
  // Starts the dispatcher thread. `db` and `store` must outlive the hub; the hub's revision
  // starts at store->current_revision().
  static Result<std::unique_ptr<Hub>> Start(storage::Db* db, const mvcc::Store* store,
                                            HubOptions options = {});
  // Stops the dispatcher. Every Stream must have been destroyed before.
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // A new stream (one Watch RPC). `wake` may be empty for a caller that polls.
  std::unique_ptr<Stream> OpenStream(WakeFn wake);

  // The events `revision` produced, all of them, in order; called after the write
  // committed. A revision at or below the hub's is ignored; events may be empty (the
  // revision still advances). Never blocks on a watcher and does no I/O.
  void Notify(int64_t revision, const std::vector<mvcc::Event>& events);

  // After the store's state was replaced (a raft snapshot installed) up to `revision`:
  // the hub did not see the revisions in between, so every synced watcher becomes unsynced
  // and catches up from the new revision table (or is canceled as compacted), as etcd's
  // watchable store does on Restore. A revision at or below the hub's changes nothing.
  void Restore(int64_t revision);

  // Sends progress notifications when a progress interval has passed since the last round
  // (the first call only starts the clock). A watcher with progress_notify gets one when it
  // is synced and received no events during the interval before, as etcd.
  void Tick(std::chrono::steady_clock::time_point now);

  // The last revision notified: every synced watcher has every event up to it.
  int64_t revision() const;

  // For metrics and tests (etcd's watch_stream, watcher and slow_watcher gauges).
  struct Counts {
    size_t streams = 0;
    size_t synced = 0;
    size_t unsynced = 0;
    uint64_t victims_total = 0;  // watchers Notify found a full queue for, since Start
  };
  Counts counts() const;

 private:
  friend class Stream;
  struct Watcher;
  struct StreamState;
  using Clock = std::chrono::steady_clock;

  Hub(storage::Db* db, const mvcc::Store* store, HubOptions options);

  // All below with mu_ held (the name says "Locked"); `wakes` collects the streams whose
  // wake function must run once mu_ is released.
  using WakeList = std::vector<std::shared_ptr<StreamState>>;
  int64_t CreateLocked(const std::shared_ptr<StreamState>& s, const CreateRequest& req,
                       WakeList* wakes);
  void RemoveLocked(Watcher* w, WakeList* wakes);
  void MakeSyncedLocked(Watcher* w, WakeList* wakes);
  void MakeUnsyncedLocked(Watcher* w, int64_t next_rev);
  void CompactedLocked(Watcher* w, int64_t compact_rev, WakeList* wakes);
  void MaybeAnswerProgressLocked(StreamState* s, WakeList* wakes);
  void RequestProgressLocked(StreamState* s, WakeList* wakes);
  // Adds to the stream's queue: control responses always, event responses only when there
  // is room (false when there is not). Splits for fragment watchers.
  bool PushLocked(StreamState* s, Response r, bool control, bool fragment, WakeList* wakes);
  void CloseStream(StreamState* s);

  static void RunWakes(const WakeList& wakes);
  void KickDispatcher();
  void DispatcherLoop();
  // One catch-up round; true when it moved some watcher forward.
  Result<bool> CatchUpRound();

  storage::Db* const db_;
  const mvcc::Store* const store_;
  const HubOptions options_;

  // Lock order: mu_, then a stream's queue_mu. Never held across I/O or a WakeFn.
  mutable std::mutex mu_;
  int64_t rev_ = 0;  // guarded by mu_
  // Synced watchers, indexed for Notify: single keys by key, ranges in one set.
  std::unordered_map<std::string, std::unordered_set<Watcher*>> synced_keys_;  // guarded by mu_
  std::unordered_set<Watcher*> synced_ranges_;                                 // guarded by mu_
  size_t synced_count_ = 0;                                                    // guarded by mu_
  std::map<uint64_t, Watcher*> unsynced_;  // by creation order, for fairness; guarded by mu_
  std::unordered_set<Watcher*> progress_watchers_;  // guarded by mu_
  std::unordered_set<StreamState*> streams_;        // guarded by mu_
  uint64_t next_seq_ = 0;                           // guarded by mu_
  uint64_t victims_total_ = 0;                      // guarded by mu_
  std::optional<Clock::time_point> next_progress_;  // guarded by mu_

  std::mutex dispatcher_mu_;
  std::condition_variable dispatcher_cv_;
  bool dispatcher_kicked_ = false;  // guarded by dispatcher_mu_
  bool stopping_ = false;           // guarded by dispatcher_mu_
  std::thread dispatcher_;
};

// The watchers of one Watch RPC and the queue of responses waiting to be written.
// Thread safety: every method may be called from any thread, concurrently (the rpc layer's
// reader calls Create/Cancel/RequestProgress while its writer calls TryPop). Destroy it
// before the Hub.
class Stream {
 public:
  ~Stream();  // Close()
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // etcd's WatchCreateRequest. The answer is queued: created with the watcher's id, or
  // created + canceled with id -1 and cancel_reason for an empty range, a taken watch_id
  // or a negative start revision. A start revision below the compacted one is answered
  // created, then canceled with compact_revision. Returns the id, or -1 when refused.
  int64_t Create(const CreateRequest& req);
  // Removes the watcher and queues canceled; nothing more of it follows. Unknown id:
  // NotFound with etcd's text, and nothing is queued (etcd sends nothing either).
  Status Cancel(int64_t watch_id);
  // etcd 3.5's WatchProgressRequest: when every watcher of the stream is synced, queues a
  // response with watch_id -1 and the hub's revision, after every event up to it. Otherwise
  // it is answered when the last unsynced one becomes synced (requests made meanwhile fold
  // into that one answer). A stream without watchers gets no answer, as in etcd.
  void RequestProgress();

  // The next response, if any; one at a time, in order.
  std::optional<Response> TryPop();
  size_t queued() const;

  // Cancels every watcher silently and drops the queue; waits for a WakeFn running on
  // another thread to return. Idempotent; TryPop returns nothing afterwards.
  void Close();

 private:
  friend class Hub;
  Stream(Hub* hub, std::shared_ptr<Hub::StreamState> state) : hub_(hub), state_(std::move(state)) {}
  Hub* const hub_;
  const std::shared_ptr<Hub::StreamState> state_;
};

}  // namespace cairn::watch
