// The client services over rpc/h2, each a thin hand-over to the member.
#include "rpc/h2/client_services.h"

#include <deque>
#include <mutex>
#include <thread>

#include "base/etcd_errors.h"
#include "etcd/etcdserverpb/rpc.pb.h"
#include "etcd/v3electionpb/v3election.pb.h"
#include "etcd/v3lockpb/v3lock.pb.h"
#include "server/convert.h"
#include "server/lock_election.h"
#include "server/version.h"

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

// A Lock or Election call that does not wait, with the unary checks.
template <typename Req, typename Resp>
void AddLockElectionUnary(Server* server, server::Member* member,
                          std::shared_ptr<server::LockElection> impl, std::string path,
                          void (server::LockElection::*call)(const Req&, Resp*, server::Done)) {
  server->AddUnary<Req, Resp>(
      std::move(path),
      [member, impl, call](const CallInfo& info, const Req& req, Resp* resp, Done done) {
        if (Status s = CheckLeader(info, member); !s.ok()) return done(std::move(s));
        server::CallDeadline deadline(info.deadline());
        (impl.get()->*call)(req, resp, std::move(done));
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

namespace {

using namespace etcdserverpb;

// A unary method answered by the member at once, on the loop thread.
template <typename Req, typename Resp, typename Fn>
void AddQuick(Server* server, server::Member* member, std::string path, Fn fn) {
  server->AddUnary<Req, Resp>(std::move(path),
                              [member, fn](const CallInfo&, const Req& req, Resp* resp, Done done) {
                                done(fn(member, req, resp));
                              });
}

// A unary method that reads the whole store (hashes, defragmentation): run off the loop so
// the loop's other calls go on meanwhile.
template <typename Req, typename Resp, typename Fn>
void AddSlow(Server* server, server::Member* member, std::string path, Fn fn) {
  server->AddUnary<Req, Resp>(std::move(path),
                              [member, fn](const CallInfo&, const Req& req, Resp* resp, Done done) {
                                std::thread([member, fn, &req, resp, done = std::move(done)] {
                                  done(fn(member, req, resp));
                                }).detach();
                              });
}

// A unary call that may wait (Lock, Campaign), served as a stream so that a client that goes
// away cancels it, as in etcd.
template <typename Req, typename Resp>
class WaitingCall final : public ServerStream<Req, Resp>,
                          public std::enable_shared_from_this<WaitingCall<Req, Resp>> {
 public:
  using Start =
      std::function<std::shared_ptr<server::Cancellable>(const Req&, Resp*, server::Done)>;
  WaitingCall(server::Member* member, Start start) : member_(member), start_(std::move(start)) {}

  void OnStart(const CallInfo& info) override {
    if (Status s = CheckLeader(info, member_); !s.ok()) this->Finish(std::move(s));
  }
  void OnRead(const Req& req) override {
    if (op_) return;  // one request per call
    auto self = this->shared_from_this();
    std::shared_ptr<server::Cancellable> op = start_(req, &response_, [self](Status s) {
      if (s.ok()) self->Write(self->response_);
      self->Finish(std::move(s));
    });
    std::lock_guard lock(mu_);
    op_ = op;
    if (cancelled_) op_->Cancel();
  }
  void OnCancel() override {
    std::shared_ptr<server::Cancellable> op;
    {
      std::lock_guard lock(mu_);
      cancelled_ = true;
      op = op_;
    }
    if (op) op->Cancel();  // not under mu_: the completion may run inline
  }
  void OnDone() override {
    std::lock_guard lock(mu_);
    op_.reset();  // the op's completion holds this handler: no cycle outlives the call
  }

 private:
  server::Member* member_;
  Start start_;
  Resp response_;
  std::mutex mu_;
  std::shared_ptr<server::Cancellable> op_;  // guarded by mu_
  bool cancelled_ = false;                   // guarded by mu_
};

// One Watch stream: requests go to the member's watch stream as they are read; responses are
// popped when it wakes us, a few at a time, and the next ones once those went into frames,
// so a slow client's backlog stays in the watch stream (which handles slow watchers). As in
// etcd, a client that closes its sending side keeps receiving until it cancels the call.
class WatchCall final : public ServerStream<WatchRequest, WatchResponse>,
                        public std::enable_shared_from_this<WatchCall> {
 public:
  explicit WatchCall(server::Member* member) : member_(member) {}

  void OnStart(const CallInfo& info) override {
    Status refusal = member_->CheckNotLearner();
    if (refusal.ok()) refusal = CheckLeader(info, member_);
    if (!refusal.ok()) return Finish(std::move(refusal));
    auto stream = member_->OpenWatchStream([this] { OnWake(); });
    if (!stream) return Finish(etcd::Stopped());
    std::lock_guard lock(mu_);
    stream_ = std::move(stream);
  }
  void OnRead(const WatchRequest& req) override {
    watch::Stream* stream = nullptr;
    {
      std::lock_guard lock(mu_);
      stream = stream_.get();
    }
    if (!stream) return;
    switch (req.request_union_case()) {
      case WatchRequest::kCreateRequest:
        stream->Create(server::FromProto(req.create_request()));
        break;
      case WatchRequest::kCancelRequest:
        // An unknown id is answered with nothing, as etcd does.
        stream->Cancel(req.cancel_request().watch_id()).IgnoreError();
        break;
      case WatchRequest::kProgressRequest: stream->RequestProgress(); break;
      case WatchRequest::REQUEST_UNION_NOT_SET: break;
    }
  }
  void OnWritesDrained() override {
    std::lock_guard lock(mu_);
    in_flight_ = false;
    PopLocked();
  }
  void OnDone() override {
    std::unique_ptr<watch::Stream> stream;
    {
      std::lock_guard lock(mu_);
      stream = std::move(stream_);
    }
    stream.reset();  // closes it, waiting for a wake under way: none comes after
  }

 private:
  void OnWake() {
    std::lock_guard lock(mu_);
    if (!in_flight_) PopLocked();
  }
  void PopLocked() {
    if (!stream_) return;
    constexpr int kBatch = 16;
    for (int i = 0; i < kBatch; ++i) {
      std::optional<watch::Response> next = stream_->TryPop();
      if (!next) return;
      WatchResponse resp;
      member_->FillHeader(resp.mutable_header());
      server::ToProto(*next, &resp);
      in_flight_ = true;
      Write(resp);
    }
  }

  server::Member* member_;
  std::mutex mu_;
  std::unique_ptr<watch::Stream> stream_;  // guarded by mu_
  bool in_flight_ = false;                 // guarded by mu_: writes not yet in frames
};

// One LeaseKeepAlive stream: requests are renewed one at a time, in order (on a follower,
// through the leader), each answer written as it comes.
class KeepAliveCall final : public ServerStream<LeaseKeepAliveRequest, LeaseKeepAliveResponse>,
                            public std::enable_shared_from_this<KeepAliveCall> {
 public:
  explicit KeepAliveCall(server::Member* member) : member_(member) {}

  void OnRead(const LeaseKeepAliveRequest& req) override {
    std::lock_guard lock(mu_);
    pending_.push_back(req);
    if (!busy_) NextLocked();
  }
  void OnReadsDone() override {
    std::lock_guard lock(mu_);
    reading_ = false;
    if (!busy_) Finish(Status::Ok());
  }

 private:
  void NextLocked() {
    if (pending_.empty() || failed_) return;
    busy_ = true;
    auto request = std::make_shared<LeaseKeepAliveRequest>(std::move(pending_.front()));
    pending_.pop_front();
    auto response = std::make_shared<LeaseKeepAliveResponse>();
    auto self = shared_from_this();
    // Not under mu_: the completion may run inline.
    mu_.unlock();
    member_->LeaseKeepAlive(*request, response.get(),
                            [self, request, response](Status s) { self->OnRenewed(s, *response); });
    mu_.lock();
  }
  void OnRenewed(const Status& s, const LeaseKeepAliveResponse& response) {
    std::lock_guard lock(mu_);
    busy_ = false;
    if (!s.ok()) {
      failed_ = true;
      Finish(s);
      return;
    }
    Write(response);
    if (!pending_.empty()) {
      NextLocked();
    } else if (!reading_) {
      Finish(Status::Ok());
    }
  }

  server::Member* member_;
  std::mutex mu_;
  std::deque<LeaseKeepAliveRequest> pending_;  // guarded by mu_
  bool busy_ = false;                          // guarded by mu_
  bool reading_ = true;                        // guarded by mu_
  bool failed_ = false;                        // guarded by mu_
};

// Maintenance.Snapshot: the state in messages of 1 MiB, the next read once the last one
// went into frames.
class SnapshotCall final : public ServerStream<SnapshotRequest, SnapshotResponse> {
 public:
  explicit SnapshotCall(server::Member* member) : member_(member) {}
  void OnRead(const SnapshotRequest&) override {
    if (reader_) return;
    auto reader = member_->OpenSnapshot();
    if (!reader.ok()) return Finish(reader.status());
    reader_ = std::move(*reader);
    WriteNext();
  }
  void OnWritesDrained() override { WriteNext(); }

 private:
  static constexpr size_t kChunk = 1 << 20;
  void WriteNext() {
    if (!reader_ || done_) return;
    SnapshotResponse resp;
    Status s = reader_->Read(kChunk, resp.mutable_blob());
    if (!s.ok() || resp.blob().empty()) {
      done_ = true;
      return Finish(s);
    }
    if (first_) {
      member_->FillHeader(resp.mutable_header());
      resp.set_version(server::kEtcdClusterVersion);
      first_ = false;
    }
    resp.set_remaining_bytes(reader_->remaining_bytes());
    Write(resp);
  }
  server::Member* member_;
  std::unique_ptr<server::SnapshotReader> reader_;
  bool first_ = true;
  bool done_ = false;
};

// Election.Observe: each leader value as the observer reports it, until it ends.
class ObserveCall final
    : public ServerStream<v3electionpb::LeaderRequest, v3electionpb::LeaderResponse>,
      public std::enable_shared_from_this<ObserveCall> {
 public:
  ObserveCall(server::Member* member, server::LockElection* impl) : member_(member), impl_(impl) {}
  void OnStart(const CallInfo& info) override {
    if (Status s = CheckLeader(info, member_); !s.ok()) Finish(std::move(s));
  }
  void OnRead(const v3electionpb::LeaderRequest& req) override {
    std::lock_guard lock(mu_);
    if (op_ || cancelled_) return;
    auto self = shared_from_this();
    op_ = impl_->Observe(
        req, [self](v3electionpb::LeaderResponse r) { self->Write(r); },
        [self](Status s) { self->Finish(std::move(s)); });
  }
  void OnCancel() override {
    std::shared_ptr<server::Cancellable> op;
    {
      std::lock_guard lock(mu_);
      cancelled_ = true;
      op = op_;
    }
    if (op) op->Cancel();
  }
  void OnDone() override {
    std::lock_guard lock(mu_);
    op_.reset();
  }

 private:
  server::Member* member_;
  server::LockElection* impl_;
  std::mutex mu_;
  std::shared_ptr<server::Cancellable> op_;  // guarded by mu_
  bool cancelled_ = false;                   // guarded by mu_
};

}  // namespace

void AddClientServices(Server* server, server::Member* member) {
  AddKvService(server, member);
  // Maintenance
  AddQuick<StatusRequest, StatusResponse>(server, member, "/etcdserverpb.Maintenance/Status",
                                          [](server::Member* m, const StatusRequest&,
                                             StatusResponse* resp) { return m->GetStatus(resp); });
  AddSlow<HashRequest, HashResponse>(
      server, member, "/etcdserverpb.Maintenance/Hash",
      [](server::Member* m, const HashRequest&, HashResponse* resp) { return m->Hash(resp); });
  AddSlow<HashKVRequest, HashKVResponse>(server, member, "/etcdserverpb.Maintenance/HashKV",
                                         [](server::Member* m, const HashKVRequest& req,
                                            HashKVResponse* resp) { return m->HashKV(req, resp); });
  AddSlow<DefragmentRequest, DefragmentResponse>(
      server, member, "/etcdserverpb.Maintenance/Defragment",
      [](server::Member* m, const DefragmentRequest&, DefragmentResponse* resp) {
        // WiredTiger compacts online: reads and writes go on meanwhile.
        Status s = m->Defragment();
        if (s.ok()) m->FillHeader(resp->mutable_header());
        return s;
      });
  AddMemberUnary(server, member, "/etcdserverpb.Maintenance/Alarm", &server::Member::Alarm);
  server->AddUnary<MoveLeaderRequest, MoveLeaderResponse>(
      "/etcdserverpb.Maintenance/MoveLeader",
      [member](const CallInfo& info, const MoveLeaderRequest& req, MoveLeaderResponse*, Done done) {
        if (Status s = CheckLeader(info, member); !s.ok()) return done(std::move(s));
        server::CallDeadline deadline(info.deadline());
        member->MoveLeader(req, std::move(done));  // etcd's answer carries no header
      });
  server->AddStream<SnapshotCall>("/etcdserverpb.Maintenance/Snapshot",
                                  [member] { return std::make_shared<SnapshotCall>(member); });
  // Cluster
  AddMemberUnary(server, member, "/etcdserverpb.Cluster/MemberAdd", &server::Member::MemberAdd);
  AddMemberUnary(server, member, "/etcdserverpb.Cluster/MemberRemove",
                 &server::Member::MemberRemove);
  AddMemberUnary(server, member, "/etcdserverpb.Cluster/MemberUpdate",
                 &server::Member::MemberUpdate);
  AddMemberUnary(server, member, "/etcdserverpb.Cluster/MemberList", &server::Member::MemberList);
  AddMemberUnary(server, member, "/etcdserverpb.Cluster/MemberPromote",
                 &server::Member::MemberPromote);
  // Lease
  AddMemberUnary(server, member, "/etcdserverpb.Lease/LeaseGrant", &server::Member::LeaseGrant);
  AddMemberUnary(server, member, "/etcdserverpb.Lease/LeaseRevoke", &server::Member::LeaseRevoke);
  AddMemberUnary(server, member, "/etcdserverpb.Lease/LeaseTimeToLive",
                 &server::Member::LeaseTimeToLive);
  server->AddUnary<LeaseLeasesRequest, LeaseLeasesResponse>(
      "/etcdserverpb.Lease/LeaseLeases", [member](const CallInfo& info, const LeaseLeasesRequest&,
                                                  LeaseLeasesResponse* resp, Done done) {
        if (Status s = CheckLeader(info, member); !s.ok()) return done(std::move(s));
        server::CallDeadline deadline(info.deadline());
        member->LeaseLeases(resp, std::move(done));
      });
  server->AddStream<KeepAliveCall>("/etcdserverpb.Lease/LeaseKeepAlive",
                                   [member] { return std::make_shared<KeepAliveCall>(member); });
  // Watch
  server->AddStream<WatchCall>("/etcdserverpb.Watch/Watch",
                               [member] { return std::make_shared<WatchCall>(member); });
  // Lock and Election: one LockElection for the server's life.
  auto impl = std::make_shared<server::LockElection>(member);
  using LockCall = WaitingCall<v3lockpb::LockRequest, v3lockpb::LockResponse>;
  server->AddStream<LockCall>("/v3lockpb.Lock/Lock", [member, impl] {
    return std::make_shared<LockCall>(
        member, [impl](const v3lockpb::LockRequest& req, v3lockpb::LockResponse* resp,
                       server::Done done) { return impl->Lock(req, resp, std::move(done)); });
  });
  AddLockElectionUnary(server, member, impl, "/v3lockpb.Lock/Unlock",
                       &server::LockElection::Unlock);
  using CampaignCall = WaitingCall<v3electionpb::CampaignRequest, v3electionpb::CampaignResponse>;
  server->AddStream<CampaignCall>("/v3electionpb.Election/Campaign", [member, impl] {
    return std::make_shared<CampaignCall>(
        member,
        [impl](const v3electionpb::CampaignRequest& req, v3electionpb::CampaignResponse* resp,
               server::Done done) { return impl->Campaign(req, resp, std::move(done)); });
  });
  AddLockElectionUnary(server, member, impl, "/v3electionpb.Election/Proclaim",
                       &server::LockElection::Proclaim);
  AddLockElectionUnary(server, member, impl, "/v3electionpb.Election/Leader",
                       &server::LockElection::Leader);
  AddLockElectionUnary(server, member, impl, "/v3electionpb.Election/Resign",
                       &server::LockElection::Resign);
  server->AddStream<ObserveCall>("/v3electionpb.Election/Observe", [member, impl] {
    return std::make_shared<ObserveCall>(member, impl.get());
  });
}

}  // namespace cairn::rpc::h2
