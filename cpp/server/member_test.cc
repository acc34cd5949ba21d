// A single member serves etcd's KV semantics through raft, and keeps them across restarts.
#include "server/member.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/etcd_errors.h"

#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

namespace cairn::server {
namespace {

class MemberTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("cairn-member-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    config_.data_dir = dir_.string();
    StartMember();
  }
  void TearDown() override {
    member_.reset();
    std::filesystem::remove_all(dir_);
  }
  void StartMember() {
    auto m = Member::Start(config_);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    member_ = std::move(*m);
  }

  template <typename Req, typename Resp>
  Status Call(void (Member::*fn)(const Req&, Resp*, Done), const Req& req, Resp* resp) {
    std::promise<Status> p;
    (member_.get()->*fn)(req, resp, [&p](Status s) { p.set_value(std::move(s)); });
    return p.get_future().get();
  }
  Status Put(const std::string& k, const std::string& v, etcdserverpb::PutResponse* r = nullptr) {
    etcdserverpb::PutRequest req;
    req.set_key(k);
    req.set_value(v);
    etcdserverpb::PutResponse local;
    return Call(&Member::Put, req, r ? r : &local);
  }
  etcdserverpb::RangeResponse Get(const std::string& k, const std::string& end = "",
                                  bool serializable = false, int64_t rev = 0) {
    etcdserverpb::RangeRequest req;
    req.set_key(k);
    req.set_range_end(end);
    req.set_serializable(serializable);
    req.set_revision(rev);
    etcdserverpb::RangeResponse resp;
    Status s = Call(&Member::Range, req, &resp);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return resp;
  }

