// The peer transport over gRPC (proto/cairn/peer.proto): server::Transport for sending, over
// grpc++ client streams, and the Peer service, on rpc/h2's server with one event loop, that
// hands what arrives to a server::PeerHandler (the member).
//
// Per remote member: two client streams, each with its own thread and bounded queue. Small
// messages (heartbeats, votes, responses, empty appends) take one; appends that carry
// entries take the other, so a large append in flight never delays a heartbeat. Each Ready's
// messages for one peer leave as one write per stream. A full queue or a broken stream drops
// messages and reports the peer unreachable; a stream that fails is opened again after a
// back-off (50 ms doubling to 1 s), in the peer's own threads, so a peer that is down slows
// no one else. Snapshots go on a stream of their own, in chunks, as fast as the receiver
// takes them (the receiver writes each chunk before it reads the next: TCP's flow control is
// the back-pressure).
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "cairn/peer.grpc.pb.h"
#include "rpc/h2/server.h"
#include "server/config.h"
#include "server/transport.h"

namespace cairn::rpc {

struct PeerTransportOptions {
  // Bound on the batches waiting for one stream of one peer; past it, messages are dropped.
  size_t max_queued_batches = 4096;
  // Bound on the bytes of entries waiting for one peer's append stream.
  size_t max_queued_bytes = 64 << 20;
  // Size of one snapshot chunk.
  size_t snapshot_chunk_bytes = 1 << 20;
  // Deadline of a forwarded lease call and of FetchCluster's call to one member.
  int call_timeout_ms = 5000;
};

// Counters for tests and metrics.
struct PeerStats {
  uint64_t batches_sent = 0;
  uint64_t messages_sent = 0;
  uint64_t messages_dropped = 0;
  uint64_t stream_failures = 0;
};

// The gRPC "host:port" (or "unix:path") a member URL names.
std::string GrpcTarget(const std::string& url);

class PeerTransport final : public server::Transport {
 public:
  explicit PeerTransport(PeerTransportOptions options = {});
  ~PeerTransport() override;
  PeerTransport(const PeerTransport&) = delete;
  PeerTransport& operator=(const PeerTransport&) = delete;

  Status Start(uint64_t cluster_id, uint64_t member_id, server::TransportEvents* events) override;
  void Stop() override;
  void SetPeer(uint64_t id, const std::vector<std::string>& peer_urls) override;
  void RemovePeer(uint64_t id) override;
  void Send(std::vector<raft::Message> messages) override;
  void SendSnapshot(raft::Message message, std::unique_ptr<server::SnapshotSource> body) override;
  void LeaseTimeToLive(uint64_t to, const etcdserverpb::LeaseTimeToLiveRequest& req,
                       etcdserverpb::LeaseTimeToLiveResponse* resp, server::Done done) override;
  void LeaseLeases(uint64_t to, etcdserverpb::LeaseLeasesResponse* resp,
                   server::Done done) override;
  void LeaseKeepAlive(uint64_t to, const etcdserverpb::LeaseKeepAliveRequest& req,
                      etcdserverpb::LeaseKeepAliveResponse* resp, server::Done done) override;
  void LearnerReady(uint64_t to, uint64_t id, server::Done done) override;
  Result<server::RemoteCluster> FetchCluster(const std::vector<std::string>& peer_urls) override;
  std::optional<std::chrono::steady_clock::time_point> ActiveSince(uint64_t id) const override;

  PeerStats stats(uint64_t peer) const;

 private:
  class Peer;
  std::shared_ptr<Peer> FindPeer(uint64_t id) const;

  const PeerTransportOptions options_;
  uint64_t cluster_id_ = 0;
  uint64_t member_id_ = 0;
  server::TransportEvents* events_ = nullptr;
  std::atomic<bool> stopped_{false};

  mutable std::mutex mu_;
  std::map<uint64_t, std::shared_ptr<Peer>> peers_;  // guarded by mu_
  std::vector<std::shared_ptr<Peer>> removed_;       // guarded by mu_; joined by Stop
};

// The Peer service on --listen-peer-urls, on rpc/h2's server.
// Thread safety: Start and Shutdown from one thread; the handler outlives Shutdown.
class PeerServer {
 public:
  static Result<std::unique_ptr<PeerServer>> Start(server::PeerHandler* handler,
                                                   const std::vector<server::Url>& urls);
  ~PeerServer();
  void Shutdown();
  // The ports bound, in the order of the URLs.
  const std::vector<int>& ports() const { return ports_; }

 private:
  PeerServer() = default;
  std::unique_ptr<h2::Server> server_;
  std::vector<int> ports_;
};

}  // namespace cairn::rpc
