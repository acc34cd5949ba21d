// A C++ client of etcd's v3 API with two implementations: over gRPC to a list of endpoints
// (failover between them) and in-process to a server::Member (no network). The C ABI is
// written over this interface, so both behave the same to its callers.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/status.h"
#include "etcd/etcdserverpb/rpc.pb.h"
#include "etcd/v3electionpb/v3election.pb.h"
#include "etcd/v3lockpb/v3lock.pb.h"
#include "server/member.h"

namespace cairn::client {

// A cancellation token for blocking calls: Cancel runs the hooks registered by calls in
// flight, so they end promptly with Cancelled.
// Thread safety: every method may be called from any thread.
class CancelToken {
 public:
  void Cancel();
  bool cancelled() const;
  // Runs `fn` on Cancel (at once, on this thread, when cancelled already). Returns an id for
  // Remove, which returns once `fn` is not running (unless called from `fn`).
  uint64_t Add(std::function<void()> fn);
  void Remove(uint64_t id);

 private:
  mutable std::mutex mu_;
  bool cancelled_ = false;                           // guarded by mu_
  uint64_t next_id_ = 0;                             // guarded by mu_
  std::map<uint64_t, std::function<void()>> hooks_;  // guarded by mu_
  std::mutex run_mu_;                                // held while hooks run
};

// Registers `fn` with `token` (may be null) for the scope of a call.
class CancelScope {
 public:
  CancelScope(CancelToken* token, std::function<void()> fn);
  ~CancelScope();
  CancelScope(const CancelScope&) = delete;
  CancelScope& operator=(const CancelScope&) = delete;

 private:
  CancelToken* token_;
  uint64_t id_ = 0;
};

// "context canceled": what etcd's Go client reports for a cancelled call.
Status CancelledStatus();

struct CallOptions {
  CancelToken* cancel = nullptr;         // may be null
  std::chrono::milliseconds timeout{0};  // 0: no deadline
};

struct Options {
  std::chrono::milliseconds dial_timeout{5000};  // 0: connect lazily (network only)
  std::chrono::milliseconds request_timeout{0};  // default deadline of each call
  bool require_leader = false;                   // etcd's "hasleader" metadata
};

// Runs for each response of a watch, one at a time, on a thread of the library. The last
// call has resp.canceled() set (`end` says why: OK when the server cancelled it, Cancelled,
// Unavailable, stopped...). Returning false ends the watch without a last call.
using WatchCallback =
    std::function<bool(const etcdserverpb::WatchResponse& resp, const Status& end)>;
// After each keep-alive answer: the TTL the lease has again (<= 0: gone, the last call).
using KeepAliveCallback = std::function<bool(int64_t ttl)>;
// Each leader an observation reports; the last call has `resp` null and `end` says why.
using ObserveCallback =
    std::function<bool(const v3electionpb::LeaderResponse* resp, const Status& end)>;

// A running watch, keep-alive or observation. Destroying it stops it: when the destructor
// (or Stop) returns, its callback is not running and will not run again. Neither may be
// called from its own callback.
class Stream {
 public:
  virtual ~Stream() = default;
  virtual void Stop() = 0;
};

class Watch : public Stream {
 public:
  virtual int64_t id() const = 0;
  virtual Status RequestProgress() = 0;
};

class KeepAlive : public Stream {
 public:
  virtual int64_t ttl() const = 0;
};

// Thread safety: every method may be called from any thread, concurrently. Streams made by
// a client keep what they need alive, so they may outlive it.
class Client {
 public:
  virtual ~Client() = default;