  std::filesystem::path dir_;
  Config config_;
  std::unique_ptr<Member> member_;
};

TEST_F(MemberTest, PutThenLinearizableAndSerializableGet) {
  etcdserverpb::PutResponse put;
  ASSERT_TRUE(Put("a", "1", &put).ok());
  EXPECT_EQ(put.header().revision(), 2);
  EXPECT_EQ(put.header().member_id(), member_->id());
  EXPECT_EQ(put.header().cluster_id(), member_->cluster_id());
  EXPECT_GE(put.header().raft_term(), 1u);
  for (bool serializable : {false, true}) {
    auto got = Get("a", "", serializable);
    ASSERT_EQ(got.kvs_size(), 1);
    EXPECT_EQ(got.kvs(0).value(), "1");
    EXPECT_EQ(got.kvs(0).create_revision(), 2);
    EXPECT_EQ(got.kvs(0).version(), 1);
    EXPECT_EQ(got.header().revision(), 2);
  }
}

TEST_F(MemberTest, DeleteTxnAndCompactFollowEtcd) {
  ASSERT_TRUE(Put("k1", "a").ok());  // rev 2
  ASSERT_TRUE(Put("k2", "b").ok());  // rev 3

  etcdserverpb::TxnRequest txn;
  auto* cmp = txn.add_compare();
  cmp->set_key("k1");
  cmp->set_target(etcdserverpb::Compare::VALUE);
  cmp->set_result(etcdserverpb::Compare::EQUAL);
  cmp->set_value("a");
  txn.add_success()->mutable_request_put()->set_key("k3");
  txn.add_success()->mutable_request_range()->set_key("k1");
  txn.add_failure()->mutable_request_delete_range()->set_key("k1");
  etcdserverpb::TxnResponse txn_resp;
  ASSERT_TRUE(Call(&Member::Txn, txn, &txn_resp).ok());
  EXPECT_TRUE(txn_resp.succeeded());
  ASSERT_EQ(txn_resp.responses_size(), 2);
  EXPECT_EQ(txn_resp.responses(1).response_range().kvs(0).value(), "a");
  EXPECT_EQ(txn_resp.header().revision(), 4);

  etcdserverpb::DeleteRangeRequest del;
  del.set_key("k");
  del.set_range_end("l");
  del.set_prev_kv(true);
  etcdserverpb::DeleteRangeResponse del_resp;
  ASSERT_TRUE(Call(&Member::DeleteRange, del, &del_resp).ok());
  EXPECT_EQ(del_resp.deleted(), 3);
  EXPECT_EQ(del_resp.prev_kvs_size(), 3);
  EXPECT_EQ(del_resp.header().revision(), 5);

  EXPECT_EQ(Get("k1", "", false, 3).kvs(0).value(), "a");  // history before the delete
  etcdserverpb::CompactionRequest compact;
  compact.set_revision(4);
  compact.set_physical(true);
  etcdserverpb::CompactionResponse compact_resp;
  ASSERT_TRUE(Call(&Member::Compact, compact, &compact_resp).ok());

  etcdserverpb::RangeRequest old;
  old.set_key("k1");
  old.set_revision(3);
  etcdserverpb::RangeResponse old_resp;
  Status s = Call(&Member::Range, old, &old_resp);
  EXPECT_EQ(s, Status(Code::kOutOfRange, "etcdserver: mvcc: required revision has been compacted"));
  EXPECT_EQ(Call(&Member::Compact, compact, &compact_resp),
            Status(Code::kOutOfRange, "etcdserver: mvcc: required revision has been compacted"));
}

TEST_F(MemberTest, ReadOnlyTxnIsAnsweredWithoutARaftEntry) {
  ASSERT_TRUE(Put("r1", "x").ok());  // rev 2
  ASSERT_TRUE(Put("r2", "y").ok());  // rev 3
  for (bool serializable : {false, true}) {
    const uint64_t applied = member_->applied_index();
    etcdserverpb::TxnRequest txn;
    auto* cmp = txn.add_compare();
    cmp->set_key("r1");
    cmp->set_target(etcdserverpb::Compare::MOD);
    cmp->set_result(etcdserverpb::Compare::GREATER);
    cmp->set_mod_revision(2);  // false: r1's mod revision is 2
    auto* then = txn.add_success()->mutable_request_range();
    then->set_key("r1");
    then->set_serializable(serializable);
    auto* otherwise = txn.add_failure()->mutable_request_range();
    otherwise->set_key("r");
    otherwise->set_range_end("s");
    otherwise->set_serializable(serializable);
    // A nested read-only txn keeps the whole txn a read (never serializable, as in etcd).
    if (!serializable) {
      txn.add_failure()->mutable_request_txn()->add_success()->mutable_request_range()->set_key(
          "r2");
    }
    etcdserverpb::TxnResponse resp;
    ASSERT_TRUE(Call(&Member::Txn, txn, &resp).ok());
    EXPECT_FALSE(resp.succeeded());
    ASSERT_EQ(resp.responses_size(), serializable ? 1 : 2);
    EXPECT_EQ(resp.responses(0).response_range().count(), 2);
    if (!serializable) {
      const auto& nested = resp.responses(1).response_txn();
      EXPECT_TRUE(nested.succeeded());
      EXPECT_EQ(nested.responses(0).response_range().kvs(0).value(), "y");
    }
    EXPECT_EQ(resp.header().revision(), 3);
    EXPECT_EQ(member_->applied_index(), applied) << "a read-only txn went through raft";
  }
  // A read-only txn at a compacted or future revision gets etcd's errors.
  etcdserverpb::TxnRequest future;
  auto* r = future.add_success()->mutable_request_range();
  r->set_key("r1");
  r->set_revision(100);
  etcdserverpb::TxnResponse resp;
  EXPECT_EQ(Call(&Member::Txn, future, &resp),
            Status(Code::kOutOfRange, "etcdserver: mvcc: required revision is a future revision"));
}

TEST_F(MemberTest, BadRequestsGetEtcdsErrorsAndChangeNothing) {
  etcdserverpb::PutResponse put;
  EXPECT_EQ(Put("", "v", &put), Status(Code::kInvalidArgument, "etcdserver: key is not provided"));

  etcdserverpb::PutRequest ignore;
  ignore.set_key("missing");
  ignore.set_ignore_value(true);
  EXPECT_EQ(Call(&Member::Put, ignore, &put),
            Status(Code::kInvalidArgument, "etcdserver: key not found"));
  ignore.set_value("v");
  EXPECT_EQ(Call(&Member::Put, ignore, &put),
            Status(Code::kInvalidArgument, "etcdserver: value is provided"));

  etcdserverpb::PutRequest leased;
  leased.set_key("k");
  leased.set_lease(42);
  EXPECT_EQ(Call(&Member::Put, leased, &put),
            Status(Code::kNotFound, "etcdserver: requested lease not found"));

  EXPECT_EQ(Put("big", std::string(config_.max_request_bytes, 'x'), &put),
            Status(Code::kInvalidArgument, "etcdserver: request is too large"));

  etcdserverpb::TxnRequest txn;
  for (uint32_t i = 0; i <= config_.max_txn_ops; ++i) {
    txn.add_success()->mutable_request_put()->set_key("k" + std::to_string(i));
  }
  etcdserverpb::TxnResponse txn_resp;
  EXPECT_EQ(Call(&Member::Txn, txn, &txn_resp),
            Status(Code::kInvalidArgument, "etcdserver: too many operations in txn request"));
  etcdserverpb::TxnRequest dup;
  dup.add_success()->mutable_request_put()->set_key("d");
  dup.add_success()->mutable_request_put()->set_key("d");
  EXPECT_EQ(Call(&Member::Txn, dup, &txn_resp),
            Status(Code::kInvalidArgument, "etcdserver: duplicate key given in txn request"));

  etcdserverpb::RangeRequest future;
  future.set_key("a");
  future.set_revision(100);
  etcdserverpb::RangeResponse range_resp;
  EXPECT_EQ(Call(&Member::Range, future, &range_resp),
            Status(Code::kOutOfRange, "etcdserver: mvcc: required revision is a future revision"));
  etcdserverpb::RangeRequest bad_sort;
  bad_sort.set_key("a");
  bad_sort.set_sort_target(static_cast<etcdserverpb::RangeRequest::SortTarget>(99));
  EXPECT_EQ(Call(&Member::Range, bad_sort, &range_resp).code(), Code::kInvalidArgument);

  // Nothing above made a revision.
  EXPECT_EQ(Get("a").header().revision(), 1);
}

TEST_F(MemberTest, ConcurrentWritersEachGetTheirOwnRevision) {
  constexpr int kThreads = 8, kPerThread = 50;
  std::vector<std::thread> threads;
  std::vector<std::vector<int64_t>> revs(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        etcdserverpb::PutResponse r;
        ASSERT_TRUE(Put("t" + std::to_string(t) + "/" + std::to_string(i), "v", &r).ok());
        revs[t].push_back(r.header().revision());
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<int64_t> all;
  for (auto& v : revs) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), size_t{kThreads * kPerThread});
  EXPECT_EQ(*all.rbegin(), 1 + kThreads * kPerThread);
  EXPECT_EQ(Get("t", "u", true).count(), kThreads * kPerThread);
}

