// etcd's client services on the HTTP/2 gRPC server (rpc/h2), served by a member with the
// same checks as the grpc++ services (rpc/services.h): hasleader, the caller's deadline
// handed to the member, the member's status as the gRPC status.
#pragma once

#include "base/status.h"
#include "rpc/h2/server.h"
#include "server/member.h"

namespace cairn::rpc::h2 {

// etcd fails any call that carries the metadata "hasleader: true" while there is no leader.
Status CheckLeader(const CallInfo& info, const server::Member* member);

// Registers KV (Range, Put, DeleteRange, Txn, Compact) on `server`; the member outlives it.
void AddKvService(Server* server, server::Member* member);

// Registers every client service: KV, Maintenance, Cluster, Lease, Watch, Lock, Election.
void AddClientServices(Server* server, server::Member* member);

}  // namespace cairn::rpc::h2