  virtual Status Range(const etcdserverpb::RangeRequest& req, etcdserverpb::RangeResponse* resp,
                       const CallOptions& opts) = 0;
  virtual Status Put(const etcdserverpb::PutRequest& req, etcdserverpb::PutResponse* resp,
                     const CallOptions& opts) = 0;
  virtual Status DeleteRange(const etcdserverpb::DeleteRangeRequest& req,
                             etcdserverpb::DeleteRangeResponse* resp, const CallOptions& opts) = 0;
  virtual Status Txn(const etcdserverpb::TxnRequest& req, etcdserverpb::TxnResponse* resp,
                     const CallOptions& opts) = 0;
  virtual Status Compact(const etcdserverpb::CompactionRequest& req,
                         etcdserverpb::CompactionResponse* resp, const CallOptions& opts) = 0;

  virtual Status LeaseGrant(const etcdserverpb::LeaseGrantRequest& req,
                            etcdserverpb::LeaseGrantResponse* resp, const CallOptions& opts) = 0;
  virtual Status LeaseRevoke(const etcdserverpb::LeaseRevokeRequest& req,
                             etcdserverpb::LeaseRevokeResponse* resp, const CallOptions& opts) = 0;
  virtual Status LeaseTimeToLive(const etcdserverpb::LeaseTimeToLiveRequest& req,
                                 etcdserverpb::LeaseTimeToLiveResponse* resp,
                                 const CallOptions& opts) = 0;
  virtual Status LeaseLeases(etcdserverpb::LeaseLeasesResponse* resp, const CallOptions& opts) = 0;
  // Sends one keep-alive and returns its answer, then renews the lease every third of its
  // TTL until stopped or until the lease is gone.
  virtual Result<std::unique_ptr<KeepAlive>> StartKeepAlive(int64_t id, KeepAliveCallback cb,
                                                            const CallOptions& opts) = 0;

  // Returns once the server confirmed the watch (or refused it).
  virtual Result<std::unique_ptr<Watch>> StartWatch(const etcdserverpb::WatchCreateRequest& req,
                                                    WatchCallback cb, const CallOptions& opts) = 0;

  virtual Status Lock(const v3lockpb::LockRequest& req, v3lockpb::LockResponse* resp,
                      const CallOptions& opts) = 0;
  virtual Status Unlock(const v3lockpb::UnlockRequest& req, v3lockpb::UnlockResponse* resp,
                        const CallOptions& opts) = 0;
  virtual Status Campaign(const v3electionpb::CampaignRequest& req,
                          v3electionpb::CampaignResponse* resp, const CallOptions& opts) = 0;
  virtual Status Proclaim(const v3electionpb::ProclaimRequest& req,
                          v3electionpb::ProclaimResponse* resp, const CallOptions& opts) = 0;
  virtual Status Leader(const v3electionpb::LeaderRequest& req, v3electionpb::LeaderResponse* resp,
                        const CallOptions& opts) = 0;
  virtual Status Resign(const v3electionpb::ResignRequest& req, v3electionpb::ResignResponse* resp,
                        const CallOptions& opts) = 0;
  // Returns at once; leaders come through `cb`.
  virtual Result<std::unique_ptr<Stream>> Observe(const v3electionpb::LeaderRequest& req,
                                                  ObserveCallback cb) = 0;

  virtual Status MemberList(etcdserverpb::MemberListResponse* resp, const CallOptions& opts) = 0;
  virtual Status GetStatus(etcdserverpb::StatusResponse* resp, const CallOptions& opts) = 0;

  // Ends every stream of the client (their callbacks get a last call with `why`) and fails
  // later calls with `why`. Idempotent.
  virtual void Close(const Status& why) = 0;
};

// A client over gRPC. Endpoints are "host:port", "http://host:port" or "unix:path". With a
// dial timeout, waits until one endpoint accepts a connection (Unavailable otherwise).
Result<std::unique_ptr<Client>> Connect(const std::vector<std::string>& endpoints,
                                        const Options& options, CancelToken* cancel);

// A client of `member` in this process. The owner of the member closes the client (Close)
// before stopping the member; afterwards the client never touches the member again.
std::unique_ptr<Client> InProcess(server::Member* member, const Options& options);

}  // namespace cairn::client