// A lone member's lone put runs raft's turn on the caller's thread (Member::Propose): no
// hand-off to the raft thread and back. (A put that finds the raft thread in its tick turn
// is answered there, so the test asks for most, not all.)
TEST_F(MemberTest, ALonePutToALoneMemberIsAnsweredOnTheCallersThread) {
  ASSERT_TRUE(Put("warm", "up").ok());  // the first turns make this member its group's leader
  constexpr int kPuts = 20;
  int here = 0;
  for (int i = 0; i < kPuts; ++i) {
    etcdserverpb::PutRequest req;
    req.set_key("k" + std::to_string(i));
    req.set_value("v");
    etcdserverpb::PutResponse resp;
    std::promise<std::pair<Status, std::thread::id>> answer;
    member_->Put(req, &resp, [&answer](Status s) {
      answer.set_value({std::move(s), std::this_thread::get_id()});
    });
    auto [status, thread] = answer.get_future().get();
    ASSERT_TRUE(status.ok()) << status.ToString();
    EXPECT_EQ(resp.header().revision(), 3 + i);
    if (thread == std::this_thread::get_id()) ++here;
  }
  EXPECT_GE(here, kPuts / 2);
  EXPECT_EQ(Get("k", "l").count(), kPuts);
}

TEST_F(MemberTest, RestartKeepsKeysAndRevisions) {
  ASSERT_TRUE(Put("x", "1").ok());
  ASSERT_TRUE(Put("x", "2").ok());
  const uint64_t id = member_->id();
  member_.reset();
  StartMember();
  EXPECT_EQ(member_->id(), id);
  auto got = Get("x");
  ASSERT_EQ(got.kvs_size(), 1);
  EXPECT_EQ(got.kvs(0).value(), "2");
  EXPECT_EQ(got.kvs(0).version(), 2);
  EXPECT_EQ(got.header().revision(), 3);
  etcdserverpb::PutResponse put;
  ASSERT_TRUE(Put("x", "3", &put).ok());
  EXPECT_EQ(put.header().revision(), 4);
}

