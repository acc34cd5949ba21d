// The watch hub: Notify's live delivery, the dispatcher's catch-up rounds, progress and the
// streams' queues (the model is described in hub.h).
#include "watch/hub.h"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <limits>
#include <utility>

#include "base/etcd_errors.h"
#include "base/log.h"

namespace cairn::watch {

namespace {

// The stream whose WakeFn this thread is running, so that Close called from inside it
// does not wait for itself.
thread_local const void* tls_waking_stream = nullptr;

}  // namespace

struct Hub::Watcher {
  enum class State { kSynced, kUnsynced, kRemoved };

  int64_t id = 0;
  uint64_t seq = 0;  // unique in the hub, never reused: names the watcher outside mu_
  KeyRange range;
  bool prev_kv = false;
  bool fragment = false;
  bool progress_notify = false;
  bool no_put = false;
  bool no_delete = false;
  StreamState* stream = nullptr;

  // Guarded by Hub::mu_.
  State state = State::kSynced;
  // Synced: the lowest revision it accepts (above the hub's for a future start revision).
  // Unsynced: the first revision it has not received.
  int64_t next_rev = 0;
  // etcd's per-watcher progress flag: no events since the last progress round.
  bool progress_due = true;

  bool Wants(const mvcc::Event& e) const {
    if (no_put && e.type == mvcc::Event::Type::kPut) return false;
    if (no_delete && e.type == mvcc::Event::Type::kDelete) return false;
    return range.Contains(e.kv.key);
  }
};

struct Hub::StreamState : std::enable_shared_from_this<StreamState> {
  explicit StreamState(WakeFn w) : wake(std::move(w)) {}

  const WakeFn wake;

  // Guarded by Hub::mu_.
  std::map<int64_t, std::unique_ptr<Watcher>> watchers;  // owns them
  int64_t next_id = 0;                                   // etcd 3.5: per stream, from 0
  bool closed = false;
  bool deferred_progress = false;
  // Written under Hub::mu_; TryPop reads it without, to decide whether to kick.
  std::atomic<size_t> unsynced{0};

  mutable std::mutex queue_mu;  // after Hub::mu_ in the lock order
  std::condition_variable wakes_done;
  std::deque<Response> queue;  // guarded by queue_mu
  bool queue_closed = false;   // guarded by queue_mu
  int wakes_in_flight = 0;     // guarded by queue_mu
};

// ---- Hub ----

Hub::Hub(storage::Db* db, const mvcc::Store* store, HubOptions options)
    : db_(db), store_(store), options_(std::move(options)) {}

Result<std::unique_ptr<Hub>> Hub::Start(storage::Db* db, const mvcc::Store* store,
                                        HubOptions options) {
  if (options.stream_queue_capacity == 0) {
    return InvalidArgument("watch: stream_queue_capacity must be at least 1");
  }
  if (options.progress_interval <= Clock::duration::zero()) {
    return InvalidArgument("watch: progress_interval must be positive");
  }
  std::unique_ptr<Hub> hub(new Hub(db, store, std::move(options)));
  hub->rev_ = store->current_revision();
  hub->dispatcher_ = std::thread([h = hub.get()] { h->DispatcherLoop(); });
  return hub;
}

Hub::~Hub() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    assert(streams_.empty() && "every watch::Stream must be destroyed before its Hub");
  }
  {
    std::lock_guard<std::mutex> lock(dispatcher_mu_);
    stopping_ = true;
  }
  dispatcher_cv_.notify_all();
  if (dispatcher_.joinable()) dispatcher_.join();
}

std::unique_ptr<Stream> Hub::OpenStream(WakeFn wake) {
  auto state = std::make_shared<StreamState>(std::move(wake));
  {
    std::lock_guard<std::mutex> lock(mu_);
    streams_.insert(state.get());
  }
  return std::unique_ptr<Stream>(new Stream(this, std::move(state)));
}

int64_t Hub::revision() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rev_;
}

Hub::Counts Hub::counts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return Counts{streams_.size(), synced_count_, unsynced_.size(), victims_total_};
}

