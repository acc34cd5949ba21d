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
#include <map>
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

TEST_F(H2ServerTest, AnAuthorityThatIsAUrlIsTaken) {
  // grpc-go sends one for a "passthrough:///http://host:port" target (etcdctl --cluster).
  StartServer();
  grpc::ChannelArguments args;
  args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, "http://127.0.0.1:" + std::to_string(port_));
  auto stub = etcdserverpb::KV::NewStub(grpc::CreateCustomChannel(
      "127.0.0.1:" + std::to_string(port_), grpc::InsecureChannelCredentials(), args));
  RangeResponse resp;
  grpc::Status s = Range(stub.get(), "ok", &resp);
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

// A gRPC message with its 5-byte prefix.
std::string Framed(const std::string& message) {
  std::string out(5, '\0');
  const auto n = static_cast<uint32_t>(message.size());
  out[1] = static_cast<char>(n >> 24);
  out[2] = static_cast<char>(n >> 16);
  out[3] = static_cast<char>(n >> 8);
  out[4] = static_cast<char>(n);
  return out + message;
}

// An HTTP/2 client from nghttp2 whose bytes the test sends as it likes, and which reads back
// each stream's grpc-status and grpc-message.
class RawClient {
 public:
  struct Outcome {
    std::string status;  // grpc-status, empty if none came
    std::string message;
    bool closed = false;
  };

  RawClient() {
    nghttp2_session_callbacks* cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(
        cbs, [](nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                const uint8_t* value, size_t valuelen, uint8_t, void* user) {
          auto* self = static_cast<RawClient*>(user);
          std::string n(reinterpret_cast<const char*>(name), namelen);
          std::string v(reinterpret_cast<const char*>(value), valuelen);
          if (n == "grpc-status") self->outcomes_[frame->hd.stream_id].status = v;
          if (n == "grpc-message") self->outcomes_[frame->hd.stream_id].message = v;
          return 0;
        });
    nghttp2_session_callbacks_set_on_stream_close_callback(
        cbs, [](nghttp2_session*, int32_t stream_id, uint32_t, void* user) {
          static_cast<RawClient*>(user)->outcomes_[stream_id].closed = true;
          return 0;
        });
    nghttp2_session_client_new(&session_, cbs, this);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~RawClient() { nghttp2_session_del(session_); }

  // Queues a request whose whole body is `body`.
  int32_t Submit(const std::string& path, const std::string& body,
                 const std::vector<std::pair<std::string, std::string>>& extra = {}) {
    bodies_.push_back(std::make_unique<Body>(Body{body, 0}));
    static const std::string kMethod = ":method", kPost = "POST", kPath = ":path",
                             kScheme = ":scheme", kHttp = "http", kAuthority = ":authority",
                             kHost = "localhost", kCt = "content-type", kGrpc = "application/grpc",
                             kTe = "te", kTrailers = "trailers";
    std::vector<nghttp2_nv> nva = {Nv(kMethod, kPost), Nv(kScheme, kHttp), Nv(kAuthority, kHost),
                                   Nv(kPath, path),    Nv(kCt, kGrpc),     Nv(kTe, kTrailers)};
    for (const auto& [k, v] : extra) nva.push_back(Nv(k, v));
    nghttp2_data_provider provider{};
    provider.source.ptr = bodies_.back().get();
    provider.read_callback = [](nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                                uint32_t* flags, nghttp2_data_source* src, void*) -> ssize_t {
      auto* b = static_cast<Body*>(src->ptr);
      const size_t k = std::min(length, b->data.size() - b->off);
      std::memcpy(buf, b->data.data() + b->off, k);
      b->off += k;
      if (b->off == b->data.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
      return static_cast<ssize_t>(k);
    };
    return nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(), &provider, nullptr);
  }

  // What the session has to send now.
  std::string Bytes() {
    std::string out;
    for (;;) {
      const uint8_t* data;
      ssize_t k = nghttp2_session_mem_send(session_, &data);
      if (k <= 0) break;
      out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(k));
    }
    return out;
  }

  // Reads answers until `n` streams closed, the server closed, or 2 s of silence.
  void ReadUntilClosed(int fd, size_t n);

  const Outcome& outcome(int32_t stream_id) { return outcomes_[stream_id]; }

 private:
  struct Body {
    std::string data;
    size_t off = 0;
  };
  nghttp2_session* session_ = nullptr;
  std::vector<std::unique_ptr<Body>> bodies_;
  std::map<int32_t, Outcome> outcomes_;
};

// The bytes of a connection preface and `n` gRPC requests of `message` to `path`.
std::string RequestBytes(const std::string& path, const std::string& message, int n = 1) {
  RawClient client;
  for (int i = 0; i < n; ++i) client.Submit(path, Framed(message));
  return client.Bytes();
}

void SendAll(int fd, const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t w = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (w <= 0) return;  // the server may close on garbage: that is its right
    off += static_cast<size_t>(w);
  }
}