TEST_F(MemberTest, ALoneMemberRestartedOnOtherPeerUrlsKeepsItsIdAndData) {
  ASSERT_TRUE(Put("p", "1").ok());
  const uint64_t id = member_->id();
  const uint64_t cluster = member_->cluster_id();
  member_.reset();
  // The flags now derive other ids (etcd ignores them for a data dir that has its own).
  auto urls = ParseUrls("http://127.0.0.1:12380");
  ASSERT_TRUE(urls.ok());
  config_.initial_advertise_peer_urls = *urls;
  config_.initial_cluster.clear();
  StartMember();
  EXPECT_EQ(member_->id(), id);
  EXPECT_EQ(member_->cluster_id(), cluster);
  EXPECT_EQ(Get("p").kvs(0).value(), "1");
  ASSERT_TRUE(Put("p", "2").ok());
}

TEST_F(MemberTest, StatusReportsTheEtcdApiLevelAndRaftState) {
  ASSERT_TRUE(Put("s", "1").ok());
  etcdserverpb::StatusResponse status;
  ASSERT_TRUE(member_->GetStatus(&status).ok());
  EXPECT_EQ(status.version(), "3.5.35");
  EXPECT_EQ(status.leader(), member_->id());
  EXPECT_GE(status.raftappliedindex(), 2u);
  // raftIndex is the committed index: never behind what was applied.
  EXPECT_GE(status.raftindex(), status.raftappliedindex());
  EXPECT_EQ(status.raftterm(), member_->term());
  EXPECT_GT(status.dbsize(), 0);
  EXPECT_EQ(status.dbsizequota(), int64_t{2} << 30);
}

TEST_F(MemberTest, CallsAfterStopFailWithServerStopped) {
  member_->Stop();
  EXPECT_EQ(Put("a", "1"), Status(Code::kUnavailable, "etcdserver: server stopped"));
  etcdserverpb::StatusResponse status;
  EXPECT_EQ(member_->GetStatus(&status), Status(Code::kUnavailable, "etcdserver: server stopped"));
}

int64_t Grant(Member* m, int64_t ttl, etcdserverpb::LeaseGrantResponse* out = nullptr) {
  etcdserverpb::LeaseGrantRequest req;
  req.set_ttl(ttl);
  etcdserverpb::LeaseGrantResponse resp;
  std::promise<Status> p;
  m->LeaseGrant(req, &resp, [&p](Status s) { p.set_value(s); });
  Status s = p.get_future().get();
  EXPECT_TRUE(s.ok()) << s.ToString();
  if (out) *out = resp;
  return resp.id();
}

TEST_F(MemberTest, LeaseRevokeDeletesItsKeysInOneRevision) {
  const int64_t lease = Grant(member_.get(), 60);
  ASSERT_NE(lease, 0);
  for (const char* k : {"l/a", "l/b", "l/c"}) {
    etcdserverpb::PutRequest put;
    put.set_key(k);
    put.set_lease(lease);
    etcdserverpb::PutResponse resp;
    ASSERT_TRUE(Call(&Member::Put, put, &resp).ok());
  }
  etcdserverpb::LeaseTimeToLiveRequest ttl_req;
  ttl_req.set_id(lease);
  ttl_req.set_keys(true);
  etcdserverpb::LeaseTimeToLiveResponse ttl;
  ASSERT_TRUE(Call(&Member::LeaseTimeToLive, ttl_req, &ttl).ok());
  EXPECT_EQ(ttl.grantedttl(), 60);
  EXPECT_GT(ttl.ttl(), 0);
  EXPECT_EQ(ttl.keys_size(), 3);

  const int64_t before = Get("l/a").header().revision();
  etcdserverpb::LeaseRevokeRequest revoke;
  revoke.set_id(lease);
  etcdserverpb::LeaseRevokeResponse revoked;
  ASSERT_TRUE(Call(&Member::LeaseRevoke, revoke, &revoked).ok());
  auto after = Get("l/", "l0");
  EXPECT_EQ(after.count(), 0);
  EXPECT_EQ(after.header().revision(), before + 1);

  ASSERT_TRUE(Call(&Member::LeaseTimeToLive, ttl_req, &ttl).ok());
  EXPECT_EQ(ttl.ttl(), -1);  // etcd's answer for a lease that is gone
  EXPECT_EQ(Call(&Member::LeaseRevoke, revoke, &revoked),
            Status(Code::kNotFound, "etcdserver: requested lease not found"));
}

