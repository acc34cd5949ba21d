// Tests of the watch hub on a real Db and mvcc::Store: writes go through the Store with
// increasing applied indexes and their events to Notify, as the server's apply thread does.
#include "watch/hub.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/etcd_errors.h"
#include "storage/test_dir.h"
#include "watch/test_print.h"

namespace cairn::watch {
namespace {

using namespace std::string_literals;
using std::chrono::minutes;
using std::chrono::seconds;

// Generous: a deadline only turns a hang into a failure with a message; no test asserts on
// how fast anything happens.
constexpr auto kDeadline = seconds(60);

// One Watch RPC as the rpc layer drives it: a wake function and TryPop.
class Client {
 public:
  explicit Client(Hub* hub) {
    stream_ = hub->OpenStream([this] {
      std::lock_guard<std::mutex> lock(mu_);
      ++wakes_;
      cv_.notify_all();
    });
  }
  Stream& s() { return *stream_; }
  Stream* stream() { return stream_.get(); }

  // Pops what is queued now.
  std::vector<Response> Drain() {
    std::vector<Response> out;
    while (auto r = stream_->TryPop()) out.push_back(std::move(*r));
    got_.insert(got_.end(), out.begin(), out.end());
    return out;
  }
  // Pops until done(everything popped so far); false if the deadline passes first.
  bool PopUntil(const std::function<bool(const std::vector<Response>&)>& done) {
    auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (true) {
      Drain();
      if (done(got_)) return true;
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(5));
    }
  }
  const std::vector<Response>& got() const { return got_; }
  int wakes() {
    std::lock_guard<std::mutex> lock(mu_);
    return wakes_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int wakes_ = 0;
  std::vector<Response> got_;
  std::unique_ptr<Stream> stream_;  // last: closed first, so no wake reaches a dead Client
};

// The events a watcher received, fragments joined, in arrival order.
std::vector<mvcc::Event> EventsOf(const std::vector<Response>& rs, int64_t id) {
  std::vector<mvcc::Event> out;
  for (const Response& r : rs) {
    if (r.watch_id != id) continue;
    out.insert(out.end(), r.events.begin(), r.events.end());
  }
  return out;
}

int64_t LastRevisionOf(const std::vector<Response>& rs, int64_t id) {
  std::vector<mvcc::Event> evs = EventsOf(rs, id);
  return evs.empty() ? 0 : evs.back().kv.mod_revision;
}

// Events of one revision arrive in one response (or one fragmented series).
void ExpectRevisionsWhole(const std::vector<Response>& rs, int64_t id) {
  std::set<int64_t> seen;
  std::set<int64_t> current;
  for (const Response& r : rs) {
    if (r.watch_id != id || r.events.empty()) continue;
    for (const mvcc::Event& e : r.events) current.insert(e.kv.mod_revision);
    if (r.fragment) continue;
    for (int64_t rev : current) {
      EXPECT_TRUE(seen.insert(rev).second) << "revision " << rev << " split across responses";
    }
    current.clear();
  }
}

const Response* FindResponse(const std::vector<Response>& rs,
                             const std::function<bool(const Response&)>& pred) {
  for (const Response& r : rs) {
    if (pred(r)) return &r;
  }
  return nullptr;
}

class HubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::DbOptions options;
    options.checkpoint_interval_s = 0;
    options.cache_size_mb = 64;
    auto db = storage::Db::Open(dir_.path(), options);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    auto store = mvcc::Store::Open(db_.get());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }
  void TearDown() override { hub_.reset(); }

  void StartHub(HubOptions options = {}) {
    options.tick_from_dispatcher = false;
    auto hub = Hub::Start(db_.get(), store_.get(), options);
    ASSERT_TRUE(hub.ok()) << hub.status().ToString();
    hub_ = std::move(*hub);
  }

