// The KV service over rpc/h2 against a real one-member cluster, judged by grpc++ stubs:
// answers, headers and etcd's errors as the grpc++ services give them.
#include "rpc/h2/client_services.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <thread>

#include "etcd/etcdserverpb/rpc.grpc.pb.h"
#include "storage/test_dir.h"

namespace cairn::rpc::h2 {
namespace {

using namespace std::chrono_literals;

class H2KvServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server::Config c;
    c.name = "solo";
    c.data_dir = dir_.path() + "/solo";
    c.heartbeat_interval_ms = 50;
    c.election_timeout_ms = 500;
    c.listen_peer_urls = {*server::ParseUrl("http://127.0.0.1:1")};
    c.initial_advertise_peer_urls = c.listen_peer_urls;
    c.listen_client_urls = {*server::ParseUrl("http://127.0.0.1:1")};
    c.advertise_client_urls = c.listen_client_urls;
    c.max_request_bytes = 4096;
    auto m = server::Member::Start(c);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    member_ = std::move(*m);
    for (int i = 0; i < 400 && member_->leader() == 0; ++i) std::this_thread::sleep_for(10ms);
    ASSERT_NE(member_->leader(), 0u);

    Options options;
    options.threads = 2;
    options.max_receive_message_bytes = c.max_request_bytes + 512 * 1024;
    server_ = std::make_unique<Server>(options);
    AddKvService(server_.get(), member_.get());
    auto port = server_->ListenTcp("127.0.0.1", 0);
    ASSERT_TRUE(port.ok());
    ASSERT_TRUE(server_->Start().ok());
    stub_ = etcdserverpb::KV::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(*port),
                                                          grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_) server_->Shutdown(1s);
    if (member_) member_->Stop();
  }

  grpc::Status Put(const std::string& key, const std::string& value,
                   etcdserverpb::PutResponse* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    etcdserverpb::PutRequest req;
    req.set_key(key);
    req.set_value(value);
    return stub_->Put(&ctx, req, resp);
  }

  storage::TempDir dir_;
  std::unique_ptr<server::Member> member_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<etcdserverpb::KV::Stub> stub_;
};

TEST_F(H2KvServiceTest, PutRangeTxnDeleteAndCompactAnswerAsTheMemberDoes) {
  etcdserverpb::PutResponse put;
  ASSERT_TRUE(Put("a", "1", &put).ok());
  ASSERT_TRUE(Put("b", "2", &put).ok());
  EXPECT_EQ(put.header().revision(), 3);
  EXPECT_NE(put.header().cluster_id(), 0u);
  EXPECT_EQ(put.header().member_id(), member_->leader());

  grpc::ClientContext ctx;
  ctx.AddMetadata("hasleader", "true");  // there is one: the call goes through
  etcdserverpb::RangeRequest range;
  range.set_key("a");
  range.set_range_end("c");
  etcdserverpb::RangeResponse got;
  ASSERT_TRUE(stub_->Range(&ctx, range, &got).ok());
  ASSERT_EQ(got.kvs_size(), 2);
  EXPECT_EQ(got.kvs(1).value(), "2");
  EXPECT_EQ(got.count(), 2);

  grpc::ClientContext tctx;
  etcdserverpb::TxnRequest txn;
  auto* cmp = txn.add_compare();
  cmp->set_key("a");
  cmp->set_target(etcdserverpb::Compare::VALUE);
  cmp->set_result(etcdserverpb::Compare::EQUAL);
  cmp->set_value("1");
  txn.add_success()->mutable_request_put()->set_key("c");
  etcdserverpb::TxnResponse txn_resp;
  ASSERT_TRUE(stub_->Txn(&tctx, txn, &txn_resp).ok());
  EXPECT_TRUE(txn_resp.succeeded());

  grpc::ClientContext dctx;
  etcdserverpb::DeleteRangeRequest del;
  del.set_key("a");
  etcdserverpb::DeleteRangeResponse del_resp;
  ASSERT_TRUE(stub_->DeleteRange(&dctx, del, &del_resp).ok());
  EXPECT_EQ(del_resp.deleted(), 1);

  grpc::ClientContext cctx;
  etcdserverpb::CompactionRequest compact;
  compact.set_revision(4);
  compact.set_physical(true);
  etcdserverpb::CompactionResponse compact_resp;
  ASSERT_TRUE(stub_->Compact(&cctx, compact, &compact_resp).ok());

  grpc::ClientContext octx;
  range.set_revision(2);
  grpc::Status s = stub_->Range(&octx, range, &got);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(s.error_message(), "etcdserver: mvcc: required revision has been compacted");
}

TEST_F(H2KvServiceTest, EtcdsErrorsAndTheRequestLimitsHold) {
  etcdserverpb::PutResponse put;
  grpc::Status s = Put("", "v", &put);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "etcdserver: key is not provided");

  // Over --max-request-bytes but within gRPC's allowance: the member's own refusal.
  s = Put("k", std::string(8192, 'v'), &put);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "etcdserver: request is too large");

  // Over the allowance too: refused before it reaches the member.
  s = Put("k", std::string(600 * 1024, 'v'), &put);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);

  grpc::ClientContext ctx;
  etcdserverpb::RangeRequest range;
  range.set_key("a");
  range.set_revision(100);
  etcdserverpb::RangeResponse got;
  s = stub_->Range(&ctx, range, &got);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(s.error_message(), "etcdserver: mvcc: required revision is a future revision");
}

}  // namespace
}  // namespace cairn::rpc::h2