void Hub::Notify(int64_t revision, const std::vector<mvcc::Event>& events) {
  WakeList wakes;
  bool victims = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (revision <= rev_) return;
    rev_ = revision;
    if (events.empty()) return;

    // Each synced watcher's share of the revision, in the revision's order.
    std::vector<std::pair<Watcher*, std::vector<const mvcc::Event*>>> hits;
    std::unordered_map<Watcher*, size_t> slot;
    auto hit = [&](Watcher* w, const mvcc::Event& e) {
      if (revision < w->next_rev || !w->Wants(e)) return;
      auto [it, added] = slot.try_emplace(w, hits.size());
      if (added) hits.emplace_back(w, std::vector<const mvcc::Event*>());
      hits[it->second].second.push_back(&e);
    };
    for (const mvcc::Event& e : events) {
      auto keyed = synced_keys_.find(e.kv.key);
      if (keyed != synced_keys_.end()) {
        for (Watcher* w : keyed->second) hit(w, e);
      }
      for (Watcher* w : synced_ranges_) hit(w, e);
    }

    for (auto& [w, evs] : hits) {
      Response r;
      r.watch_id = w->id;
      r.revision = revision;
      r.events.reserve(evs.size());
      for (const mvcc::Event* e : evs) {
        r.events.push_back(*e);
        if (!w->prev_kv) r.events.back().prev_kv.reset();
      }
      if (PushLocked(w->stream, std::move(r), false, w->fragment, &wakes)) {
        w->next_rev = revision + 1;
        w->progress_due = false;
      } else {
        // The stream is behind: this watcher takes this revision from history later.
        MakeUnsyncedLocked(w, revision);
        ++victims_total_;
        victims = true;
      }
    }
  }
  RunWakes(wakes);
  if (victims) KickDispatcher();
}

void Hub::Restore(int64_t revision) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (revision <= rev_) return;
    std::vector<Watcher*> synced(synced_ranges_.begin(), synced_ranges_.end());
    for (const auto& [key, ws] : synced_keys_) synced.insert(synced.end(), ws.begin(), ws.end());
    // Each has every event up to rev_; what came after is in the new history only.
    for (Watcher* w : synced) MakeUnsyncedLocked(w, std::max(w->next_rev, rev_ + 1));
    rev_ = revision;
  }
  KickDispatcher();
}

void Hub::Tick(Clock::time_point now) {
  WakeList wakes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!next_progress_.has_value()) {
      next_progress_ = now + options_.progress_interval;
      return;
    }
    if (now < *next_progress_) return;
    next_progress_ = now + options_.progress_interval;
    for (Watcher* w : progress_watchers_) {
      // etcd: only a synced watcher gets one, and not when events went out since the last
      // round (they told the client as much).
      if (w->progress_due && w->state == Watcher::State::kSynced) {
        Response r;
        r.watch_id = w->id;
        r.revision = rev_;
        PushLocked(w->stream, std::move(r), true, false, &wakes);
      }
      w->progress_due = true;
    }
  }
  RunWakes(wakes);
}

int64_t Hub::CreateLocked(const std::shared_ptr<StreamState>& s, const CreateRequest& req,
                          WakeList* wakes) {
  if (s->closed) return kInvalidWatchId;
  Response r;
  r.revision = rev_;
  r.created = true;
  auto refuse = [&](std::string_view reason) {
    r.watch_id = kInvalidWatchId;
    r.canceled = true;
    r.cancel_reason.assign(reason);
    PushLocked(s.get(), std::move(r), true, false, wakes);
    return kInvalidWatchId;
  };
  // etcd answers a negative start revision as a compacted one, before anything else.
  if (req.start_revision < 0) return refuse(etcd::Compacted().message());
  KeyRange range(req.key, req.range_end);
  if (range.empty()) return refuse(kErrEmptyWatcherRange);
  int64_t id = req.watch_id;
  if (id == kAutoWatchId) {
    while (s->watchers.count(s->next_id) != 0) ++s->next_id;
    id = s->next_id++;
  } else if (s->watchers.count(id) != 0) {
    return refuse(kErrWatcherDuplicateId);
  }

  auto owned = std::make_unique<Watcher>();
  Watcher* w = owned.get();
  w->id = id;
  w->seq = next_seq_++;
  w->range = std::move(range);
  w->prev_kv = req.prev_kv;
  w->fragment = req.fragment;
  w->progress_notify = req.progress_notify;
  w->no_put = req.no_put;
  w->no_delete = req.no_delete;
  w->stream = s.get();
  s->watchers.emplace(id, std::move(owned));
  if (w->progress_notify) progress_watchers_.insert(w);

  r.watch_id = id;
  PushLocked(s.get(), std::move(r), true, false, wakes);

  if (req.start_revision == 0 || req.start_revision > rev_) {
    // Nothing to replay: synced from the next revision (or from a future start).
    w->state = Watcher::State::kUnsynced;  // MakeSyncedLocked expects to move it
    w->next_rev = std::max(rev_ + 1, req.start_revision);
    unsynced_.emplace(w->seq, w);
    ++s->unsynced;
    MakeSyncedLocked(w, wakes);
    return id;
  }
  w->state = Watcher::State::kUnsynced;
  w->next_rev = req.start_revision;
  unsynced_.emplace(w->seq, w);
  ++s->unsynced;
  int64_t compact = store_->compact_revision();
  // etcd's rule: history below the compacted revision is gone (the compacted revision
  // itself still reads).
  if (w->next_rev < compact) CompactedLocked(w, compact, wakes);
  return id;
}

