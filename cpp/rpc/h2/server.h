// A gRPC server over HTTP/2 (nghttp2) built for throughput: a few event-loop threads that
// each own their connections and write every frame pending on a connection in one write
// per loop turn, so that responses completed together leave together.
#pragma once

#include <google/protobuf/message_lite.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace cairn::rpc::h2 {

// Runs once with the outcome of a call, from any thread; the response is filled before.
using Done = std::function<void(Status)>;

// What a handler knows of its call besides the request. Valid until the call's Done runs.
class CallInfo {
 public:
  // The value of a request header (gRPC's custom metadata), or nullptr when it is absent.
  const std::string* metadata(std::string_view key) const;
  // From grpc-timeout, on the steady clock; time_point::max() when the client set none.
  std::chrono::steady_clock::time_point deadline() const { return deadline_; }
  const std::string& path() const { return path_; }

 protected:
  std::string path_;
  std::vector<std::pair<std::string, std::string>> metadata_;
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
};

namespace internal {

// The typed part of a unary call: its request, its response and its handler.
class UnaryBody {
 public:
  virtual ~UnaryBody() = default;
  virtual google::protobuf::MessageLite* request() = 0;
  virtual const google::protobuf::MessageLite& response() const = 0;
  virtual void Invoke(const CallInfo& info, Done done) = 0;
};

template <typename Req, typename Resp>
using UnaryHandler = std::function<void(const CallInfo&, const Req&, Resp*, Done)>;

template <typename Req, typename Resp>
class TypedUnaryBody final : public UnaryBody {
 public:
  explicit TypedUnaryBody(const UnaryHandler<Req, Resp>* handler) : handler_(handler) {}
  google::protobuf::MessageLite* request() override { return &request_; }
  const google::protobuf::MessageLite& response() const override { return response_; }
  void Invoke(const CallInfo& info, Done done) override {
    (*handler_)(info, request_, &response_, std::move(done));
  }

 private:
  const UnaryHandler<Req, Resp>* handler_;  // owned by the server's method table
  Req request_;
  Resp response_;
};

using UnaryFactory = std::function<std::unique_ptr<UnaryBody>()>;

class StreamCore;

// The untyped side of a streaming call's handler; see ServerStream.
class StreamHandlerBase {
 public:
  virtual ~StreamHandlerBase() = default;
  virtual void OnStart(const CallInfo&) {}
  virtual void OnReadsDone() {}
  virtual void OnCancel() {}
  virtual void OnWritesDrained() {}
  virtual void OnDone() {}

  virtual google::protobuf::MessageLite* request() = 0;
  virtual void Deliver() = 0;  // OnRead(request)

  // Any thread. `framed` is a message with its 5-byte prefix.
  void WriteFramed(std::string framed);
  void FinishWith(Status status);
  static std::string Frame(const google::protobuf::MessageLite& message);

  std::shared_ptr<StreamCore> core_;  // set by the server before OnStart
};

using StreamFactory = std::function<std::shared_ptr<StreamHandlerBase>()>;

}  // namespace internal

// The server side of a streaming call (client-, server- or bidi-streaming; a unary method
// whose handler must learn of a cancel may use it too). The server holds it from the request
// headers until the stream is gone; OnDone is the last call it gets.
// Thread safety: OnStart, OnRead, OnReadsDone, OnCancel, OnWritesDrained and OnDone run on
// the call's loop thread, one at a time, and must not block. Write and Finish may be called
// from any thread, also from inside those; they keep their order when called from one
// thread. After Finish, or once the stream is gone, Write and Finish do nothing.
template <typename Req, typename Resp>
class ServerStream : public internal::StreamHandlerBase {
 public:
  // Each request message, in order.
  virtual void OnRead(const Req& request) = 0;
  // The response is serialized by the calling thread.
  void Write(const Resp& response) { WriteFramed(Frame(response)); }
  // Ends the call with `status` once the writes before it are sent.
  void Finish(Status status) { FinishWith(std::move(status)); }

 private:
  google::protobuf::MessageLite* request() final { return &request_; }
  void Deliver() final {
    OnRead(request_);
    request_.Clear();
  }
  Req request_;
};

struct Options {
  // Event-loop threads; 0 means one per core.
  int threads = 0;
  // A request message larger than this is refused with RESOURCE_EXHAUSTED, as gRPC does.
  size_t max_receive_message_bytes = 4 << 20;
};

// Thread safety: AddUnary and Listen before Start, from one thread; Shutdown from any one
// thread. Handlers run on a loop thread and must not block: they hand the call on and
// return; Done may run on any thread, also inside the handler. (One exception: a lone
// member's lone write runs its raft turn, fsync included, inside the handler; see
// Member::Propose.)
class Server {
 public:
  explicit Server(Options options);
  ~Server();  // Shutdown(0)
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Serves the unary method at `path` ("/package.Service/Method"). The request stays valid
  // and the response is read only after `done` runs, so a handler may pass both on.
  template <typename Req, typename Resp>
  void AddUnary(std::string path, internal::UnaryHandler<Req, Resp> handler) {
    auto owned = std::make_unique<internal::UnaryHandler<Req, Resp>>(std::move(handler));
    const internal::UnaryHandler<Req, Resp>* raw = owned.get();
    AddUnaryMethod(std::move(path), std::shared_ptr<void>(std::move(owned)),
                   [raw] { return std::make_unique<internal::TypedUnaryBody<Req, Resp>>(raw); });
  }

  // Serves a streaming method at `path`: `make` gives the handler of each new call.
  template <typename Handler>
  void AddStream(std::string path, std::function<std::shared_ptr<Handler>()> make) {
    AddStreamMethod(std::move(path), [make = std::move(make)] {
      return std::shared_ptr<internal::StreamHandlerBase>(make());
    });
  }

  // Listens on host:port (port 0: any free one) and returns the port bound.
  Result<int> ListenTcp(const std::string& host, int port);
  // Listens on a unix socket path.
  Status ListenUnix(const std::string& path);

  Status Start();
  // Stops accepting calls (GOAWAY to every connection), lets the calls in flight finish for
  // up to `grace`, then closes every connection and joins the loops. Idempotent. A Done that
  // runs later finds its call gone and only frees it.
  void Shutdown(std::chrono::milliseconds grace);

  class Impl;

 private:
  void AddUnaryMethod(std::string path, std::shared_ptr<void> keep, internal::UnaryFactory make);
  void AddStreamMethod(std::string path, internal::StreamFactory make);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::rpc::h2
