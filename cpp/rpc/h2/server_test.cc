// The HTTP/2 gRPC server judged by real gRPC clients (grpc++ stubs of etcd's protos) and by
// raw HTTP/2 bytes for what a well-behaved client never sends.
#include "rpc/h2/server.h"

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include "etcd/etcdserverpb/rpc.grpc.pb.h"
#include "rpc/h2/wire.h"

namespace cairn::rpc::h2 {
namespace {

using namespace std::chrono_literals;
using etcdserverpb::PutRequest;
using etcdserverpb::PutResponse;
using etcdserverpb::RangeRequest;
using etcdserverpb::RangeResponse;

// Calls whose answer the test gives later.
class Held {
 public:
  void Add(Done done) {
    std::lock_guard lock(mu_);
    dones_.push_back(std::move(done));
    cv_.notify_all();
  }
  void WaitFor(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return dones_.size() >= n; });
  }
  void ReleaseAll(const Status& s) {
    std::vector<Done> dones;
    {
      std::lock_guard lock(mu_);
      dones.swap(dones_);
    }
    for (Done& d : dones) d(s);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Done> dones_;
};

class H2ServerTest : public ::testing::Test {
 protected:
  void StartServer(size_t max_message = 4 << 20, int threads = 2) {
    Options options;
    options.threads = threads;
    options.max_receive_message_bytes = max_message;
    server_ = std::make_unique<Server>(options);
    server_->AddUnary<RangeRequest, RangeResponse>(
        "/etcdserverpb.KV/Range",
        [this](const CallInfo& info, const RangeRequest& req, RangeResponse* resp, Done done) {
          const std::string& key = req.key();
          if (key == "ok") {
            resp->add_kvs()->set_key(key);
            resp->set_count(req.limit());
            done(Status::Ok());
          } else if (key == "error") {
            done(OutOfRange("etcdserver: mvcc: required revision has been compacted"));
          } else if (key == "odd-message") {
            done(InvalidArgument("100% wrong\nline two, caf\xc3\xa9"));
          } else if (key == "async") {
            std::thread([resp, done = std::move(done)] {
              resp->set_count(7);
              done(Status::Ok());
            }).detach();
          } else if (key == "hold") {
            held_.Add(std::move(done));
          } else if (key == "deadline") {
            const auto left = info.deadline() - std::chrono::steady_clock::now();
            resp->set_count(std::chrono::duration_cast<std::chrono::milliseconds>(left).count());
            done(Status::Ok());
          } else if (key == "metadata") {
            const std::string* v = info.metadata(req.range_end());
            resp->add_kvs()->set_value(v ? *v : "<absent>");
            done(Status::Ok());
          } else if (key == "big") {
            resp->add_kvs()->set_value(std::string(static_cast<size_t>(req.limit()), 'b'));
            done(Status::Ok());
          } else {
            done(NotFound("no such test key"));
          }
        });
    server_->AddUnary<PutRequest, PutResponse>(
        "/etcdserverpb.KV/Put",
        [](const CallInfo&, const PutRequest& req, PutResponse* resp, Done done) {
          // Echoes the size and a checksum of the value, so a large request is seen whole.
          uint64_t sum = 0;
          for (unsigned char c : req.value()) sum = sum * 31 + c;
          resp->mutable_header()->set_revision(static_cast<int64_t>(req.value().size()));
          resp->mutable_header()->set_raft_term(sum);
          done(Status::Ok());
        });
    auto port = server_->ListenTcp("127.0.0.1", 0);
    ASSERT_TRUE(port.ok()) << port.status().ToString();
    port_ = *port;
    ASSERT_TRUE(server_->Start().ok());
  }

  std::shared_ptr<grpc::Channel> NewChannel() {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);
    args.SetMaxSendMessageSize(-1);
    // A channel of its own each time: grpc++ would otherwise share one connection.
    args.SetInt("grpc.use_local_subchannel_pool", 1);
    return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port_),
                                     grpc::InsecureChannelCredentials(), args);
  }

  grpc::Status Range(etcdserverpb::KV::Stub* stub, const std::string& key, RangeResponse* resp,
                     int64_t limit = 0, std::chrono::milliseconds timeout = 10s) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout);
    RangeRequest req;
    req.set_key(key);
    req.set_limit(limit);
    return stub->Range(&ctx, req, resp);
  }

  void TearDown() override {
    held_.ReleaseAll(Status::Ok());
    if (server_) server_->Shutdown(0ms);
  }

  Held held_;
  std::unique_ptr<Server> server_;
  int port_ = 0;
};