  // Applies like the server: the write, then Notify with its events. Returns the revision.
  int64_t Apply(const std::function<Status(std::vector<mvcc::Event>*)>& write) {
    std::vector<mvcc::Event> events;
    Status s = write(&events);
    EXPECT_TRUE(s.ok()) << s.ToString();
    int64_t rev = store_->current_revision();
    {
      std::lock_guard<std::mutex> lock(log_mu_);
      log_.insert(log_.end(), events.begin(), events.end());
    }
    hub_->Notify(rev, events);
    return rev;
  }
  int64_t Put(const std::string& k, const std::string& v) {
    return Apply([&](std::vector<mvcc::Event>* evs) {
      mvcc::PutRequest req;
      req.key = k;
      req.value = v;
      return store_->Put(req, ++index_, evs).status();
    });
  }
  int64_t Delete(const std::string& k, const std::string& end = "") {
    return Apply([&](std::vector<mvcc::Event>* evs) {
      mvcc::DeleteRangeRequest req;
      req.key = k;
      req.range_end = end;
      return store_->DeleteRange(req, ++index_, evs).status();
    });
  }
  // One revision putting every pair.
  int64_t PutMany(const std::vector<std::pair<std::string, std::string>>& kvs) {
    return Apply([&](std::vector<mvcc::Event>* evs) {
      mvcc::TxnRequest txn;
      for (const auto& [k, v] : kvs) {
        mvcc::PutRequest p;
        p.key = k;
        p.value = v;
        txn.success.push_back(mvcc::RequestOp{p});
      }
      return store_->Txn(txn, ++index_, evs).status();
    });
  }
  void Compact(int64_t rev) {
    auto r = store_->Compact(rev, ++index_);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_TRUE(store_->RunCompaction().ok());
  }

  // What a watcher must receive: the store's events in its range from `from` on.
  std::vector<mvcc::Event> Expected(const CreateRequest& req, int64_t from) {
    KeyRange range(req.key, req.range_end);
    std::vector<mvcc::Event> out;
    std::lock_guard<std::mutex> lock(log_mu_);
    for (mvcc::Event e : log_) {
      if (e.kv.mod_revision < from || !range.Contains(e.kv.key)) continue;
      if (req.no_put && e.type == mvcc::Event::Type::kPut) continue;
      if (req.no_delete && e.type == mvcc::Event::Type::kDelete) continue;
      if (!req.prev_kv) e.prev_kv.reset();
      out.push_back(std::move(e));
    }
    return out;
  }

  static CreateRequest Watch(std::string key, std::string end = "", int64_t start = 0) {
    CreateRequest req;
    req.key = std::move(key);
    req.range_end = std::move(end);
    req.start_revision = start;
    return req;
  }

  storage::TempDir dir_;
  std::unique_ptr<storage::Db> db_;
  std::unique_ptr<mvcc::Store> store_;
  std::unique_ptr<Hub> hub_;
  uint64_t index_ = 0;
  std::mutex log_mu_;
  std::vector<mvcc::Event> log_;  // every event applied, in order, with prev_kv
};

TEST_F(HubTest, CreateIsAnsweredWithTheWatchIdAndTheHubRevision) {
  StartHub();
  int64_t rev = Put("a", "1");
  Client c(hub_.get());
  EXPECT_EQ(c.s().Create(Watch("a")), 0);
  EXPECT_EQ(c.s().Create(Watch("b")), 1);
  std::vector<Response> rs = c.Drain();
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_TRUE(rs[0].created);
  EXPECT_FALSE(rs[0].canceled);
  EXPECT_EQ(rs[0].watch_id, 0);
  EXPECT_EQ(rs[0].revision, rev);
  EXPECT_EQ(rs[1].watch_id, 1);
  // The queue went from empty to non-empty once: one wake.
  EXPECT_EQ(c.wakes(), 1);
  EXPECT_EQ(hub_->counts().synced, 2u);
}

TEST_F(HubTest, SyncedWatcherGetsEachRevisionDuringNotify) {
  StartHub();
  Client c(hub_.get());
  int64_t id = c.s().Create(Watch("a"));
  c.Drain();
  int64_t rev = Put("a", "1");
  // Delivery to a synced watcher happens inside Notify: nothing to wait for.
  ASSERT_EQ(c.s().queued(), 1u);
  std::vector<Response> rs = c.Drain();
  EXPECT_EQ(rs[0].watch_id, id);
  EXPECT_EQ(rs[0].revision, rev);
  EXPECT_EQ(rs[0].events, Expected(Watch("a"), rev));
  Put("b", "1");
  EXPECT_EQ(c.s().queued(), 0u);
}

TEST_F(HubTest, CancelIsAnsweredAndNothingOfTheWatcherFollows) {
  StartHub();
  Client c(hub_.get());
  int64_t id = c.s().Create(Watch("a"));
  c.Drain();
  ASSERT_TRUE(c.s().Cancel(id).ok());
  std::vector<Response> rs = c.Drain();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].watch_id, id);
  EXPECT_TRUE(rs[0].canceled);
  EXPECT_FALSE(rs[0].created);
  EXPECT_EQ(rs[0].revision, hub_->revision());
  Put("a", "1");
  EXPECT_EQ(c.s().queued(), 0u);
  EXPECT_EQ(hub_->counts().synced, 0u);
  // etcd answers nothing to a cancel of an unknown watcher.
  Status again = c.s().Cancel(id);
  EXPECT_EQ(again.code(), Code::kNotFound);
  EXPECT_EQ(again.message(), kErrWatcherNotExist);
  EXPECT_EQ(c.s().queued(), 0u);
}

