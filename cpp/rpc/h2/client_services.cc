// The client services over rpc/h2, each a thin hand-over to the member.
#include "rpc/h2/client_services.h"

#include "base/etcd_errors.h"
#include "etcd/etcdserverpb/rpc.pb.h"

namespace cairn::rpc::h2 {

namespace {

// A unary method that hands its call to the member as rpc/services.cc's Serve does.
template <typename Req, typename Resp>
void AddMemberUnary(Server* server, server::Member* member, std::string path,
                    void (server::Member::*call)(const Req&, Resp*, server::Done)) {
  server->AddUnary<Req, Resp>(
      std::move(path), [member, call](const CallInfo& info, const Req& req, Resp* resp, Done done) {
        if (Status s = CheckLeader(info, member); !s.ok()) return done(std::move(s));
        // What the member proposes for this call is dropped if its caller's deadline passes
        // before a leader takes it.
        server::CallDeadline deadline(info.deadline());
        (member->*call)(req, resp, std::move(done));
      });
}

}  // namespace

Status CheckLeader(const CallInfo& info, const server::Member* member) {
  const std::string* has_leader = info.metadata("hasleader");
  if (has_leader && *has_leader == "true" && member->leader() == 0) return etcd::NoLeader();
  return Status::Ok();
}

void AddKvService(Server* server, server::Member* member) {
  AddMemberUnary(server, member, "/etcdserverpb.KV/Range", &server::Member::Range);
  AddMemberUnary(server, member, "/etcdserverpb.KV/Put", &server::Member::Put);
  AddMemberUnary(server, member, "/etcdserverpb.KV/DeleteRange", &server::Member::DeleteRange);
  AddMemberUnary(server, member, "/etcdserverpb.KV/Txn", &server::Member::Txn);
  AddMemberUnary(server, member, "/etcdserverpb.KV/Compact", &server::Member::Compact);
}

}  // namespace cairn::rpc::h2