void Hub::MakeSyncedLocked(Watcher* w, WakeList* wakes) {
  assert(w->state == Watcher::State::kUnsynced);
  unsynced_.erase(w->seq);
  --w->stream->unsynced;
  w->state = Watcher::State::kSynced;
  if (w->range.single()) {
    synced_keys_[w->range.key()].insert(w);
  } else {
    synced_ranges_.insert(w);
  }
  ++synced_count_;
  MaybeAnswerProgressLocked(w->stream, wakes);
}

void Hub::MakeUnsyncedLocked(Watcher* w, int64_t next_rev) {
  assert(w->state == Watcher::State::kSynced);
  if (w->range.single()) {
    auto it = synced_keys_.find(w->range.key());
    it->second.erase(w);
    if (it->second.empty()) synced_keys_.erase(it);
  } else {
    synced_ranges_.erase(w);
  }
  --synced_count_;
  w->state = Watcher::State::kUnsynced;
  w->next_rev = next_rev;
  unsynced_.emplace(w->seq, w);
  ++w->stream->unsynced;
}

void Hub::RemoveLocked(Watcher* w, WakeList* wakes) {
  StreamState* s = w->stream;
  if (w->state == Watcher::State::kSynced) {
    if (w->range.single()) {
      auto it = synced_keys_.find(w->range.key());
      it->second.erase(w);
      if (it->second.empty()) synced_keys_.erase(it);
    } else {
      synced_ranges_.erase(w);
    }
    --synced_count_;
  } else if (w->state == Watcher::State::kUnsynced) {
    unsynced_.erase(w->seq);
    --s->unsynced;
  }
  w->state = Watcher::State::kRemoved;
  progress_watchers_.erase(w);
  s->watchers.erase(w->id);  // destroys w
  MaybeAnswerProgressLocked(s, wakes);
}

void Hub::CompactedLocked(Watcher* w, int64_t compact_rev, WakeList* wakes) {
  Response r;
  r.watch_id = w->id;
  r.revision = rev_;
  r.canceled = true;
  r.compact_revision = compact_rev;
  PushLocked(w->stream, std::move(r), true, false, wakes);
  RemoveLocked(w, wakes);
}

void Hub::MaybeAnswerProgressLocked(StreamState* s, WakeList* wakes) {
  if (!s->deferred_progress || s->unsynced != 0) return;
  s->deferred_progress = false;
  RequestProgressLocked(s, wakes);
}

void Hub::RequestProgressLocked(StreamState* s, WakeList* wakes) {
  if (s->closed) return;
  if (s->unsynced != 0) {
    s->deferred_progress = true;
    return;
  }
  // etcd answers on behalf of the stream's watchers, so with none there is no answer.
  if (s->watchers.empty()) return;
  Response r;
  r.watch_id = kInvalidWatchId;
  r.revision = rev_;
  PushLocked(s, std::move(r), true, false, wakes);
}

bool Hub::PushLocked(StreamState* s, Response r, bool control, bool fragment, WakeList* wakes) {
  std::vector<Response> parts;
  if (fragment) {
    parts = Fragment(std::move(r), options_.max_request_bytes);
  } else {
    parts.push_back(std::move(r));
  }
  std::lock_guard<std::mutex> lock(s->queue_mu);
  if (s->queue_closed) return true;
  if (!control && s->queue.size() >= options_.stream_queue_capacity) return false;
  bool was_empty = s->queue.empty();
  for (Response& p : parts) s->queue.push_back(std::move(p));
  if (was_empty && s->wake) {
    ++s->wakes_in_flight;
    wakes->push_back(s->shared_from_this());
  }
  return true;
}