TEST_F(HubTest, KeyRangePrefixAndFromKeyWatchersSeeTheirKeysOnly) {
  StartHub();
  Client c(hub_.get());
  std::vector<CreateRequest> reqs = {Watch("a"),        Watch("a", "c"),  Watch("ab", "ac"),
                                     Watch("b", "\0"s), Watch("", "\0"s), Watch("abc")};
  std::vector<int64_t> ids;
  for (const auto& r : reqs) ids.push_back(c.s().Create(r));
  for (const char* k : {"a", "ab", "abc", "b", "c", "zz", "\x01"}) Put(k, "v");
  Delete("ab");
  Delete("a", "b");  // a, abc
  int64_t last = hub_->revision();
  c.Drain();
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(EventsOf(c.got(), ids[i]), Expected(reqs[i], 1))
        << "watcher [" << reqs[i].key << ", " << reqs[i].range_end << ")";
  }
  EXPECT_EQ(LastRevisionOf(c.got(), ids[4]), last);
}

TEST_F(HubTest, StartRevisionReplaysHistoryThenLiveWithoutGapOrDuplicate) {
  HubOptions options;
  options.catchup_limits.max_revisions = 3;  // many catch-up rounds
  options.stream_queue_capacity = 4;
  StartHub(options);
  for (int i = 0; i < 30; ++i) Put("k" + std::to_string(i % 5), std::to_string(i));
  Put("other", "x");
  Client c(hub_.get());
  CreateRequest req = Watch("k", "l", 5);
  int64_t id = c.s().Create(req);
  // The writer keeps applying while the watcher catches up and pops.
  std::thread writer([&] {
    for (int i = 0; i < 200; ++i) {
      if (i % 7 == 3) {
        Delete("k" + std::to_string(i % 5));
      } else {
        Put("k" + std::to_string(i % 5), "w" + std::to_string(i));
      }
    }
  });
  writer.join();
  int64_t last = hub_->revision();
  ASSERT_TRUE(c.PopUntil([&](const auto& rs) { return LastRevisionOf(rs, id) == last; }))
      << "the watcher did not reach revision " << last << "; it has "
      << LastRevisionOf(c.got(), id);
  EXPECT_EQ(EventsOf(c.got(), id), Expected(req, 5));
  ExpectRevisionsWhole(c.got(), id);
  EXPECT_EQ(hub_->counts().unsynced, 0u);
}

TEST_F(HubTest, HistoryReadInSmallBatchesMeetsTheHubRevisionExactly) {
  HubOptions options;
  options.catchup_limits.max_revisions = 2;
  StartHub(options);
  for (int i = 0; i < 11; ++i) Put("k" + std::to_string(i % 3), std::to_string(i));  // 2..12
  int64_t last = hub_->revision();
  // Every start from 2 to 7: some batch series end one short of the hub's revision, some
  // on it; either way the watcher must get revision `last` exactly once.
  Client c(hub_.get());
  std::map<int64_t, CreateRequest> reqs;
  for (int64_t start = 2; start <= 7; ++start) {
    CreateRequest req = Watch("k", "l", start);
    reqs[c.s().Create(req)] = req;
  }
  ASSERT_TRUE(c.PopUntil([&](const auto& rs) {
    for (const auto& [id, req] : reqs) {
      if (LastRevisionOf(rs, id) != last) return false;
    }
    return true;
  })) << "some watcher never reached revision "
      << last;
  for (const auto& [id, req] : reqs) {
    EXPECT_EQ(EventsOf(c.got(), id), Expected(req, req.start_revision))
        << "start " << req.start_revision;
  }
  // And they are synced: the next revision arrives during Notify.
  EXPECT_EQ(hub_->counts().unsynced, 0u);
  int64_t next = Put("k0", "live");
  c.Drain();
  for (const auto& [id, req] : reqs) EXPECT_EQ(LastRevisionOf(c.got(), id), next);
}

