// etcd's client API over gRPC's callback API: each call hands its request to the member
// and returns; the member's completion finishes the call, so no thread waits on a request.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "etcd/etcdserverpb/rpc.grpc.pb.h"
#include "rpc/lock_election_services.h"
#include "server/member.h"

namespace cairn::rpc {

grpc::Status ToGrpc(const Status& status);

// etcd fails any call that carries the metadata "hasleader: true" while there is no leader:
// such a client wants to fail fast rather than wait for one.
Status CheckLeader(const grpc::CallbackServerContext* ctx, const server::Member* member);

// The caller's deadline on the steady clock; time_point::max() when it set none.
std::chrono::steady_clock::time_point SteadyDeadline(const grpc::CallbackServerContext* ctx);

// A unary call: runs `call(done)` unless the leader check fails; `done` finishes the reactor.
template <typename Call>
grpc::ServerUnaryReactor* Serve(grpc::CallbackServerContext* ctx, server::Member* member,
                                Call call) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (Status s = CheckLeader(ctx, member); !s.ok()) {
    reactor->Finish(ToGrpc(s));
    return reactor;
  }
  // What the member proposes for this call is dropped if its caller's deadline passes
  // before a leader takes it.
  server::CallDeadline deadline(SteadyDeadline(ctx));
  call([reactor](Status s) { reactor->Finish(ToGrpc(s)); });
  return reactor;
}

// Thread safety: the services are called by gRPC from any thread; the member outlives them.
class KvService final : public etcdserverpb::KV::CallbackService {
 public:
  explicit KvService(server::Member* member) : member_(member) {}
  grpc::ServerUnaryReactor* Range(grpc::CallbackServerContext* ctx,
                                  const etcdserverpb::RangeRequest* req,
                                  etcdserverpb::RangeResponse* resp) override;
  grpc::ServerUnaryReactor* Put(grpc::CallbackServerContext* ctx,
                                const etcdserverpb::PutRequest* req,
                                etcdserverpb::PutResponse* resp) override;
  grpc::ServerUnaryReactor* DeleteRange(grpc::CallbackServerContext* ctx,
                                        const etcdserverpb::DeleteRangeRequest* req,
                                        etcdserverpb::DeleteRangeResponse* resp) override;
  grpc::ServerUnaryReactor* Txn(grpc::CallbackServerContext* ctx,
                                const etcdserverpb::TxnRequest* req,
                                etcdserverpb::TxnResponse* resp) override;
  grpc::ServerUnaryReactor* Compact(grpc::CallbackServerContext* ctx,
                                    const etcdserverpb::CompactionRequest* req,
                                    etcdserverpb::CompactionResponse* resp) override;

 private:
  server::Member* member_;
};

class MaintenanceService final : public etcdserverpb::Maintenance::CallbackService {
 public:
  explicit MaintenanceService(server::Member* member) : member_(member) {}
  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* ctx,
                                   const etcdserverpb::StatusRequest* req,
                                   etcdserverpb::StatusResponse* resp) override;
  grpc::ServerUnaryReactor* Hash(grpc::CallbackServerContext* ctx,
                                 const etcdserverpb::HashRequest* req,
                                 etcdserverpb::HashResponse* resp) override;
  grpc::ServerUnaryReactor* HashKV(grpc::CallbackServerContext* ctx,
                                   const etcdserverpb::HashKVRequest* req,
                                   etcdserverpb::HashKVResponse* resp) override;
  grpc::ServerUnaryReactor* Alarm(grpc::CallbackServerContext* ctx,
                                  const etcdserverpb::AlarmRequest* req,
                                  etcdserverpb::AlarmResponse* resp) override;
  grpc::ServerUnaryReactor* Defragment(grpc::CallbackServerContext* ctx,
                                       const etcdserverpb::DefragmentRequest* req,
                                       etcdserverpb::DefragmentResponse* resp) override;
  grpc::ServerWriteReactor<etcdserverpb::SnapshotResponse>* Snapshot(
      grpc::CallbackServerContext* ctx, const etcdserverpb::SnapshotRequest* req) override;
  grpc::ServerUnaryReactor* MoveLeader(grpc::CallbackServerContext* ctx,
                                       const etcdserverpb::MoveLeaderRequest* req,
                                       etcdserverpb::MoveLeaderResponse* resp) override;

 private:
  server::Member* member_;
};