void Hub::RunWakes(const WakeList& wakes) {
  for (const std::shared_ptr<StreamState>& s : wakes) {
    bool call = false;
    {
      std::lock_guard<std::mutex> lock(s->queue_mu);
      call = !s->queue_closed;
    }
    if (call) {
      const void* outer = tls_waking_stream;
      tls_waking_stream = s.get();
      s->wake();
      tls_waking_stream = outer;
    }
    std::lock_guard<std::mutex> lock(s->queue_mu);
    --s->wakes_in_flight;
    s->wakes_done.notify_all();
  }
}

void Hub::CloseStream(StreamState* s) {
  WakeList unused;  // removing a closed stream's watchers queues nothing; kept for safety
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!s->closed) {
      s->closed = true;
      std::vector<Watcher*> all;
      for (auto& [id, w] : s->watchers) all.push_back(w.get());
      for (Watcher* w : all) RemoveLocked(w, &unused);
      streams_.erase(s);
    }
  }
  {
    std::lock_guard<std::mutex> lock(s->queue_mu);
    s->queue_closed = true;
    s->queue.clear();
  }
  RunWakes(unused);  // settles the count of any wake taken above; calls none
  std::unique_lock<std::mutex> lock(s->queue_mu);
  int self = tls_waking_stream == s ? 1 : 0;
  s->wakes_done.wait(lock, [&] { return s->wakes_in_flight <= self; });
}

void Hub::KickDispatcher() {
  {
    std::lock_guard<std::mutex> lock(dispatcher_mu_);
    dispatcher_kicked_ = true;
  }
  dispatcher_cv_.notify_one();
}

void Hub::DispatcherLoop() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(dispatcher_mu_);
      dispatcher_cv_.wait_for(lock, options_.idle_wait,
                              [&] { return stopping_ || dispatcher_kicked_; });
      if (stopping_) return;
      dispatcher_kicked_ = false;
    }
    if (options_.tick_from_dispatcher) Tick(Clock::now());
    while (true) {
      {
        std::lock_guard<std::mutex> lock(dispatcher_mu_);
        if (stopping_) return;
      }
      Result<bool> moved = CatchUpRound();
      if (!moved.ok()) {
        // A failed read leaves the watchers where they were; the next round retries.
        log::Warn("watch: catch-up round failed", {{"error", moved.status().ToString()}});
        break;
      }
      if (!*moved) break;
    }
  }
}

Result<bool> Hub::CatchUpRound() {
  // One unsynced watcher's share of the round, copied so it can be filled without mu_.
  struct Job {
    uint64_t seq = 0;
    int64_t next_rev = 0;
    KeyRange range;
    bool prev_kv = false;
    bool no_put = false;
    bool no_delete = false;
    bool compacted = false;
    std::vector<mvcc::Event> events;
  };
  std::vector<Job> jobs;
  bool moved = false;
  int64_t from = std::numeric_limits<int64_t>::max();
  int64_t to = 0;
  WakeList wakes;

  // 1. Choose: settle the watchers that need no reading, pick those with room.
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (unsynced_.empty()) return false;
    to = rev_;
    int64_t compact = store_->compact_revision();
    for (auto it = unsynced_.begin();
         it != unsynced_.end() && jobs.size() < options_.max_watchers_per_round;) {
      Watcher* w = it->second;
      ++it;  // w may leave unsynced_ below
      if (w->next_rev < compact) {
        CompactedLocked(w, compact, &wakes);
        moved = true;
        continue;
      }
      if (w->next_rev > to) {
        MakeSyncedLocked(w, &wakes);
        moved = true;
        continue;
      }
      {
        std::lock_guard<std::mutex> qlock(w->stream->queue_mu);
        if (w->stream->queue.size() >= options_.stream_queue_capacity) continue;
      }
      Job job;
      job.seq = w->seq;
      job.next_rev = w->next_rev;
      job.range = w->range;
      job.prev_kv = w->prev_kv;
      job.no_put = w->no_put;
      job.no_delete = w->no_delete;
      jobs.push_back(std::move(job));
      from = std::min(from, w->next_rev);
    }
  }
  RunWakes(wakes);
  wakes.clear();
  if (jobs.empty()) return moved;

  // 2. Read, without mu_: one snapshot, one bounded scan shared by every job.
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<HistorySnapshot> snap,
                         HistorySnapshot::Open(db_, *store_));
  const int64_t compact = snap->compact_revision();
  CAIRN_ASSIGN_OR_RETURN(HistoryBatch batch, snap->Read(KeyRange::All(), std::max(from, compact),
                                                        to, options_.catchup_limits));
  const int64_t last = batch.last_revision;
  // prev_kv is looked up once per event, whichever watchers want it.
  std::vector<std::optional<std::optional<mvcc::KeyValue>>> prev(batch.events.size());
  for (Job& job : jobs) {
    if (job.next_rev < compact) {
      job.compacted = true;
      continue;
    }
    for (size_t i = 0; i < batch.events.size(); ++i) {
      const mvcc::Event& e = batch.events[i];
      if (e.kv.mod_revision < job.next_rev) continue;
      bool wanted = job.range.Contains(e.kv.key) &&
                    !(job.no_put && e.type == mvcc::Event::Type::kPut) &&
                    !(job.no_delete && e.type == mvcc::Event::Type::kDelete);
      if (!wanted) continue;
      job.events.push_back(e);
      if (job.prev_kv) {
        if (!prev[i].has_value()) {
          mvcc::Event filled = e;
          CAIRN_RETURN_IF_ERROR(snap->FillPrevKv(&filled));
          prev[i] = std::move(filled.prev_kv);
        }
        job.events.back().prev_kv = *prev[i];
      }
    }
  }
  snap.reset();

  // 3. Deliver to the watchers still unsynced; make synced those that reached rev_.
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (Job& job : jobs) {
      auto it = unsynced_.find(job.seq);
      if (it == unsynced_.end()) continue;  // canceled or closed meanwhile
      Watcher* w = it->second;
      if (job.compacted) {
        CompactedLocked(w, compact, &wakes);
        moved = true;
        continue;
      }
      if (!job.events.empty()) {
        Response r;
        r.watch_id = w->id;
        r.revision = last;
        r.events = std::move(job.events);
        if (!PushLocked(w->stream, std::move(r), false, w->fragment, &wakes)) continue;
        w->progress_due = false;
      }
      if (last + 1 > w->next_rev) {
        w->next_rev = last + 1;
        moved = true;
      }
      if (w->next_rev > rev_) {
        MakeSyncedLocked(w, &wakes);
        moved = true;
      }
    }
  }
  RunWakes(wakes);
  return moved;
}