void RawClient::ReadUntilClosed(int fd, size_t n) {
  char buf[16384];
  for (;;) {
    size_t closed = 0;
    for (const auto& [id, o] : outcomes_) closed += o.closed ? 1 : 0;
    if (closed >= n) return;
    ssize_t k = ::recv(fd, buf, sizeof(buf), 0);
    if (k <= 0) return;
    nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(buf),
                             static_cast<size_t>(k));
    SendAll(fd, Bytes());
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

TEST_F(H2ServerTest, MalformedRequestsGetGrpcsErrorsOnTheirOwnStream) {
  StartServer(1 << 20);
  int fd = Connect(port_);
  ASSERT_GE(fd, 0);
  RawClient client;
  RangeRequest ok;
  ok.set_key("ok");
  const int32_t not_protobuf = client.Submit("/etcdserverpb.KV/Range", Framed("\xff\xff\xff"));
  const int32_t no_message = client.Submit("/etcdserverpb.KV/Range", "");
  const int32_t cut_short = client.Submit("/etcdserverpb.KV/Range", Framed("abcdef").substr(0, 8));
  std::string compressed = Framed(ok.SerializeAsString());
  compressed[0] = 1;
  const int32_t flagged = client.Submit("/etcdserverpb.KV/Range", compressed);
  const int32_t two = client.Submit(
      "/etcdserverpb.KV/Range", Framed(ok.SerializeAsString()) + Framed(ok.SerializeAsString()));
  const int32_t bad_timeout = client.Submit(
      "/etcdserverpb.KV/Range", Framed(ok.SerializeAsString()), {{"grpc-timeout", "soon"}});
  const int32_t malformed_path = client.Submit("/Range", Framed(ok.SerializeAsString()));
  const int32_t fine = client.Submit("/etcdserverpb.KV/Range", Framed(ok.SerializeAsString()));
  SendAll(fd, client.Bytes());
  client.ReadUntilClosed(fd, 8);
  ::close(fd);
  EXPECT_EQ(client.outcome(not_protobuf).status, "13");
  EXPECT_EQ(client.outcome(no_message).status, "13");
  EXPECT_EQ(client.outcome(cut_short).status, "13");
  EXPECT_EQ(client.outcome(flagged).status, "13");
  EXPECT_EQ(client.outcome(flagged).message,
            "grpc: compressed flag set with identity or empty encoding");
  EXPECT_EQ(client.outcome(two).status, "12");
  EXPECT_EQ(client.outcome(bad_timeout).status, "13");
  EXPECT_EQ(client.outcome(malformed_path).status, "12");
  EXPECT_EQ(client.outcome(malformed_path).message, "malformed method name: \"/Range\"");
  EXPECT_EQ(client.outcome(fine).status, "0");
}

TEST_F(H2ServerTest, TheServerEndsACallWhenItsDeadlinePasses) {
  StartServer();
  int fd = Connect(port_);
  ASSERT_GE(fd, 0);
  RawClient client;
  RangeRequest hold;
  hold.set_key("hold");
  // A client that does not enforce its own deadline still gets its answer in time.
  const int32_t id = client.Submit("/etcdserverpb.KV/Range", Framed(hold.SerializeAsString()),
                                   {{"grpc-timeout", "100m"}});
  SendAll(fd, client.Bytes());
  client.ReadUntilClosed(fd, 1);
  ::close(fd);
  EXPECT_EQ(client.outcome(id).status, "4");
  EXPECT_EQ(client.outcome(id).message, "Deadline Exceeded");
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

// ---------------------------------------------------------------------------------------
// Streams

// Watch as an echo: each create request is answered with its key as the cancel_reason,
// every other answer from a thread of its own; the client's half-close ends the call with
// a status of the test's choosing; a key "refuse" ends it at once.
class EchoStream final
    : public ServerStream<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse> {
 public:
  explicit EchoStream(std::promise<void>* cancelled) : cancelled_(cancelled) {}
  void OnStart(const CallInfo& info) override {
    const std::string* refuse = info.metadata("refuse");
    if (refuse) Finish(FailedPrecondition(*refuse));
  }
  void OnRead(const etcdserverpb::WatchRequest& req) override {
    etcdserverpb::WatchResponse resp;
    resp.set_watch_id(n_);
    resp.set_cancel_reason(req.create_request().key());
    if (n_++ % 2) {
      Write(resp);
    } else {
      std::thread([self = core_, this, resp] { Write(resp); }).join();
    }
  }
  void OnReadsDone() override { Finish(OutOfRange("done after " + std::to_string(n_))); }
  void OnCancel() override {
    if (cancelled_) cancelled_->set_value();
    cancelled_ = nullptr;
  }

 private:
  std::promise<void>* cancelled_;
  int64_t n_ = 0;
};

// Snapshot in 1 MiB chunks, each written once the one before went into frames.
class ChunkStream final
    : public ServerStream<etcdserverpb::SnapshotRequest, etcdserverpb::SnapshotResponse> {
 public:
  void OnRead(const etcdserverpb::SnapshotRequest&) override { Next(); }
  void OnWritesDrained() override { Next(); }

 private:
  void Next() {
    if (sent_ == kChunks) {
      Finish(Status::Ok());
      return;
    }
    etcdserverpb::SnapshotResponse resp;
    resp.set_blob(std::string(1 << 20, static_cast<char>('a' + sent_)));
    resp.set_remaining_bytes(kChunks - sent_ - 1);
    ++sent_;
    Write(resp);
  }
  static constexpr int kChunks = 20;
  int sent_ = 0;
};

class H2StreamTest : public H2ServerTest {
 protected:
  void StartStreams() {
    StartServer();
    // Started already: a second server for streams keeps the unary fixture as it is.
    Options options;
    options.threads = 2;
    streams_ = std::make_unique<Server>(options);
    streams_->AddStream<EchoStream>("/etcdserverpb.Watch/Watch", [this] {
      return std::make_shared<EchoStream>(next_cancel_.exchange(nullptr));
    });
    streams_->AddStream<ChunkStream>("/etcdserverpb.Maintenance/Snapshot",
                                     [] { return std::make_shared<ChunkStream>(); });
    auto port = streams_->ListenTcp("127.0.0.1", 0);
    ASSERT_TRUE(port.ok());
    ASSERT_TRUE(streams_->Start().ok());
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(*port),
                                   grpc::InsecureChannelCredentials());
  }
  void TearDown() override {
    if (streams_) streams_->Shutdown(0ms);
    H2ServerTest::TearDown();
  }
  std::unique_ptr<Server> streams_;
  std::shared_ptr<grpc::Channel> channel_;
  std::atomic<std::promise<void>*> next_cancel_{nullptr};
};

TEST_F(H2StreamTest, ABidiStreamAnswersInOrderAndEndsWithTheHandlersStatus) {
  StartStreams();
  auto stub = etcdserverpb::Watch::NewStub(channel_);
  grpc::ClientContext ctx;
  auto stream = stub->Watch(&ctx);
  constexpr int kN = 100;
  for (int i = 0; i < kN; ++i) {
    etcdserverpb::WatchRequest req;
    req.mutable_create_request()->set_key("k" + std::to_string(i));
    ASSERT_TRUE(stream->Write(req));
  }
  for (int i = 0; i < kN; ++i) {
    etcdserverpb::WatchResponse resp;
    ASSERT_TRUE(stream->Read(&resp));
    EXPECT_EQ(resp.watch_id(), i);
    EXPECT_EQ(resp.cancel_reason(), "k" + std::to_string(i));
  }
  stream->WritesDone();
  etcdserverpb::WatchResponse extra;
  EXPECT_FALSE(stream->Read(&extra));
  grpc::Status s = stream->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(s.error_message(), "done after 100");
}

TEST_F(H2StreamTest, AStreamRefusedAtOnceGetsItsStatus) {
  StartStreams();
  auto stub = etcdserverpb::Watch::NewStub(channel_);
  grpc::ClientContext ctx;
  ctx.AddMetadata("refuse", "not today");
  auto stream = stub->Watch(&ctx);
  etcdserverpb::WatchResponse resp;
  EXPECT_FALSE(stream->Read(&resp));
  grpc::Status s = stream->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(), "not today");
}