class ClusterService final : public etcdserverpb::Cluster::CallbackService {
 public:
  explicit ClusterService(server::Member* member) : member_(member) {}
  grpc::ServerUnaryReactor* MemberAdd(grpc::CallbackServerContext* ctx,
                                      const etcdserverpb::MemberAddRequest* req,
                                      etcdserverpb::MemberAddResponse* resp) override;
  grpc::ServerUnaryReactor* MemberRemove(grpc::CallbackServerContext* ctx,
                                         const etcdserverpb::MemberRemoveRequest* req,
                                         etcdserverpb::MemberRemoveResponse* resp) override;
  grpc::ServerUnaryReactor* MemberUpdate(grpc::CallbackServerContext* ctx,
                                         const etcdserverpb::MemberUpdateRequest* req,
                                         etcdserverpb::MemberUpdateResponse* resp) override;
  grpc::ServerUnaryReactor* MemberList(grpc::CallbackServerContext* ctx,
                                       const etcdserverpb::MemberListRequest* req,
                                       etcdserverpb::MemberListResponse* resp) override;
  grpc::ServerUnaryReactor* MemberPromote(grpc::CallbackServerContext* ctx,
                                          const etcdserverpb::MemberPromoteRequest* req,
                                          etcdserverpb::MemberPromoteResponse* resp) override;

 private:
  server::Member* member_;
};

class LeaseService final : public etcdserverpb::Lease::CallbackService {
 public:
  explicit LeaseService(server::Member* member) : member_(member) {}
  grpc::ServerUnaryReactor* LeaseGrant(grpc::CallbackServerContext* ctx,
                                       const etcdserverpb::LeaseGrantRequest* req,
                                       etcdserverpb::LeaseGrantResponse* resp) override;
  grpc::ServerUnaryReactor* LeaseRevoke(grpc::CallbackServerContext* ctx,
                                        const etcdserverpb::LeaseRevokeRequest* req,
                                        etcdserverpb::LeaseRevokeResponse* resp) override;
  grpc::ServerUnaryReactor* LeaseTimeToLive(grpc::CallbackServerContext* ctx,
                                            const etcdserverpb::LeaseTimeToLiveRequest* req,
                                            etcdserverpb::LeaseTimeToLiveResponse* resp) override;
  grpc::ServerUnaryReactor* LeaseLeases(grpc::CallbackServerContext* ctx,
                                        const etcdserverpb::LeaseLeasesRequest* req,
                                        etcdserverpb::LeaseLeasesResponse* resp) override;
  grpc::ServerBidiReactor<etcdserverpb::LeaseKeepAliveRequest,
                          etcdserverpb::LeaseKeepAliveResponse>*
  LeaseKeepAlive(grpc::CallbackServerContext* ctx) override;

 private:
  server::Member* member_;
};

class WatchService final : public etcdserverpb::Watch::CallbackService {
 public:
  explicit WatchService(server::Member* member) : member_(member) {}
  grpc::ServerBidiReactor<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>* Watch(
      grpc::CallbackServerContext* ctx) override;

 private:
  server::Member* member_;
};

// The gRPC server on a member's client URLs.
// Thread safety: Start and Shutdown from one thread.
class ClientServer {
 public:
  // Listens on every URL (http and unix schemes; https is refused until TLS exists) and
  // serves the member. Messages up to max-request-bytes plus gRPC's overhead are accepted,
  // as etcd does; larger requests are refused by the member with etcd's error.
  static Result<std::unique_ptr<ClientServer>> Start(server::Member* member,
                                                     const std::vector<server::Url>& urls);
  ~ClientServer();
  // Stops accepting calls and waits up to `grace_ms` for those in flight.
  void Shutdown(int grace_ms);
  // The ports actually bound, in the order of the URLs (useful when a URL asked for port 0).
  const std::vector<int>& ports() const { return ports_; }

 private:
  ClientServer() = default;
  std::unique_ptr<KvService> kv_;
  std::unique_ptr<MaintenanceService> maintenance_;
  std::unique_ptr<ClusterService> cluster_;
  std::unique_ptr<LeaseService> lease_;
  std::unique_ptr<WatchService> watch_;
  std::unique_ptr<LockService> lock_;
  std::unique_ptr<ElectionService> election_;
  std::unique_ptr<grpc::Server> server_;
  std::vector<int> ports_;
};

}  // namespace cairn::rpc