// ---- Stream ----

Stream::~Stream() {
  Close();
}

int64_t Stream::Create(const CreateRequest& req) {
  Hub::WakeList wakes;
  int64_t id;
  bool unsynced;
  {
    std::lock_guard<std::mutex> lock(hub_->mu_);
    id = hub_->CreateLocked(state_, req, &wakes);
    unsynced = state_->unsynced != 0;
  }
  Hub::RunWakes(wakes);
  if (unsynced) hub_->KickDispatcher();
  return id;
}

Status Stream::Cancel(int64_t watch_id) {
  Hub::WakeList wakes;
  {
    std::lock_guard<std::mutex> lock(hub_->mu_);
    auto it = state_->watchers.find(watch_id);
    if (state_->closed || it == state_->watchers.end()) {
      return NotFound(std::string(kErrWatcherNotExist));
    }
    Response r;
    r.watch_id = watch_id;
    r.revision = hub_->rev_;
    r.canceled = true;
    hub_->PushLocked(state_.get(), std::move(r), true, false, &wakes);
    hub_->RemoveLocked(it->second.get(), &wakes);
  }
  Hub::RunWakes(wakes);
  return Status::Ok();
}

void Stream::RequestProgress() {
  Hub::WakeList wakes;
  {
    std::lock_guard<std::mutex> lock(hub_->mu_);
    // Requests made while one is deferred fold into its answer, as etcd.
    if (!state_->deferred_progress) hub_->RequestProgressLocked(state_.get(), &wakes);
  }
  Hub::RunWakes(wakes);
}

std::optional<Response> Stream::TryPop() {
  std::optional<Response> out;
  size_t left = 0;
  {
    std::lock_guard<std::mutex> lock(state_->queue_mu);
    if (state_->queue.empty()) return out;
    out = std::move(state_->queue.front());
    state_->queue.pop_front();
    left = state_->queue.size();
  }
  // Room again for a watcher waiting to catch up: let the dispatcher know, at half empty
  // rather than on every pop.
  if (state_->unsynced.load() != 0 && left <= hub_->options_.stream_queue_capacity / 2) {
    hub_->KickDispatcher();
  }
  return out;
}

size_t Stream::queued() const {
  std::lock_guard<std::mutex> lock(state_->queue_mu);
  return state_->queue.size();
}

void Stream::Close() {
  hub_->CloseStream(state_.get());
}

}  // namespace cairn::watch
