// etcd's Lock and Election services on a member: ownership keys under the name's prefix,
// bound to the caller's lease, each waiter waiting on its predecessor's key by watching it.
//
// etcd implements both by running its clientv3 concurrency package (Mutex, Election) inside
// the server; this does the same steps, in the same order and with the same requests, as
// chains of the member's completions. A call that waits holds a watch stream whose wake
// continues the chain, so no thread is held by a waiting call.
//
// Errors: etcd's server sees every failure through an in-process client, whose error type
// gRPC does not recognise, so a client receives them all with code Unknown and etcd's text
// (checked against etcd 3.4's gateway). ToClientError does that here.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/status.h"
#include "etcd/v3electionpb/v3election.pb.h"
#include "etcd/v3lockpb/v3lock.pb.h"
#include "server/member.h"

namespace cairn::server {

// etcd's texts from client/v3/concurrency and server/etcdserver/api/v3election.
Status ElectionNotLeader();  // "election: not leader"
Status ElectionNoLeader();   // "election: no leader"
Status MissingLeaderKey();   // "\"leader\" field must be provided"
Status SessionExpired();     // "mutex: session is expired"
// What a client of etcd's lock and election services sees for `s`: code Unknown, same text.
Status ToClientError(const Status& s);

// The TTL of the lease etcd's session grants when a call names lease 0.
inline constexpr int64_t kSessionTtlSeconds = 60;

// The key of `lease` under `prefix`: the prefix and the lease in lower-case hex, as Go's %x
// prints an int64 (a minus sign, then the magnitude, for a negative one).
std::string OwnerKey(const std::string& prefix, int64_t lease);

// A call that may wait. Cancel is what a client going away does in etcd: the call cleans up
// as etcd's does (a lock waiter deletes its key, a campaigner resigns) and then finishes
// with Cancelled. Idempotent; harmless after the call finished.
class Cancellable {
 public:
  virtual ~Cancellable() = default;
  virtual void Cancel() = 0;
};

// Runs once per leader value an Observe reports; on the member's threads, must not block.
using ObserveSink = std::function<void(v3electionpb::LeaderResponse)>;

// Thread safety: every method may be called from any thread. Requests are copied; responses
// must stay valid until `done` ran. `done` runs exactly once, on some thread of the member
// or on the caller's thread (when the call fails before reaching the member). Every call
// must have finished before the member stops (a waiting one holds a watch stream).
class LockElection {
 public:
  explicit LockElection(Member* member) : member_(member) {}

  // v3lockpb.Lock/Lock: etcd's Mutex.Lock with a session on req.lease (0: a new lease of
  // kSessionTtlSeconds, left to expire, as etcd does).
  std::shared_ptr<Cancellable> Lock(const v3lockpb::LockRequest& req, v3lockpb::LockResponse* resp,
                                    Done done);
  // v3lockpb.Lock/Unlock: deletes the key.
  void Unlock(const v3lockpb::UnlockRequest& req, v3lockpb::UnlockResponse* resp, Done done);

  // v3electionpb.Election: etcd's concurrency.Election on the member.
  std::shared_ptr<Cancellable> Campaign(const v3electionpb::CampaignRequest& req,
                                        v3electionpb::CampaignResponse* resp, Done done);
  void Proclaim(const v3electionpb::ProclaimRequest& req, v3electionpb::ProclaimResponse* resp,
                Done done);
  void Leader(const v3electionpb::LeaderRequest& req, v3electionpb::LeaderResponse* resp,
              Done done);
  void Resign(const v3electionpb::ResignRequest& req, v3electionpb::ResignResponse* resp,
              Done done);
  // Reports the leader, then each new value of it and each new leader, until cancelled
  // (`done` gets Cancelled) or until its watch ends, as on compaction (`done` gets OK).
  std::shared_ptr<Cancellable> Observe(const v3electionpb::LeaderRequest& req, ObserveSink sink,
                                       Done done);

 private:
  Member* const member_;
};

}  // namespace cairn::server