TEST_F(HubTest, PrevKvLiveAndFromHistoryIsTheKeysPreviousVersion) {
  StartHub();
  int64_t first = Put("a", "1");
  Put("a", "2");
  Delete("a");
  Put("a", "3");
  Client c(hub_.get());
  CreateRequest history = Watch("a", "", first);
  history.prev_kv = true;
  CreateRequest live = Watch("a");
  live.prev_kv = true;
  CreateRequest without = Watch("a", "", first);
  int64_t h = c.s().Create(history);
  int64_t l = c.s().Create(live);
  int64_t w = c.s().Create(without);
  Put("a", "4");
  Delete("a");
  int64_t last = hub_->revision();
  ASSERT_TRUE(c.PopUntil([&](const auto& rs) {
    return LastRevisionOf(rs, h) == last && LastRevisionOf(rs, w) == last;
  }));
  std::vector<mvcc::Event> got = EventsOf(c.got(), h);
  EXPECT_EQ(got, Expected(history, first));
  ASSERT_EQ(got.size(), 6u);
  EXPECT_FALSE(got[0].prev_kv.has_value());  // a create
  ASSERT_TRUE(got[2].prev_kv.has_value());   // the delete carries what it deleted
  EXPECT_EQ(got[2].prev_kv->value, "2");
  EXPECT_EQ(EventsOf(c.got(), l), Expected(live, last - 1));
  std::vector<mvcc::Event> plain = EventsOf(c.got(), w);
  EXPECT_EQ(plain, Expected(without, first));
  for (const auto& e : plain) EXPECT_FALSE(e.prev_kv.has_value());
}

TEST_F(HubTest, FiltersDropPutsOrDeletesInHistoryAndLive) {
  StartHub();
  int64_t first = Put("a", "1");
  Delete("a");
  Client c(hub_.get());
  CreateRequest no_put = Watch("a", "", first);
  no_put.no_put = true;
  CreateRequest no_delete = Watch("a", "", first);
  no_delete.no_delete = true;
  int64_t np = c.s().Create(no_put);
  int64_t nd = c.s().Create(no_delete);
  Put("a", "2");
  int64_t last = Delete("a");
  ASSERT_TRUE(c.PopUntil([&](const auto& rs) {
    return LastRevisionOf(rs, np) == last && LastRevisionOf(rs, nd) == last - 1;
  }));
  std::vector<mvcc::Event> deletes = EventsOf(c.got(), np);
  ASSERT_EQ(deletes.size(), 2u);
  for (const auto& e : deletes) EXPECT_EQ(e.type, mvcc::Event::Type::kDelete);
  EXPECT_EQ(deletes, Expected(no_put, first));
  std::vector<mvcc::Event> puts = EventsOf(c.got(), nd);
  ASSERT_EQ(puts.size(), 2u);
  EXPECT_EQ(puts, Expected(no_delete, first));
  // A revision whose events are all filtered out sends nothing.
  for (const Response& r : c.got()) {
    if (!r.created) {
      EXPECT_FALSE(r.events.empty());
    }
  }
}

TEST_F(HubTest, ClientChosenIdsAndATakenIdIsRefusedAsEtcd) {
  StartHub();
  Client c(hub_.get());
  CreateRequest seven = Watch("a");
  seven.watch_id = 7;
  EXPECT_EQ(c.s().Create(seven), 7);
  EXPECT_EQ(c.s().Create(seven), kInvalidWatchId);
  CreateRequest one = Watch("a");
  one.watch_id = 1;
  EXPECT_EQ(c.s().Create(Watch("a")), 0);
  EXPECT_EQ(c.s().Create(one), 1);
  EXPECT_EQ(c.s().Create(Watch("a")), 2);  // the automatic id skips a taken one
  std::vector<Response> rs = c.Drain();
  ASSERT_EQ(rs.size(), 5u);
  EXPECT_EQ(rs[0].watch_id, 7);
  EXPECT_TRUE(rs[0].created);
  // etcd 3.5: created and canceled, id -1, the mvcc error as the reason.
  EXPECT_EQ(rs[1].watch_id, kInvalidWatchId);
  EXPECT_TRUE(rs[1].created);
  EXPECT_TRUE(rs[1].canceled);
  EXPECT_EQ(rs[1].cancel_reason, kErrWatcherDuplicateId);
  // Ids belong to a stream: another stream may use 7.
  Client other(hub_.get());
  EXPECT_EQ(other.s().Create(seven), 7);
  EXPECT_EQ(hub_->counts().synced, 5u);
  int64_t rev = Put("a", "1");
  c.Drain();
  for (int64_t id : {7, 0, 1, 2}) EXPECT_EQ(EventsOf(c.got(), id), Expected(seven, rev));
}