TEST_F(MemberTest, KeepAliveRenewsAndAnswersZeroForAMissingLease) {
  const int64_t lease = Grant(member_.get(), 30);
  etcdserverpb::LeaseKeepAliveRequest req;
  req.set_id(lease);
  etcdserverpb::LeaseKeepAliveResponse resp;
  ASSERT_TRUE(Call(&Member::LeaseKeepAlive, req, &resp).ok());
  EXPECT_EQ(resp.id(), lease);
  EXPECT_EQ(resp.ttl(), 30);
  req.set_id(lease + 1);
  ASSERT_TRUE(Call(&Member::LeaseKeepAlive, req, &resp).ok());
  EXPECT_EQ(resp.ttl(), 0);
}

TEST_F(MemberTest, TooLargeTtlAndMinimumTtlAreEtcds) {
  etcdserverpb::LeaseGrantRequest req;
  req.set_ttl(lease::kMaxLeaseTTL + 1);
  etcdserverpb::LeaseGrantResponse resp;
  EXPECT_EQ(Call(&Member::LeaseGrant, req, &resp),
            Status(Code::kOutOfRange, "etcdserver: too large lease TTL"));
  etcdserverpb::LeaseGrantResponse granted;
  Grant(member_.get(), 1, &granted);
  // Default heartbeat 100 ms and election 1000 ms: etcd's minimum TTL is 2 s.
  EXPECT_EQ(granted.ttl(), 2);
}

TEST_F(MemberTest, ExpiredLeaseIsRevokedThroughRaftWithItsKeys) {
  member_.reset();
  config_.heartbeat_interval_ms = 10;
  config_.election_timeout_ms = 100;  // minimum TTL 1 s
  StartMember();
  const int64_t lease = Grant(member_.get(), 1);
  etcdserverpb::PutRequest put;
  put.set_key("ephemeral");
  put.set_lease(lease);
  etcdserverpb::PutResponse put_resp;
  ASSERT_TRUE(Call(&Member::Put, put, &put_resp).ok());
  // Expiry is time-driven: wait for it with a generous deadline, asserting no speed.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (Get("ephemeral").count() != 0) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the lease never expired";
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  etcdserverpb::LeaseLeasesResponse leases;
  std::promise<Status> listed;
  member_->LeaseLeases(&leases, [&](Status s) { listed.set_value(std::move(s)); });
  ASSERT_TRUE(listed.get_future().get().ok());
  EXPECT_EQ(leases.leases_size(), 0);
}

TEST_F(MemberTest, RestartKeepsLeasesAndTheirKeys) {
  const int64_t lease = Grant(member_.get(), 120);
  etcdserverpb::PutRequest put;
  put.set_key("kept");
  put.set_lease(lease);
  etcdserverpb::PutResponse put_resp;
  ASSERT_TRUE(Call(&Member::Put, put, &put_resp).ok());
  member_.reset();
  StartMember();
  etcdserverpb::LeaseTimeToLiveRequest req;
  req.set_id(lease);
  req.set_keys(true);
  etcdserverpb::LeaseTimeToLiveResponse ttl;
  ASSERT_TRUE(Call(&Member::LeaseTimeToLive, req, &ttl).ok());
  EXPECT_EQ(ttl.grantedttl(), 120);
  ASSERT_EQ(ttl.keys_size(), 1);
  EXPECT_EQ(ttl.keys(0), "kept");
  EXPECT_EQ(Get("kept").kvs(0).lease(), lease);
}

TEST_F(MemberTest, WatchStreamReceivesAppliedWritesInRevisionOrder) {
  std::mutex mu;
  std::condition_variable cv;
  bool woken = false;
  auto stream = member_->OpenWatchStream([&] {
    std::lock_guard lock(mu);
    woken = true;
    cv.notify_all();
  });
  ASSERT_NE(stream, nullptr);
  watch::CreateRequest create;
  create.key = "w/";
  create.range_end = "w0";
  create.prev_kv = true;
  const int64_t id = stream->Create(create);
  ASSERT_GE(id, 0);
  ASSERT_TRUE(Put("w/1", "a").ok());
  ASSERT_TRUE(Put("other", "x").ok());
  ASSERT_TRUE(Put("w/1", "b").ok());
  etcdserverpb::DeleteRangeRequest del;
  del.set_key("w/1");
  etcdserverpb::DeleteRangeResponse del_resp;
  ASSERT_TRUE(Call(&Member::DeleteRange, del, &del_resp).ok());

  std::vector<mvcc::Event> events;
  bool created = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (events.size() < 3) {
    std::optional<watch::Response> r = stream->TryPop();
    if (!r) {
      std::unique_lock lock(mu);
      ASSERT_TRUE(cv.wait_until(lock, deadline, [&] { return woken; })) << "no events came";
      woken = false;
      continue;
    }
    EXPECT_EQ(r->watch_id, id);
    if (r->created) created = true;
    for (auto& e : r->events) events.push_back(std::move(e));
  }
  EXPECT_TRUE(created);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type, mvcc::Event::Type::kPut);
  EXPECT_EQ(events[0].kv.mod_revision, 2);
  EXPECT_EQ(events[1].kv.value, "b");
  EXPECT_EQ(events[1].kv.mod_revision, 4);  // "other" took revision 3
  ASSERT_TRUE(events[1].prev_kv.has_value());
  EXPECT_EQ(events[1].prev_kv->value, "a");
  EXPECT_EQ(events[2].type, mvcc::Event::Type::kDelete);
  EXPECT_EQ(events[2].kv.mod_revision, 5);
}