TEST_F(H2ServerTest, UnaryCallsReturnTheResponseOrTheStatusWithItsMessage) {
  StartServer();
  auto stub = etcdserverpb::KV::NewStub(NewChannel());
  RangeResponse resp;
  grpc::Status s = Range(stub.get(), "ok", &resp, 42);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(resp.kvs_size(), 1);
  EXPECT_EQ(resp.kvs(0).key(), "ok");
  EXPECT_EQ(resp.count(), 42);

  s = Range(stub.get(), "error", &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(s.error_message(), "etcdserver: mvcc: required revision has been compacted");

  // grpc-message is percent-encoded on the wire; the client sees the original bytes.
  s = Range(stub.get(), "odd-message", &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "100% wrong\nline two, caf\xc3\xa9");

  RangeResponse async_resp;
  s = Range(stub.get(), "async", &async_resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(async_resp.count(), 7);
}

TEST_F(H2ServerTest, UnknownServicesAndMethodsAreUnimplemented) {
  StartServer();
  auto channel = NewChannel();
  auto kv = etcdserverpb::KV::NewStub(channel);
  grpc::ClientContext ctx;
  etcdserverpb::DeleteRangeRequest req;
  etcdserverpb::DeleteRangeResponse resp;
  grpc::Status s = kv->DeleteRange(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(s.error_message(), "unknown method DeleteRange for service etcdserverpb.KV");

  auto maintenance = etcdserverpb::Maintenance::NewStub(channel);
  grpc::ClientContext ctx2;
  etcdserverpb::StatusRequest sreq;
  etcdserverpb::StatusResponse sresp;
  s = maintenance->Status(&ctx2, sreq, &sresp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(s.error_message(), "unknown service etcdserverpb.Maintenance");
}

TEST_F(H2ServerTest, TheClientsDeadlineReachesTheHandler) {
  StartServer();
  auto stub = etcdserverpb::KV::NewStub(NewChannel());
  RangeResponse resp;
  grpc::Status s = Range(stub.get(), "deadline", &resp, 0, 5000ms);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_GT(resp.count(), 3000);
  EXPECT_LE(resp.count(), 5001);

  // Without a deadline the handler sees none.
  grpc::ClientContext ctx;
  RangeRequest req;
  req.set_key("deadline");
  s = stub->Range(&ctx, req, &resp);
  ASSERT_TRUE(s.ok());
  EXPECT_GT(resp.count(), int64_t{24} * 3600 * 1000);
}

TEST_F(H2ServerTest, ACallPastItsDeadlineEndsAndItsLateAnswerIsDropped) {
  StartServer();
  auto stub = etcdserverpb::KV::NewStub(NewChannel());
  RangeResponse resp;
  grpc::Status s = Range(stub.get(), "hold", &resp, 0, 200ms);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  held_.WaitFor(1);
  held_.ReleaseAll(Status::Ok());  // the handler answers after all: nothing breaks
  s = Range(stub.get(), "ok", &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(H2ServerTest, MetadataReachesTheHandler) {
  StartServer();
  auto stub = etcdserverpb::KV::NewStub(NewChannel());
  grpc::ClientContext ctx;
  ctx.AddMetadata("hasleader", "true");
  RangeRequest req;
  req.set_key("metadata");
  req.set_range_end("hasleader");
  RangeResponse resp;
  grpc::Status s = stub->Range(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(resp.kvs_size(), 1);
  EXPECT_EQ(resp.kvs(0).value(), "true");

  grpc::ClientContext ctx2;
  req.set_range_end("token");
  s = stub->Range(&ctx2, req, &resp);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(resp.kvs(0).value(), "<absent>");
}

TEST_F(H2ServerTest, ManyConcurrentCallsOnOneConnectionEachGetTheirOwnAnswer) {
  StartServer();
  auto stub = etcdserverpb::KV::NewStub(NewChannel());
  // Held calls first, answered out of order with the others running meanwhile.
  constexpr int kHeld = 50;
  std::vector<std::future<grpc::Status>> held;
  for (int i = 0; i < kHeld; ++i) {
    held.push_back(std::async(std::launch::async, [&] {
      RangeResponse resp;
      return Range(stub.get(), "hold", &resp);
    }));
  }
  held_.WaitFor(kHeld);
  constexpr int kThreads = 16;
  constexpr int kCalls = 200;
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        RangeResponse resp;
        const int64_t n = t * kCalls + i;
        grpc::Status s = Range(stub.get(), i % 2 ? "ok" : "async", &resp, n);
        if (s.ok() && (i % 2 ? resp.count() == n : resp.count() == 7)) ++good;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), kThreads * kCalls);
  held_.ReleaseAll(Status::Ok());
  for (auto& f : held) EXPECT_TRUE(f.get().ok());
}

TEST_F(H2ServerTest, MessagesLargerThanTheFlowControlWindowsGoBothWays) {
  StartServer(64 << 20);
  auto stub = etcdserverpb::KV::NewStub(NewChannel());
  std::string value(24 << 20, '\0');
  std::mt19937 rng(7);
  for (char& c : value) c = static_cast<char>(rng());
  uint64_t sum = 0;
  for (unsigned char c : value) sum = sum * 31 + c;
  grpc::ClientContext ctx;
  PutRequest req;
  req.set_key("k");
  req.set_value(value);
  PutResponse resp;
  grpc::Status s = stub->Put(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.header().revision(), static_cast<int64_t>(value.size()));
  EXPECT_EQ(resp.header().raft_term(), sum);

  RangeResponse big;
  s = Range(stub.get(), "big", &big, 40 << 20);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(big.kvs_size(), 1);
  EXPECT_EQ(big.kvs(0).value().size(), size_t{40} << 20);
}

TEST_F(H2ServerTest, AnOversizedRequestIsRefusedAndTheConnectionGoesOn) {
  StartServer(1 << 20);
  auto stub = etcdserverpb::KV::NewStub(NewChannel());
  grpc::ClientContext ctx;
  PutRequest req;
  req.set_key("k");
  req.set_value(std::string(2 << 20, 'v'));
  PutResponse resp;
  grpc::Status s = stub->Put(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(s.error_message(), "grpc: received message larger than max (" +
                                   std::to_string(req.ByteSizeLong()) + " vs. 1048576)");
  RangeResponse range;
  s = Range(stub.get(), "ok", &range);
  EXPECT_TRUE(s.ok()) << s.error_message();
  // Just under the limit passes.
  grpc::ClientContext ctx2;
  req.set_value(std::string((1 << 20) - 16, 'v'));
  ASSERT_LE(req.ByteSizeLong(), size_t{1} << 20);
  s = stub->Put(&ctx2, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(H2ServerTest, CompressedRequestsAreRefused) {
  StartServer();
  auto stub = etcdserverpb::KV::NewStub(NewChannel());
  grpc::ClientContext ctx;
  ctx.set_compression_algorithm(GRPC_COMPRESS_GZIP);
  RangeRequest req;
  req.set_key("ok");
  RangeResponse resp;
  grpc::Status s = stub->Range(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(s.error_message(), "grpc: Decompressor is not installed for grpc-encoding \"gzip\"");
}

TEST_F(H2ServerTest, AClientCancelEndsTheCallAndTheLateAnswerIsDropped) {
  StartServer();
  auto stub = etcdserverpb::KV::NewStub(NewChannel());
  grpc::ClientContext ctx;
  RangeRequest req;
  req.set_key("hold");
  RangeResponse resp;
  auto call = std::async(std::launch::async, [&] { return stub->Range(&ctx, req, &resp); });
  held_.WaitFor(1);
  ctx.TryCancel();
  EXPECT_EQ(call.get().error_code(), grpc::StatusCode::CANCELLED);
  held_.ReleaseAll(Status::Ok());
  RangeResponse ok;
  EXPECT_TRUE(Range(stub.get(), "ok", &ok).ok());
}

// ---------------------------------------------------------------------------------------
// Raw HTTP/2: a client session from nghttp2 makes the bytes, the test sends what it likes.

int Connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

nghttp2_nv Nv(const std::string& name, const std::string& value) {
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE};
}

// The bytes of a connection preface and `n` gRPC requests of `body` to `path`.
std::string RequestBytes(const std::string& path, const std::string& body, int n = 1) {
  nghttp2_session_callbacks* cbs;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session* session;
  nghttp2_session_client_new(&session, cbs, nullptr);
  nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, nullptr, 0);
  std::string framed(5, '\0');
  framed[4] = static_cast<char>(body.size());
  framed[3] = static_cast<char>(body.size() >> 8);
  framed += body;
  struct Source {
    std::string data;
    size_t off = 0;
  };
  std::vector<std::unique_ptr<Source>> sources;
  const std::string kMethod = ":method", kPost = "POST", kPath = ":path", kScheme = ":scheme",
                    kHttp = "http", kAuthority = ":authority", kHost = "localhost",
                    kCt = "content-type", kGrpc = "application/grpc", kTe = "te",
                    kTrailers = "trailers";
  for (int i = 0; i < n; ++i) {
    sources.push_back(std::make_unique<Source>(Source{framed, 0}));
    nghttp2_nv nva[] = {Nv(kMethod, kPost), Nv(kScheme, kHttp), Nv(kAuthority, kHost),
                        Nv(kPath, path),    Nv(kCt, kGrpc),     Nv(kTe, kTrailers)};
    nghttp2_data_provider provider{};
    provider.source.ptr = sources.back().get();
    provider.read_callback = [](nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                                uint32_t* flags, nghttp2_data_source* src, void*) -> ssize_t {
      auto* s = static_cast<Source*>(src->ptr);
      const size_t k = std::min(length, s->data.size() - s->off);
      std::memcpy(buf, s->data.data() + s->off, k);
      s->off += k;
      if (s->off == s->data.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
      return static_cast<ssize_t>(k);
    };
    nghttp2_submit_request(session, nullptr, nva, 6, &provider, nullptr);
  }
  std::string out;
  for (;;) {
    const uint8_t* data;
    ssize_t k = nghttp2_session_mem_send(session, &data);
    if (k <= 0) break;
    out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(k));
  }
  nghttp2_session_del(session);
  nghttp2_session_callbacks_del(cbs);
  return out;
}

void SendAll(int fd, const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t w = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (w <= 0) return;  // the server may close on garbage: that is its right
    off += static_cast<size_t>(w);
  }
}

// Reads until the server closes or goes quiet.
void Drain(int fd) {
  char buf[4096];
  while (::recv(fd, buf, sizeof(buf), 0) > 0) {
  }
}

TEST_F(H2ServerTest, AConnectionClosedMidCallLeavesTheServerServing) {
  StartServer();
  RangeRequest req;
  req.set_key("hold");
  for (int round = 0; round < 3; ++round) {
    int fd = Connect(port_);
    ASSERT_GE(fd, 0);
    SendAll(fd, RequestBytes("/etcdserverpb.KV/Range", req.SerializeAsString(), 5));
    held_.WaitFor(5);
    ::close(fd);
    // The answers come after their connection is gone (on another thread, as a member's).
    std::this_thread::sleep_for(50ms);
    std::thread([this] { held_.ReleaseAll(Status::Ok()); }).join();
  }
  auto stub = etcdserverpb::KV::NewStub(NewChannel());
  RangeResponse resp;
  EXPECT_TRUE(Range(stub.get(), "ok", &resp).ok());
}

TEST_F(H2ServerTest, GarbageAndTruncatedFramesNeverBringItDown) {
  StartServer();
  RangeRequest req;
  req.set_key("ok");
  const std::string valid = RequestBytes("/etcdserverpb.KV/Range", req.SerializeAsString(), 3);
  std::mt19937 rng(12345);
  for (int i = 0; i < 300; ++i) {
    std::string bytes = valid;
    switch (i % 4) {
      case 0:  // truncated anywhere
        bytes.resize(rng() % bytes.size());
        break;
      case 1:  // random bytes flipped after the preface
        for (int k = 0; k < 4; ++k)
          bytes[24 + rng() % (bytes.size() - 24)] = static_cast<char>(rng());
        break;
      case 2: {  // garbage after the preface
        bytes.resize(24 + rng() % 64);
        for (size_t k = 24; k < bytes.size(); ++k) bytes[k] = static_cast<char>(rng());
        break;
      }
      case 3:  // garbage instead of the preface
        for (char& c : bytes) c = static_cast<char>(rng());
        break;
    }
    int fd = Connect(port_);
    ASSERT_GE(fd, 0);
    SendAll(fd, bytes);
    if (i % 2) {
      ::shutdown(fd, SHUT_WR);
      Drain(fd);
    }
    ::close(fd);
  }
  // Malformed gRPC inside well-formed HTTP/2: a message that is not protobuf, a length
  // prefix longer than the data, a body that is not gRPC.
  for (const std::string& body :
       {std::string("\xff\xff\xff\xff", 4), std::string(), std::string(3, '\x0a')}) {
    int fd = Connect(port_);
    ASSERT_GE(fd, 0);
    SendAll(fd, RequestBytes("/etcdserverpb.KV/Range", body));
    ::shutdown(fd, SHUT_WR);
    ::close(fd);
  }
  auto stub = etcdserverpb::KV::NewStub(NewChannel());
  RangeResponse resp;
  grpc::Status s = Range(stub.get(), "ok", &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(H2ServerTest, ShutdownLetsCallsInFlightFinishWithinTheGrace) {
  StartServer();
  auto stub = etcdserverpb::KV::NewStub(NewChannel());
  std::vector<std::future<grpc::Status>> calls;
  for (int i = 0; i < 4; ++i) {
    calls.push_back(std::async(std::launch::async, [&] {
      RangeResponse resp;
      return Range(stub.get(), "hold", &resp);
    }));
  }
  held_.WaitFor(4);
  auto shutdown = std::async(std::launch::async, [&] { server_->Shutdown(10s); });
  std::this_thread::sleep_for(100ms);
  held_.ReleaseAll(Status::Ok());
  for (auto& c : calls) {
    grpc::Status s = c.get();
    EXPECT_TRUE(s.ok()) << s.error_message();
  }
  shutdown.get();
  RangeResponse resp;
  EXPECT_EQ(Range(stub.get(), "ok", &resp, 0, 1s).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(H2ServerTest, ShutdownPastTheGraceEndsCallsStillWaiting) {
  StartServer();
  auto stub = etcdserverpb::KV::NewStub(NewChannel());
  auto call = std::async(std::launch::async, [&] {
    RangeResponse resp;
    return Range(stub.get(), "hold", &resp);
  });
  held_.WaitFor(1);
  server_->Shutdown(200ms);
  EXPECT_EQ(call.get().error_code(), grpc::StatusCode::UNAVAILABLE);
  // The handler answers after the server is gone: its call is only freed.
  held_.ReleaseAll(Status::Ok());
  server_.reset();
}

TEST(H2WireTest, GrpcTimeoutParsesEveryUnitAndRefusesMalformedValues) {
  EXPECT_EQ(ParseGrpcTimeout("1S"), std::chrono::seconds(1));
  EXPECT_EQ(ParseGrpcTimeout("250m"), std::chrono::milliseconds(250));
  EXPECT_EQ(ParseGrpcTimeout("7u"), std::chrono::microseconds(7));
  EXPECT_EQ(ParseGrpcTimeout("99999999n"), std::chrono::nanoseconds(99999999));
  EXPECT_EQ(ParseGrpcTimeout("2M"), std::chrono::minutes(2));
  EXPECT_EQ(ParseGrpcTimeout("3H"), std::chrono::hours(3));
  EXPECT_EQ(ParseGrpcTimeout("99999999H"), std::chrono::hours(2'000'000));
  EXPECT_FALSE(ParseGrpcTimeout(""));
  EXPECT_FALSE(ParseGrpcTimeout("S"));
  EXPECT_FALSE(ParseGrpcTimeout("10"));
  EXPECT_FALSE(ParseGrpcTimeout("123456789S"));
  EXPECT_FALSE(ParseGrpcTimeout("1x"));
  EXPECT_FALSE(ParseGrpcTimeout("-1S"));
}

TEST(H2WireTest, GrpcMessageIsPercentEncoded) {
  EXPECT_EQ(PercentEncode("plain text"), "plain text");
  EXPECT_EQ(PercentEncode("50%\n\xc3\xa9"), "50%25%0A%C3%A9");
}

}  // namespace
}  // namespace cairn::rpc::h2