TEST_F(HubTest, EmptyRangeAndNegativeStartAreRefusedWithEtcdsReasons) {
  StartHub();
  Client c(hub_.get());
  EXPECT_EQ(c.s().Create(Watch("b", "a")), kInvalidWatchId);
  EXPECT_EQ(c.s().Create(Watch("a", "", -3)), kInvalidWatchId);
  std::vector<Response> rs = c.Drain();
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_TRUE(rs[0].created && rs[0].canceled);
  EXPECT_EQ(rs[0].cancel_reason, kErrEmptyWatcherRange);
  EXPECT_TRUE(rs[1].created && rs[1].canceled);
  EXPECT_EQ(rs[1].cancel_reason, etcd::Compacted().message());
  EXPECT_EQ(hub_->counts().synced + hub_->counts().unsynced, 0u);
}

TEST_F(HubTest, StartBelowTheCompactedRevisionIsCanceledWithCompactRevision) {
  StartHub();
  for (int i = 0; i < 5; ++i) Put("a", std::to_string(i));  // 2..6
  Compact(4);
  Client c(hub_.get());
  int64_t old = c.s().Create(Watch("a", "", 3));
  CreateRequest at = Watch("a", "", 4);  // the compacted revision itself still reads
  int64_t ok = c.s().Create(at);
  ASSERT_TRUE(c.PopUntil([&](const auto& rs) { return LastRevisionOf(rs, ok) == 6; }));
  const Response* compacted =
      FindResponse(c.got(), [&](const Response& r) { return r.watch_id == old && r.canceled; });
  ASSERT_NE(compacted, nullptr);
  EXPECT_EQ(compacted->compact_revision, 4);
  EXPECT_FALSE(compacted->created);
  EXPECT_TRUE(EventsOf(c.got(), old).empty());
  // created came first.
  EXPECT_TRUE(c.got()[0].created);
  EXPECT_EQ(c.got()[0].watch_id, old);
  EXPECT_EQ(EventsOf(c.got(), ok), Expected(at, 4));
  EXPECT_EQ(hub_->counts().synced, 1u);
}

TEST_F(HubTest, UnsyncedWatcherOvertakenByCompactionIsCanceledWithCompactRevision) {
  HubOptions options;
  options.stream_queue_capacity = 1;
  StartHub(options);
  Client slow(hub_.get());
  int64_t id = slow.s().Create(Watch("a"));  // the created response fills the queue
  int64_t first = Put("a", "1");
  for (int i = 0; i < 4; ++i) Put("a", "x");
  EXPECT_EQ(hub_->counts().unsynced, 1u);  // a victim since the first put
  EXPECT_EQ(hub_->counts().victims_total, 1u);
  Compact(first + 2);
  ASSERT_TRUE(slow.PopUntil([&](const auto& rs) {
    return FindResponse(rs, [&](const Response& r) { return r.compact_revision != 0; });
  })) << "no compacted response";
  const Response* c =
      FindResponse(slow.got(), [&](const Response& r) { return r.compact_revision != 0; });
  EXPECT_EQ(c->watch_id, id);
  EXPECT_TRUE(c->canceled);
  EXPECT_EQ(c->compact_revision, first + 2);
  EXPECT_TRUE(EventsOf(slow.got(), id).empty());
  EXPECT_EQ(hub_->counts().unsynced, 0u);
}

TEST_F(HubTest, SlowStreamBlocksNeitherNotifyNorOtherStreamsAndCatchesUpInOrder) {
  HubOptions options;
  options.stream_queue_capacity = 8;
  StartHub(options);
  Client slow(hub_.get());
  Client fast(hub_.get());
  CreateRequest req = Watch("k", "l");
  int64_t s = slow.s().Create(req);
  int64_t f = fast.s().Create(req);
  std::atomic<bool> fast_ok{false};
  std::atomic<int64_t> target{-1};
  std::thread reader([&] {
    fast_ok = fast.PopUntil([&](const auto& rs) {
      int64_t t = target.load();
      return t > 0 && LastRevisionOf(rs, f) == t;
    });
  });
  // Nobody pops the slow stream; were Notify to wait for it, this loop would never end.
  for (int i = 0; i < 300; ++i) Put("k" + std::to_string(i % 10), std::to_string(i));
  int64_t last = hub_->revision();
  target = last;
  // Its queue stays bounded: what did not fit waits in the revision table.
  EXPECT_LE(slow.s().queued(), options.stream_queue_capacity);
  EXPECT_GE(hub_->counts().victims_total, 1u);
  reader.join();
  ASSERT_TRUE(fast_ok.load()) << "the fast stream did not get every event";
  EXPECT_EQ(EventsOf(fast.got(), f), Expected(req, 1));
  ASSERT_TRUE(slow.PopUntil([&](const auto& rs) { return LastRevisionOf(rs, s) == last; }))
      << "the slow stream did not catch up; it reached " << LastRevisionOf(slow.got(), s);
  EXPECT_EQ(EventsOf(slow.got(), s), Expected(req, 1));
  ExpectRevisionsWhole(slow.got(), s);
}