// Unpacks a snapshot stream (server/snapshot.h) into `dir`, checking its hash.
void Unpack(const std::string& stream, const std::filesystem::path& dir) {
  ASSERT_GE(stream.size(), 11u + 32u);
  ASSERT_EQ(stream.size() % 512, 32u);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(stream.data(), stream.size() - 32, digest, &len, EVP_sha256(), nullptr);
  ASSERT_EQ(std::string(reinterpret_cast<char*>(digest), len), stream.substr(stream.size() - 32));
  ASSERT_EQ(stream.substr(0, 11), "CAIRNSNAP1\n");
  std::filesystem::create_directories(dir);
  size_t pos = 11;
  auto number = [&](int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(stream[pos++]);
    return v;
  };
  while (pos < stream.size() - 32) {
    const uint64_t name_len = number(4);
    if (name_len == 0) break;  // the zero padding before the hash
    const std::string name = stream.substr(pos, name_len);
    pos += name_len;
    const uint64_t size = number(8);
    std::ofstream(dir / name, std::ios::binary).write(stream.data() + pos, size);
    pos += size;
  }
}

TEST_F(MemberTest, SnapshotStreamRestoresToTheSameState) {
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(Put("s/" + std::to_string(i), "v").ok());
  auto reader = member_->OpenSnapshot();
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ(member_->OpenSnapshot().status().code(), Code::kUnavailable);  // one at a time
  std::string stream, chunk;
  const uint64_t total = (*reader)->total_bytes();
  do {
    ASSERT_TRUE((*reader)->Read(4096, &chunk).ok());
    stream += chunk;
  } while (!chunk.empty());
  EXPECT_EQ(stream.size(), total);
  EXPECT_EQ((*reader)->remaining_bytes(), 0u);
  reader->reset();

  const std::filesystem::path restored = dir_.string() + "-restored";
  std::filesystem::remove_all(restored);
  Unpack(stream, restored);
  member_.reset();
  config_.data_dir = restored.string();
  StartMember();
  auto got = Get("s/", "s0");
  EXPECT_EQ(got.count(), 20);
  EXPECT_EQ(got.header().revision(), 21);
  member_.reset();
  std::filesystem::remove_all(restored);
}

// What a follower does with a snapshot stream: unpacked as it arrives in pieces of any size,
// the same files come out; a stream with one byte changed is refused.
TEST_F(MemberTest, SnapshotUnpackerRebuildsTheFilesAndRefusesACorruptStream) {
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(Put("u/" + std::to_string(i), "v").ok());
  std::string stream, chunk;
  {
    auto reader = member_->OpenSnapshot();
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    do {
      ASSERT_TRUE((*reader)->Read(4096, &chunk).ok());
      stream += chunk;
    } while (!chunk.empty());
  }
  const std::string dir = dir_.string() + "-unpacked";
  std::filesystem::remove_all(dir);
  auto unpacker = SnapshotUnpacker::Create(dir, stream.size());
  ASSERT_TRUE(unpacker.ok()) << unpacker.status().ToString();
  for (size_t pos = 0, step = 1; pos < stream.size(); pos += step, step = step * 3 % 7919 + 1) {
    ASSERT_TRUE((*unpacker)->Write(std::string_view(stream).substr(pos, step)).ok());
  }
  ASSERT_TRUE((*unpacker)->Finish().ok());
  const std::filesystem::path expected = dir_.string() + "-expected";
  std::filesystem::remove_all(expected);
  Unpack(stream, expected);
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(expected)) {
    ++files;
    auto got = std::filesystem::path(dir) / entry.path().filename();
    ASSERT_TRUE(std::filesystem::exists(got)) << got;
    EXPECT_EQ(std::filesystem::file_size(got), entry.file_size()) << got;
  }
  EXPECT_GT(files, 0u);
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(expected);

  std::string corrupt = stream;
  corrupt[corrupt.size() / 2] ^= 0x01;
  auto bad = SnapshotUnpacker::Create(dir, corrupt.size());
  ASSERT_TRUE(bad.ok());
  Status s = (*bad)->Write(corrupt);
  if (s.ok()) s = (*bad)->Finish();
  EXPECT_EQ(s.code(), Code::kDataLoss) << s.ToString();
  std::filesystem::remove_all(dir);
}

