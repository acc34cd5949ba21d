// A running member as cairnd runs it: server::Member, the gRPC server on its client URLs
// and the HTTP endpoints on its metrics URLs, started and stopped together. cairnd and the
// C ABI both start a node through this, so there is one way to run one.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/status.h"
#include "rpc/http_server.h"
#include "rpc/peer_transport.h"
#include "rpc/services.h"
#include "server/config.h"
#include "server/member.h"

namespace cairn::rpc {

// Thread safety: every method may be called from any thread once Start returned; Stop is
// idempotent and may race with itself (the second caller waits for the first).
class Node {
 public:
  // How long Stop lets calls in flight finish before it stops the member under them.
  static constexpr int kShutdownGraceMs = 2000;

  // Starts the member on `config` (validated as Member::Start does), then serves it.
  static Result<std::unique_ptr<Node>> Start(const server::Config& config);
  ~Node();  // Stops as Stop() does.
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Stops serving HTTP, stops accepting gRPC calls and waits up to the grace period for
  // those in flight, then stops the member, which fails the calls still waiting.
  void Stop();

  // Waits until the member has a leader and serves a linearizable read, at most
  // `timeout` (negative: no limit; DeadlineExceeded then). `cancelled` is polled; when it
  // returns true the wait ends with Cancelled.
  Status WaitReady(std::chrono::milliseconds timeout, const std::function<bool()>& cancelled);

  server::Member* member() const { return member_.get(); }
  // The client URLs with the ports actually bound ("http://127.0.0.1:40123").
  const std::vector<std::string>& client_urls() const { return client_urls_; }

 private:
  Node() = default;

  std::unique_ptr<server::Member> member_;
  std::unique_ptr<PeerServer> peer_;
  std::unique_ptr<ClientServer> grpc_;
  std::unique_ptr<HttpServer> http_;
  std::vector<std::string> client_urls_;
  std::mutex stop_mu_;
  bool stopped_ = false;  // guarded by stop_mu_
};

}  // namespace cairn::rpc