TEST_F(HubTest, ManyWatchersOnManyStreamsGetCompleteOrderedEventsUnderConcurrentWrites) {
  HubOptions options;
  options.stream_queue_capacity = 4;
  options.catchup_limits.max_revisions = 16;
  StartHub(options);
  constexpr int kStreams = 6;
  constexpr int kWatchersPerStream = 8;
  constexpr int kWrites = 400;
  auto key = [](int i) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "k%02d", i);
    return std::string(buf);
  };
  for (int i = 0; i < 20; ++i) Put(key(i), "init");

  struct Made {
    CreateRequest req;
    int64_t id = 0;
    int64_t from = 0;  // first revision it must see
  };
  std::vector<std::unique_ptr<Client>> clients;
  for (int s = 0; s < kStreams; ++s) clients.push_back(std::make_unique<Client>(hub_.get()));
  std::vector<std::vector<Made>> made(kStreams);
  std::mt19937 rng(12345);
  auto make_request = [&](std::mt19937& r, int64_t hub_rev) {
    int a = static_cast<int>(r() % 20);
    int b = a + 1 + static_cast<int>(r() % 6);
    CreateRequest req;
    switch (r() % 3) {
      case 0: req = Watch(key(a)); break;
      case 1: req = Watch(key(a), key(b)); break;
      default: req = Watch("k", "l"); break;
    }
    if (r() % 2 == 0) req.start_revision = 1 + static_cast<int64_t>(r() % hub_rev);
    req.prev_kv = r() % 2 == 0;
    req.no_delete = r() % 5 == 0;
    return req;
  };
  auto create = [&](int s, const CreateRequest& req) {
    Made m;
    m.req = req;
    m.id = clients[s]->s().Create(req);
    m.from = req.start_revision;
    made[s].push_back(m);
  };
  // Half the watchers before the writes; the other half while they run.
  for (int s = 0; s < kStreams; ++s) {
    for (int w = 0; w < kWatchersPerStream / 2; ++w) create(s, make_request(rng, hub_->revision()));
  }
  std::thread writer([&] {
    std::mt19937 wr(777);
    for (int i = 0; i < kWrites; ++i) {
      switch (wr() % 4) {
        case 0: Delete(key(static_cast<int>(wr() % 20))); break;
        case 1:
          PutMany({{key(static_cast<int>(wr() % 10)), "m"},
                   {key(10 + static_cast<int>(wr() % 10)), "n"}});
          break;
        default: Put(key(static_cast<int>(wr() % 20)), std::to_string(i)); break;
      }
    }
  });
  // Each stream's clients are driven by one reader thread (the rpc layer's writer); the
  // main thread's creates race with the writes and the readers.
  std::atomic<bool> done_writing{false};
  std::vector<std::mutex> client_mu(kStreams);
  std::vector<std::thread> readers;
  for (int s = 0; s < kStreams; ++s) {
    readers.emplace_back([&, s] {
      while (!done_writing.load()) {
        {
          std::lock_guard<std::mutex> lock(client_mu[s]);
          clients[s]->Drain();
        }
        if (s % 2 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    });
  }
  std::mt19937 rng2(999);
  for (int s = 0; s < kStreams; ++s) {
    for (int w = 0; w < kWatchersPerStream / 2; ++w) {
      CreateRequest req = make_request(rng2, hub_->revision());
      std::lock_guard<std::mutex> lock(client_mu[s]);
      create(s, req);
    }
  }
  writer.join();
  done_writing = true;
  for (auto& t : readers) t.join();
  int64_t last = hub_->revision();

  for (int s = 0; s < kStreams; ++s) {
    Client& c = *clients[s];
    // A watcher from "now" starts after the revision its created response carries.
    for (Made& m : made[s]) {
      if (m.from == 0) {
        const Response* created = FindResponse(
            c.got(), [&](const Response& r) { return r.created && r.watch_id == m.id; });
        ASSERT_NE(created, nullptr);
        m.from = created->revision + 1;
      }
    }
    bool all = c.PopUntil([&](const auto& rs) {
      for (const Made& m : made[s]) {
        std::vector<mvcc::Event> want = Expected(m.req, m.from);
        int64_t want_last = want.empty() ? 0 : want.back().kv.mod_revision;
        if (LastRevisionOf(rs, m.id) != want_last) return false;
      }
      return true;
    });
    EXPECT_TRUE(all) << "stream " << s << " did not get every event by the deadline";
    for (const Made& m : made[s]) {
      EXPECT_EQ(EventsOf(c.got(), m.id), Expected(m.req, m.from))
          << "stream " << s << " watcher " << m.id << " [" << m.req.key << ", " << m.req.range_end
          << ") from " << m.from;
      ExpectRevisionsWhole(c.got(), m.id);
    }
  }
  EXPECT_EQ(hub_->counts().synced, static_cast<size_t>(kStreams * kWatchersPerStream));
  // The small queues made some watchers victims: both delivery paths were exercised.
  EXPECT_GE(hub_->counts().victims_total, 1u);
  EXPECT_EQ(last, store_->current_revision());
}

TEST_F(HubTest, ProgressNotifyEachIntervalToSyncedWatchersWithoutEvents) {
  HubOptions options;
  options.progress_interval = minutes(1);
  options.stream_queue_capacity = 2;  // room for one revision's two responses on c
  StartHub(options);
  Client c(hub_.get());
  CreateRequest with = Watch("a");
  with.progress_notify = true;
  int64_t p = c.s().Create(with);
  c.s().Create(Watch("a"));  // without progress_notify: never gets one
  Client slow(hub_.get());
  // Its created response and the first progress fill its queue, so it becomes unsynced at
  // the first put and gets no progress while so.
  slow.s().Create(with);
  auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  c.Drain();
  hub_->Tick(t0);  // starts the clock
  hub_->Tick(t0 + seconds(30));
  EXPECT_EQ(c.s().queued(), 0u);
  hub_->Tick(t0 + minutes(1));
  std::vector<Response> rs = c.Drain();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].watch_id, p);
  EXPECT_TRUE(rs[0].IsProgressNotify());
  EXPECT_EQ(rs[0].revision, hub_->revision());

  int64_t rev = Put("a", "1");  // the slow stream's watcher becomes a victim here
  c.Drain();
  hub_->Tick(t0 + minutes(2));  // events went out during the interval: elided
  EXPECT_EQ(c.s().queued(), 0u);
  hub_->Tick(t0 + minutes(3));
  rs = c.Drain();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].watch_id, p);
  EXPECT_EQ(rs[0].revision, rev);
  // The slow stream's watcher got the first round's progress while synced, and none
  // since it became unsynced (its full queue keeps it so: nobody pops it).
  // (Pops one at a time: emptying the queue lets the dispatcher catch the watcher up.)
  ASSERT_EQ(slow.s().queued(), 2u);
  std::optional<Response> created = slow.s().TryPop();
  std::optional<Response> progress = slow.s().TryPop();
  ASSERT_TRUE(created.has_value() && progress.has_value());
  EXPECT_TRUE(created->created);
  EXPECT_TRUE(progress->IsProgressNotify());
  EXPECT_EQ(progress->revision, rev - 1);
}