TEST_F(MemberTest, RaftLogIsCompactedBelowCheckpointsAndRestartReplaysTheRest) {
  member_.reset();
  config_.snapshot_count = 20;
  StartMember();
  const uint64_t first_before = member_->raft_log_first_index();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(Put("c/" + std::to_string(i % 7), "v").ok());
  // Compaction follows a checkpoint on the raft thread: wait for it with a deadline.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (member_->raft_log_first_index() <= first_before + 20) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the log was never compacted";
    ASSERT_TRUE(Put("tick", "v").ok());  // outside the range counted below
  }
  const int64_t revision = Get("c/0").header().revision();
  member_.reset();
  StartMember();
  auto got = Get("c/", "c0");
  EXPECT_EQ(got.count(), 7);  // c/0 .. c/6
  EXPECT_EQ(got.header().revision(), revision);
}

etcdserverpb::TxnRequest NestedPut(int depth, const std::string& key) {
  etcdserverpb::TxnRequest txn;
  txn.add_success()->mutable_request_put()->set_key(key);
  for (int i = 1; i < depth; ++i) {
    etcdserverpb::TxnRequest outer;
    *outer.add_success()->mutable_request_txn() = std::move(txn);
    txn = std::move(outer);
  }
  return txn;
}

TEST_F(MemberTest, DeeplyNestedTxnsApplyOrGetEtcdsError) {
  // Deeper than protobuf's default recursion limit once wrapped in a raft entry.
  etcdserverpb::TxnResponse resp;
  ASSERT_TRUE(Call(&Member::Txn, NestedPut(60, "deep"), &resp).ok());
  EXPECT_EQ(Get("deep").count(), 1);
  // Nested txns share --max-txn-ops (128) with their parents, as in etcd.
  EXPECT_EQ(Call(&Member::Txn, NestedPut(200, "deeper"), &resp),
            Status(Code::kInvalidArgument, "etcdserver: too many operations in txn request"));
}

}  // namespace
}  // namespace cairn::server

