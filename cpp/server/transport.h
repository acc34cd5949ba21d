// What a member needs from the network to reach its peers. server/ defines it; rpc/
// implements it over gRPC (rpc/peer_transport.h), tests over memory. Received messages
// come in through Member::Step and the other calls of Member the peer service makes.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "cairn/internal.pb.h"
#include "etcd/etcdserverpb/rpc.pb.h"
#include "raft/types.h"
#include "server/snapshot.h"

namespace cairn::server {

// Runs once with the outcome of an asynchronous call; the response is filled before.
using Done = std::function<void(Status)>;

// What the transport tells the member about delivery. Calls come from the transport's own
// threads and must not block.
class TransportEvents {
 public:
  virtual ~TransportEvents() = default;
  // Messages to `id` were dropped (queue full, peer down): raft stops pipelining to it.
  virtual void ReportUnreachable(uint64_t id) = 0;
  // The snapshot sent to `id` was installed by it (ok) or failed.
  virtual void ReportSnapshot(uint64_t id, bool ok) = 0;
  // A peer refused this member's messages: the cluster removed it (while it was down, say).
  virtual void ReportRemoved() = 0;
};

// Where a received snapshot's archive goes, piece by piece, until Finish hands it (with its
// raft message) to the member. Dropped without Finish, it leaves nothing behind.
class SnapshotSink {
 public:
  virtual ~SnapshotSink() = default;
  virtual Status Write(std::string_view bytes) = 0;
  virtual Status Finish() = 0;
};

// The membership a member learns from a running cluster before it joins it
// (--initial-cluster-state existing).
struct RemoteCluster {
  uint64_t cluster_id = 0;
  std::vector<cairn::internal::MemberRecord> members;
};

// What the peer service serves: the member (tests use a fake). Called from the peer server's
// event loop; nothing here may block for long.
class PeerHandler {
 public:
  virtual ~PeerHandler() = default;
  virtual uint64_t cluster_id() const = 0;
  // Whether member `id` was removed from the cluster: its messages are refused, and it is
  // told so (etcd's "the member has been permanently removed from the cluster").
  virtual bool IsRemovedMember(uint64_t id) const = 0;
  virtual void Step(raft::Message message) = 0;
  // The messages of one received batch, in order: one hand-off to the raft thread for all.
  virtual void StepBatch(std::vector<raft::Message> messages) {
    for (raft::Message& m : messages) Step(std::move(m));
  }
  // A snapshot message arrived; its archive (`total_bytes`) follows into the sink.
  virtual Result<std::unique_ptr<SnapshotSink>> ReceiveSnapshot(raft::Message message,
                                                                uint64_t total_bytes) = 0;
  virtual RemoteCluster ClusterView() const = 0;
  // Lease calls forwarded by a follower; answered only by the leader. `done` may run on any
  // thread, after the call returned; `req` and `resp` live until it ran.
  virtual void LeaderLeaseTimeToLive(const etcdserverpb::LeaseTimeToLiveRequest& req,
                                     etcdserverpb::LeaseTimeToLiveResponse* resp, Done done) = 0;
  virtual void LeaderLeaseLeases(etcdserverpb::LeaseLeasesResponse* resp, Done done) = 0;
  virtual void LeaderLeaseKeepAlive(const etcdserverpb::LeaseKeepAliveRequest& req,
                                    etcdserverpb::LeaseKeepAliveResponse* resp, Done done) = 0;
  // Whether learner `id` may be promoted; answered only by the leader.
  virtual Status LearnerReady(uint64_t id) = 0;
};

// Thread safety: every method may be called from any thread once Start returned; Send and
// SendSnapshot never block (the raft thread calls them).
class Transport {
 public:
  virtual ~Transport() = default;

  // Called once by the member before anything else, with its identity and the sink of
  // delivery events (which outlives the transport's use of it: Stop comes first).
  virtual Status Start(uint64_t cluster_id, uint64_t member_id, TransportEvents* events) = 0;
  // Stops every sender; nothing is reported after it returns. Idempotent.
  virtual void Stop() = 0;

  // Adds a peer, or changes its URLs.
  virtual void SetPeer(uint64_t id, const std::vector<std::string>& peer_urls) = 0;
  virtual void RemovePeer(uint64_t id) = 0;

  // Queues the messages of one Ready: all those for one peer go out in one write. A peer
  // whose queue is full, or that is unknown, loses them and is reported unreachable.
  virtual void Send(std::vector<raft::Message> messages) = 0;
  // Sends a snapshot message (its data empty) followed by the archive `body` in chunks,
  // as fast as the receiver takes them; the outcome is reported by ReportSnapshot.
  virtual void SendSnapshot(raft::Message message, std::unique_ptr<SnapshotSource> body) = 0;

  // Lease calls a follower forwards to the leader `to`; `done` runs on a transport thread
  // with the leader's answer (or the failure to reach it).
  virtual void LeaseTimeToLive(uint64_t to, const etcdserverpb::LeaseTimeToLiveRequest& req,
                               etcdserverpb::LeaseTimeToLiveResponse* resp, Done done) = 0;
  virtual void LeaseLeases(uint64_t to, etcdserverpb::LeaseLeasesResponse* resp, Done done) = 0;
  virtual void LeaseKeepAlive(uint64_t to, const etcdserverpb::LeaseKeepAliveRequest& req,
                              etcdserverpb::LeaseKeepAliveResponse* resp, Done done) = 0;
  // Asks the leader `to` whether learner `id` may be promoted (PeerHandler::LearnerReady).
  virtual void LearnerReady(uint64_t to, uint64_t id, Done done) = 0;

  // Asks the members at `peer_urls` (any one that answers) for the cluster's membership.
  virtual Result<RemoteCluster> FetchCluster(const std::vector<std::string>& peer_urls) = 0;

  // Since when the connection to peer `id` has been up without a break; nullopt while it
  // is down or the peer unknown (etcd's ActiveSince, which its strict reconfiguration
  // check counts on).
  virtual std::optional<std::chrono::steady_clock::time_point> ActiveSince(uint64_t id) const = 0;
};

}  // namespace cairn::server