TEST_F(HubTest, RequestProgressIsAnsweredOnceEveryWatcherIsSynced) {
  HubOptions options;
  options.stream_queue_capacity = 1;
  StartHub(options);
  Client empty(hub_.get());
  empty.s().RequestProgress();
  EXPECT_EQ(empty.s().queued(), 0u);  // no watchers: etcd answers nothing

  Client c(hub_.get());
  int64_t id = c.s().Create(Watch("a"));
  c.Drain();
  c.s().RequestProgress();
  std::vector<Response> rs = c.Drain();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].watch_id, kInvalidWatchId);
  EXPECT_TRUE(rs[0].IsProgressNotify());
  EXPECT_EQ(rs[0].revision, hub_->revision());

  Put("a", "1");                 // fills the queue
  int64_t last = Put("a", "2");  // the watcher becomes unsynced
  ASSERT_EQ(hub_->counts().unsynced, 1u);
  c.s().RequestProgress();
  c.s().RequestProgress();  // folds into the deferred one
  auto progresses = [](const std::vector<Response>& all) {
    int n = 0;
    for (const Response& r : all) n += r.watch_id == kInvalidWatchId ? 1 : 0;
    return n;
  };
  ASSERT_TRUE(c.PopUntil([&](const auto& all) { return progresses(all) == 2; }))
      << "the deferred progress request was never answered";
  std::vector<Response> got = c.got();
  ASSERT_GE(got.size(), 1u);
  const Response& progress = got.back();
  EXPECT_EQ(progress.watch_id, kInvalidWatchId);
  EXPECT_EQ(progress.revision, last);
  // It comes after every event up to its revision.
  EXPECT_EQ(LastRevisionOf(got, id), last);
  EXPECT_TRUE(progress.IsProgressNotify());
  // The two requests made while unsynced got one answer: nothing more is queued.
  EXPECT_EQ(c.s().queued(), 0u);
  EXPECT_EQ(progresses(c.got()), 2);
}

