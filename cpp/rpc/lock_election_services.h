// etcd's v3lockpb.Lock and v3electionpb.Election services over gRPC's callback API; the
// waiting calls (Lock, Campaign, Observe) hold no thread while they wait.
#pragma once

#include <grpcpp/grpcpp.h>

#include "etcd/v3electionpb/v3election.grpc.pb.h"
#include "etcd/v3lockpb/v3lock.grpc.pb.h"
#include "server/lock_election.h"
#include "server/member.h"

namespace cairn::rpc {

// Thread safety: the services are called by gRPC from any thread; the member outlives them,
// and the gRPC server is shut down (which cancels waiting calls) before the member stops.
class LockService final : public v3lockpb::Lock::CallbackService {
 public:
  explicit LockService(server::Member* member) : member_(member), impl_(member) {}
  grpc::ServerUnaryReactor* Lock(grpc::CallbackServerContext* ctx, const v3lockpb::LockRequest* req,
                                 v3lockpb::LockResponse* resp) override;
  grpc::ServerUnaryReactor* Unlock(grpc::CallbackServerContext* ctx,
                                   const v3lockpb::UnlockRequest* req,
                                   v3lockpb::UnlockResponse* resp) override;

 private:
  server::Member* member_;
  server::LockElection impl_;
};

class ElectionService final : public v3electionpb::Election::CallbackService {
 public:
  explicit ElectionService(server::Member* member) : member_(member), impl_(member) {}
  grpc::ServerUnaryReactor* Campaign(grpc::CallbackServerContext* ctx,
                                     const v3electionpb::CampaignRequest* req,
                                     v3electionpb::CampaignResponse* resp) override;
  grpc::ServerUnaryReactor* Proclaim(grpc::CallbackServerContext* ctx,
                                     const v3electionpb::ProclaimRequest* req,
                                     v3electionpb::ProclaimResponse* resp) override;
  grpc::ServerUnaryReactor* Leader(grpc::CallbackServerContext* ctx,
                                   const v3electionpb::LeaderRequest* req,
                                   v3electionpb::LeaderResponse* resp) override;
  grpc::ServerWriteReactor<v3electionpb::LeaderResponse>* Observe(
      grpc::CallbackServerContext* ctx, const v3electionpb::LeaderRequest* req) override;
  grpc::ServerUnaryReactor* Resign(grpc::CallbackServerContext* ctx,
                                   const v3electionpb::ResignRequest* req,
                                   v3electionpb::ResignResponse* resp) override;

 private:
  server::Member* member_;
  server::LockElection impl_;
};

}  // namespace cairn::rpc