TEST_F(H2StreamTest, AServerStreamWritesAsFastAsTheClientReads) {
  StartStreams();
  auto stub = etcdserverpb::Maintenance::NewStub(channel_);
  grpc::ClientContext ctx;
  auto reader = stub->Snapshot(&ctx, etcdserverpb::SnapshotRequest());
  etcdserverpb::SnapshotResponse resp;
  int chunks = 0;
  while (reader->Read(&resp)) {
    ASSERT_EQ(resp.blob().size(), size_t{1} << 20);
    EXPECT_EQ(resp.blob()[0], static_cast<char>('a' + chunks));
    EXPECT_EQ(resp.remaining_bytes(), 20 - chunks - 1);
    ++chunks;
    if (chunks == 3) std::this_thread::sleep_for(100ms);  // a slow reader holds the writer
  }
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(chunks, 20);
}

TEST_F(H2StreamTest, AClientCancelReachesTheStreamsHandler) {
  StartStreams();
  std::promise<void> cancelled;
  next_cancel_ = &cancelled;
  auto stub = etcdserverpb::Watch::NewStub(channel_);
  grpc::ClientContext ctx;
  auto stream = stub->Watch(&ctx);
  etcdserverpb::WatchRequest req;
  req.mutable_create_request()->set_key("x");
  ASSERT_TRUE(stream->Write(req));
  etcdserverpb::WatchResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  ctx.TryCancel();
  EXPECT_EQ(cancelled.get_future().wait_for(10s), std::future_status::ready);
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
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