TEST_F(HubTest, FragmentSplitsLargeResponsesLiveAndFromHistory) {
  HubOptions options;
  options.max_request_bytes = 2000;
  StartHub(options);
  std::vector<std::pair<std::string, std::string>> kvs;
  for (int i = 0; i < 10; ++i) kvs.emplace_back("f" + std::to_string(i), std::string(500, 'x'));
  int64_t first = PutMany(kvs);
  Client c(hub_.get());
  CreateRequest frag = Watch("f", "g");
  frag.fragment = true;
  CreateRequest whole = Watch("f", "g");
  CreateRequest history = Watch("f", "g", first);
  history.fragment = true;
  int64_t fid = c.s().Create(frag);
  int64_t wid = c.s().Create(whole);
  int64_t hid = c.s().Create(history);
  int64_t second = PutMany(kvs);
  ASSERT_TRUE(c.PopUntil([&](const auto& rs) { return LastRevisionOf(rs, hid) == second; }));
  auto parts_of = [&](int64_t id) {
    std::vector<Response> out;
    for (const Response& r : c.got()) {
      if (r.watch_id == id && !r.events.empty()) out.push_back(r);
    }
    return out;
  };
  std::vector<Response> parts = parts_of(fid);
  ASSERT_GT(parts.size(), 1u);
  for (size_t i = 0; i < parts.size(); ++i) {
    EXPECT_EQ(parts[i].fragment, i + 1 < parts.size());
    EXPECT_EQ(parts[i].revision, second);
  }
  EXPECT_EQ(EventsOf(c.got(), fid), Expected(frag, second));
  std::vector<Response> unsplit = parts_of(wid);
  ASSERT_EQ(unsplit.size(), 1u);
  EXPECT_FALSE(unsplit[0].fragment);
  EXPECT_EQ(unsplit[0].events.size(), 10u);
  std::vector<Response> replay = parts_of(hid);
  EXPECT_GT(replay.size(), 2u);
  EXPECT_FALSE(replay.back().fragment);
  EXPECT_EQ(EventsOf(c.got(), hid), Expected(history, first));
}

TEST_F(HubTest, RestoreCatchesSyncedWatchersUpFromTheNewHistory) {
  StartHub();
  Client c(hub_.get());
  CreateRequest req = Watch("a", "b");
  req.prev_kv = true;
  int64_t id = c.s().Create(req);
  int64_t from = Put("a", "1");
  // A snapshot install changes the store behind the hub's back: no Notify for these.
  for (int i = 0; i < 3; ++i) {
    mvcc::PutRequest p;
    p.key = "a" + std::to_string(i);
    p.value = "snap";
    std::vector<mvcc::Event> evs;
    ASSERT_TRUE(store_->Put(p, ++index_, &evs).ok());
    std::lock_guard<std::mutex> lock(log_mu_);
    log_.insert(log_.end(), evs.begin(), evs.end());
  }
  hub_->Restore(store_->current_revision());
  int64_t last = Put("a", "2");
  ASSERT_TRUE(c.PopUntil([&](const auto& rs) { return LastRevisionOf(rs, id) == last; }));
  EXPECT_EQ(EventsOf(c.got(), id), Expected(req, from));
  ExpectRevisionsWhole(c.got(), id);
}

TEST_F(HubTest, CloseFromInsideTheWakeFunctionDoesNotDeadlock) {
  StartHub();
  std::unique_ptr<Stream> stream;
  std::atomic<int> calls{0};
  stream = hub_->OpenStream([&] {
    ++calls;
    stream->Close();
  });
  stream->Create(Watch("a"));  // wakes, and the wake closes the stream
  EXPECT_EQ(calls.load(), 1);
  EXPECT_FALSE(stream->TryPop().has_value());
  Put("a", "1");
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(hub_->counts().synced, 0u);
  stream.reset();
  EXPECT_EQ(hub_->counts().streams, 0u);
}

}  // namespace
}  // namespace cairn::watch