namespace cairn::server {
namespace {

etcdserverpb::AlarmRequest AlarmRequestFor(etcdserverpb::AlarmRequest::AlarmAction action,
                                           uint64_t member, etcdserverpb::AlarmType type) {
  etcdserverpb::AlarmRequest req;
  req.set_action(action);
  req.set_memberid(member);
  req.set_alarm(type);
  return req;
}

// While NOSPACE is raised, every write that adds data is refused with etcd's error; reads,
// deletes, delete-only txns and compactions go on; the alarm outlives a restart; disarming
// it lets writes through again.
TEST_F(MemberTest, NospaceAlarmRefusesWhatAddsDataUntilDisarmed) {
  ASSERT_TRUE(Put("a", "1").ok());
  ASSERT_TRUE(Put("b", "2").ok());
  ASSERT_TRUE(Put("kept", "3").ok());
  etcdserverpb::AlarmResponse raised;
  ASSERT_TRUE(Call(&Member::Alarm,
                   AlarmRequestFor(etcdserverpb::AlarmRequest::ACTIVATE, member_->id(),
                                   etcdserverpb::NOSPACE),
                   &raised)
                  .ok());
  ASSERT_EQ(raised.alarms_size(), 1);
  EXPECT_EQ(raised.alarms(0).memberid(), member_->id());

  auto expect_refusals = [&] {
    EXPECT_EQ(Put("c", "3"), etcd::NoSpace());
    etcdserverpb::TxnRequest with_put;
    with_put.add_success()->mutable_request_put()->set_key("c");
    etcdserverpb::TxnResponse txn_resp;
    EXPECT_EQ(Call(&Member::Txn, with_put, &txn_resp), etcd::NoSpace());
    etcdserverpb::LeaseGrantRequest grant;
    grant.set_ttl(60);
    etcdserverpb::LeaseGrantResponse grant_resp;
    EXPECT_EQ(Call(&Member::LeaseGrant, grant, &grant_resp), etcd::NoSpace());
    EXPECT_EQ(Get("c").count(), 0);
    EXPECT_EQ(Get("kept").count(), 1);
  };
  expect_refusals();

  etcdserverpb::TxnRequest delete_only;
  delete_only.add_success()->mutable_request_delete_range()->set_key("a");
  etcdserverpb::TxnResponse deleted;
  EXPECT_TRUE(Call(&Member::Txn, delete_only, &deleted).ok());
  etcdserverpb::DeleteRangeRequest del;
  del.set_key("b");
  etcdserverpb::DeleteRangeResponse del_resp;
  EXPECT_TRUE(Call(&Member::DeleteRange, del, &del_resp).ok());
  EXPECT_EQ(del_resp.deleted(), 1);
  etcdserverpb::CompactionRequest compact;
  compact.set_revision(3);
  etcdserverpb::CompactionResponse compact_resp;
  EXPECT_TRUE(Call(&Member::Compact, compact, &compact_resp).ok());

  // The alarm is part of the state: a restart keeps it, and Status lists it as etcd does.
  member_.reset();
  StartMember();
  expect_refusals();
  etcdserverpb::StatusResponse status;
  ASSERT_TRUE(member_->GetStatus(&status).ok());
  ASSERT_EQ(status.errors_size(), 1);
  EXPECT_EQ(status.errors(0), "memberID:" + std::to_string(member_->id()) + " alarm:NOSPACE ");
  etcdserverpb::AlarmResponse listed;
  ASSERT_TRUE(Call(&Member::Alarm,
                   AlarmRequestFor(etcdserverpb::AlarmRequest::GET, 0, etcdserverpb::NONE), &listed)
                  .ok());
  ASSERT_EQ(listed.alarms_size(), 1);
  EXPECT_EQ(listed.alarms(0).alarm(), etcdserverpb::NOSPACE);

  etcdserverpb::AlarmResponse disarmed;
  ASSERT_TRUE(Call(&Member::Alarm,
                   AlarmRequestFor(etcdserverpb::AlarmRequest::DEACTIVATE, member_->id(),
                                   etcdserverpb::NOSPACE),
                   &disarmed)
                  .ok());
  EXPECT_EQ(disarmed.alarms_size(), 1);
  EXPECT_TRUE(Put("c", "3").ok());
  etcdserverpb::AlarmResponse none;
  ASSERT_TRUE(Call(&Member::Alarm,
                   AlarmRequestFor(etcdserverpb::AlarmRequest::GET, 0, etcdserverpb::NONE), &none)
                  .ok());
  EXPECT_EQ(none.alarms_size(), 0);
}

// A write that would take the database past --quota-backend-bytes is refused and raises
// NOSPACE for the member.
TEST_F(MemberTest, ExceedingTheQuotaRaisesNospace) {
  member_.reset();
  config_.quota_backend_bytes = 1;  // any database is larger
  StartMember();
  etcdserverpb::StatusResponse status;
  ASSERT_TRUE(member_->GetStatus(&status).ok());
  EXPECT_EQ(status.dbsizequota(), 1);
  EXPECT_EQ(Put("k", "v"), etcd::NoSpace());
  // The alarm goes through raft: wait for it to apply, with a generous deadline.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  etcdserverpb::AlarmResponse listed;
  while (listed.alarms_size() == 0) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "NOSPACE was never raised";
    listed.Clear();
    ASSERT_TRUE(Call(&Member::Alarm,
                     AlarmRequestFor(etcdserverpb::AlarmRequest::GET, 0, etcdserverpb::NOSPACE),
                     &listed)
                    .ok());
  }
  EXPECT_EQ(listed.alarms(0).memberid(), member_->id());
  // Reads and deletes still work.
  EXPECT_EQ(Get("k").count(), 0);
  etcdserverpb::DeleteRangeRequest del;
  del.set_key("k");
  etcdserverpb::DeleteRangeResponse del_resp;
  EXPECT_TRUE(Call(&Member::DeleteRange, del, &del_resp).ok());
}

}  // namespace
}  // namespace cairn::server
