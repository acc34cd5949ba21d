// The client API services and the gRPC server that carries them.
#include "rpc/services.h"

#include <absl/synchronization/mutex.h>

#include <deque>
#include <mutex>

#include "base/etcd_errors.h"
#include "base/log.h"
#include "server/convert.h"
#include "server/version.h"

namespace cairn::rpc {

namespace {

// etcd's allowance on top of --max-request-bytes for gRPC's own framing.
constexpr int kGrpcOverheadBytes = 512 * 1024;

std::string ListenAddress(const server::Url& url) {
  if (url.scheme == "unix" || url.scheme == "unixs") return "unix:" + url.host;
  if (url.host.find(':') != std::string::npos) {
    return "[" + url.host + "]:" + std::to_string(url.port);
  }
  return url.host + ":" + std::to_string(url.port);
}

}  // namespace

Status CheckLeader(const grpc::CallbackServerContext* ctx, const server::Member* member) {
  const auto& md = ctx->client_metadata();
  auto it = md.find("hasleader");
  if (it != md.end() && it->second == "true" && member->leader() == 0) return etcd::NoLeader();
  return Status::Ok();
}

std::chrono::steady_clock::time_point SteadyDeadline(const grpc::CallbackServerContext* ctx) {
  const auto deadline = ctx->deadline();
  const auto now = std::chrono::system_clock::now();
  // gRPC's "no deadline" is far in the future: beyond a day, there is none.
  if (deadline - now > std::chrono::hours(24)) return std::chrono::steady_clock::time_point::max();
  return std::chrono::steady_clock::now() +
         std::chrono::duration_cast<std::chrono::steady_clock::duration>(deadline - now);
}

grpc::Status ToGrpc(const Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), status.message());
}

// ---------------------------------------------------------------------------------------
// KV

grpc::ServerUnaryReactor* KvService::Range(grpc::CallbackServerContext* ctx,
                                           const etcdserverpb::RangeRequest* req,
                                           etcdserverpb::RangeResponse* resp) {
  return Serve(ctx, member_, [&](server::Done done) { member_->Range(*req, resp, done); });
}

grpc::ServerUnaryReactor* KvService::Put(grpc::CallbackServerContext* ctx,
                                         const etcdserverpb::PutRequest* req,
                                         etcdserverpb::PutResponse* resp) {
  return Serve(ctx, member_, [&](server::Done done) { member_->Put(*req, resp, done); });
}

grpc::ServerUnaryReactor* KvService::DeleteRange(grpc::CallbackServerContext* ctx,
                                                 const etcdserverpb::DeleteRangeRequest* req,
                                                 etcdserverpb::DeleteRangeResponse* resp) {
  return Serve(ctx, member_, [&](server::Done done) { member_->DeleteRange(*req, resp, done); });
}

grpc::ServerUnaryReactor* KvService::Txn(grpc::CallbackServerContext* ctx,
                                         const etcdserverpb::TxnRequest* req,
                                         etcdserverpb::TxnResponse* resp) {
  return Serve(ctx, member_, [&](server::Done done) { member_->Txn(*req, resp, done); });
}

grpc::ServerUnaryReactor* KvService::Compact(grpc::CallbackServerContext* ctx,
                                             const etcdserverpb::CompactionRequest* req,
                                             etcdserverpb::CompactionResponse* resp) {
  return Serve(ctx, member_, [&](server::Done done) { member_->Compact(*req, resp, done); });
}

// ---------------------------------------------------------------------------------------
// Maintenance

grpc::ServerUnaryReactor* MaintenanceService::Status(grpc::CallbackServerContext* ctx,
                                                     const etcdserverpb::StatusRequest*,
                                                     etcdserverpb::StatusResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpc(member_->GetStatus(resp)));
  return reactor;
}

grpc::ServerUnaryReactor* MaintenanceService::Hash(grpc::CallbackServerContext* ctx,
                                                   const etcdserverpb::HashRequest*,
                                                   etcdserverpb::HashResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpc(member_->Hash(resp)));
  return reactor;
}

grpc::ServerUnaryReactor* MaintenanceService::HashKV(grpc::CallbackServerContext* ctx,
                                                     const etcdserverpb::HashKVRequest* req,
                                                     etcdserverpb::HashKVResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpc(member_->HashKV(*req, resp)));
  return reactor;
}

grpc::ServerUnaryReactor* MaintenanceService::Alarm(grpc::CallbackServerContext* ctx,
                                                    const etcdserverpb::AlarmRequest* req,
                                                    etcdserverpb::AlarmResponse* resp) {
  return Serve(ctx, member_, [&](server::Done done) { member_->Alarm(*req, resp, done); });
}

grpc::ServerUnaryReactor* MaintenanceService::Defragment(grpc::CallbackServerContext* ctx,
                                                         const etcdserverpb::DefragmentRequest*,
                                                         etcdserverpb::DefragmentResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  // WiredTiger compacts online: reads and writes go on meanwhile.
  cairn::Status s = member_->Defragment();
  if (s.ok()) member_->FillHeader(resp->mutable_header());
  reactor->Finish(ToGrpc(s));
  return reactor;
}

namespace {

// Streams a snapshot in messages of kChunk bytes, one write in flight.
class SnapshotReactor final : public grpc::ServerWriteReactor<etcdserverpb::SnapshotResponse> {
 public:
  SnapshotReactor(server::Member* member, std::unique_ptr<server::SnapshotReader> reader)
      : member_(member), reader_(std::move(reader)) {
    WriteNext();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) return Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "snapshot write failed"));
    WriteNext();
  }
  void OnDone() override { delete this; }

 private:
  static constexpr size_t kChunk = 1 << 20;

  void WriteNext() {
    response_.Clear();
    Status s = reader_->Read(kChunk, response_.mutable_blob());
    if (!s.ok()) return Finish(ToGrpc(s));
    if (response_.blob().empty()) return Finish(grpc::Status::OK);
    if (first_) {
      member_->FillHeader(response_.mutable_header());
      response_.set_version(server::kEtcdClusterVersion);
      first_ = false;
    }
    response_.set_remaining_bytes(reader_->remaining_bytes());
    StartWrite(&response_);
  }

  server::Member* member_;
  std::unique_ptr<server::SnapshotReader> reader_;
  etcdserverpb::SnapshotResponse response_;
  bool first_ = true;
};

class FailedWrite final : public grpc::ServerWriteReactor<etcdserverpb::SnapshotResponse> {
 public:
  explicit FailedWrite(const Status& s) { Finish(ToGrpc(s)); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerWriteReactor<etcdserverpb::SnapshotResponse>* MaintenanceService::Snapshot(
    grpc::CallbackServerContext*, const etcdserverpb::SnapshotRequest*) {
  auto reader = member_->OpenSnapshot();
  if (!reader.ok()) return new FailedWrite(reader.status());
  return new SnapshotReactor(member_, std::move(*reader));
}

grpc::ServerUnaryReactor* MaintenanceService::MoveLeader(grpc::CallbackServerContext* ctx,
                                                         const etcdserverpb::MoveLeaderRequest* req,
                                                         etcdserverpb::MoveLeaderResponse*) {
  // etcd's answer carries no header.
  return Serve(ctx, member_, [&](server::Done done) { member_->MoveLeader(*req, done); });
}

// ---------------------------------------------------------------------------------------
// Cluster

grpc::ServerUnaryReactor* ClusterService::MemberAdd(grpc::CallbackServerContext* ctx,
                                                    const etcdserverpb::MemberAddRequest* req,
                                                    etcdserverpb::MemberAddResponse* resp) {
  return Serve(ctx, member_, [&](server::Done done) { member_->MemberAdd(*req, resp, done); });
}

grpc::ServerUnaryReactor* ClusterService::MemberRemove(grpc::CallbackServerContext* ctx,
                                                       const etcdserverpb::MemberRemoveRequest* req,
                                                       etcdserverpb::MemberRemoveResponse* resp) {
  return Serve(ctx, member_, [&](server::Done done) { member_->MemberRemove(*req, resp, done); });
}

grpc::ServerUnaryReactor* ClusterService::MemberUpdate(grpc::CallbackServerContext* ctx,
                                                       const etcdserverpb::MemberUpdateRequest* req,
                                                       etcdserverpb::MemberUpdateResponse* resp) {
  return Serve(ctx, member_, [&](server::Done done) { member_->MemberUpdate(*req, resp, done); });
}

grpc::ServerUnaryReactor* ClusterService::MemberList(grpc::CallbackServerContext* ctx,
                                                     const etcdserverpb::MemberListRequest* req,
                                                     etcdserverpb::MemberListResponse* resp) {
  return Serve(ctx, member_, [&](server::Done done) { member_->MemberList(*req, resp, done); });
}

grpc::ServerUnaryReactor* ClusterService::MemberPromote(
    grpc::CallbackServerContext* ctx, const etcdserverpb::MemberPromoteRequest* req,
    etcdserverpb::MemberPromoteResponse* resp) {
  return Serve(ctx, member_, [&](server::Done done) { member_->MemberPromote(*req, resp, done); });
}

// ---------------------------------------------------------------------------------------
// Lease

grpc::ServerUnaryReactor* LeaseService::LeaseGrant(grpc::CallbackServerContext* ctx,
                                                   const etcdserverpb::LeaseGrantRequest* req,
                                                   etcdserverpb::LeaseGrantResponse* resp) {
  return Serve(ctx, member_, [&](server::Done done) { member_->LeaseGrant(*req, resp, done); });
}

grpc::ServerUnaryReactor* LeaseService::LeaseRevoke(grpc::CallbackServerContext* ctx,
                                                    const etcdserverpb::LeaseRevokeRequest* req,
                                                    etcdserverpb::LeaseRevokeResponse* resp) {
  return Serve(ctx, member_, [&](server::Done done) { member_->LeaseRevoke(*req, resp, done); });
}

grpc::ServerUnaryReactor* LeaseService::LeaseTimeToLive(
    grpc::CallbackServerContext* ctx, const etcdserverpb::LeaseTimeToLiveRequest* req,
    etcdserverpb::LeaseTimeToLiveResponse* resp) {
  return Serve(ctx, member_,
               [&](server::Done done) { member_->LeaseTimeToLive(*req, resp, done); });
}

grpc::ServerUnaryReactor* LeaseService::LeaseLeases(grpc::CallbackServerContext* ctx,
                                                    const etcdserverpb::LeaseLeasesRequest*,
                                                    etcdserverpb::LeaseLeasesResponse* resp) {
  return Serve(ctx, member_, [&](server::Done done) { member_->LeaseLeases(resp, done); });
}

namespace {

// One LeaseKeepAlive stream: each request renews a lease (on a follower, through the leader)
// and queues its answer; the next request is read once it is answered, so answers keep the
// order of requests and are written one at a time.
class KeepAliveReactor final
    : public grpc::ServerBidiReactor<etcdserverpb::LeaseKeepAliveRequest,
                                     etcdserverpb::LeaseKeepAliveResponse> {
 public:
  explicit KeepAliveReactor(server::Member* member) : member_(member) { StartRead(&request_); }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client closed its side, or the call ended
      std::lock_guard lock(mu_);
      reading_ = false;
      MaybeFinishLocked();
      return;
    }
    member_->LeaseKeepAlive(request_, &resp_, [this](Status s) { OnRenewed(s); });
  }

  void OnRenewed(const Status& s) {
    {
      std::lock_guard lock(mu_);
      if (!s.ok()) {
        status_ = ToGrpc(s);
        reading_ = false;
        MaybeFinishLocked();
        return;
      }
      queue_.push_back(std::move(resp_));
      resp_.Clear();
      if (!writing_) {
        writing_ = true;
        StartWrite(&queue_.front());
      }
    }
    StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    queue_.pop_front();
    if (!ok) queue_.clear();
    if (ok && !queue_.empty()) {
      StartWrite(&queue_.front());
      return;
    }
    writing_ = false;
    MaybeFinishLocked();
  }

  void OnDone() override { delete this; }

 private:
  void MaybeFinishLocked() {
    if (!reading_ && !writing_ && !finished_) {
      finished_ = true;
      Finish(status_);
    }
  }

  server::Member* member_;
  etcdserverpb::LeaseKeepAliveRequest request_;
  etcdserverpb::LeaseKeepAliveResponse resp_;  // the renewal under way
  std::mutex mu_;
  std::deque<etcdserverpb::LeaseKeepAliveResponse> queue_;  // guarded by mu_
  bool reading_ = true;                                     // guarded by mu_
  bool writing_ = false;                                    // guarded by mu_
  bool finished_ = false;                                   // guarded by mu_
  grpc::Status status_ = grpc::Status::OK;                  // guarded by mu_
};

}  // namespace

grpc::ServerBidiReactor<etcdserverpb::LeaseKeepAliveRequest, etcdserverpb::LeaseKeepAliveResponse>*
LeaseService::LeaseKeepAlive(grpc::CallbackServerContext*) {
  return new KeepAliveReactor(member_);
}

// ---------------------------------------------------------------------------------------
// Watch

namespace {

// One Watch RPC: requests go to the member's watch stream as they are read; responses are
// popped when the stream wakes us and written one at a time. As in etcd, a client that
// closes its sending side keeps receiving until it cancels the call.
class WatchReactor final
    : public grpc::ServerBidiReactor<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse> {
 public:
  explicit WatchReactor(server::Member* member) : member_(member) {}

  // `refusal` not OK: the stream ends at once with it (etcd's learner and hasleader checks).
  void Begin(const Status& refusal) {
    if (!refusal.ok()) {
      std::lock_guard lock(mu_);
      FinishLocked(ToGrpc(refusal));
      return;
    }
    stream_ = member_->OpenWatchStream([this] { OnWake(); });
    if (!stream_) {
      std::lock_guard lock(mu_);
      FinishLocked(ToGrpc(etcd::Stopped()));
      return;
    }
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // half-closed: keep writing until the call is cancelled
    switch (request_.request_union_case()) {
      case etcdserverpb::WatchRequest::kCreateRequest:
        stream_->Create(server::FromProto(request_.create_request()));
        break;
      case etcdserverpb::WatchRequest::kCancelRequest:
        // An unknown id is answered with nothing, as etcd does.
        stream_->Cancel(request_.cancel_request().watch_id()).IgnoreError();
        break;
      case etcdserverpb::WatchRequest::kProgressRequest: stream_->RequestProgress(); break;
      case etcdserverpb::WatchRequest::REQUEST_UNION_NOT_SET: break;
    }
    std::lock_guard lock(mu_);
    if (!finished_) StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    writing_ = false;
    if (!ok) {
      FinishLocked(grpc::Status::OK);
      return;
    }
    WriteNextLocked();
  }

  void OnCancel() override {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    if (!writing_) FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    stream_.reset();  // closes it: no wake comes after this
    delete this;
  }

 private:
  void OnWake() {
    std::lock_guard lock(mu_);
    if (!writing_) WriteNextLocked();
  }

  void WriteNextLocked() {
    if (finished_) return;
    if (cancelled_) {
      FinishLocked(grpc::Status::CANCELLED);
      return;
    }
    std::optional<watch::Response> next = stream_->TryPop();
    if (!next) return;
    response_.Clear();
    auto* header = response_.mutable_header();
    member_->FillHeader(header);
    header->set_revision(next->revision);
    response_.set_watch_id(next->watch_id);
    response_.set_created(next->created);
    response_.set_canceled(next->canceled);
    response_.set_cancel_reason(next->cancel_reason);
    response_.set_compact_revision(next->compact_revision);
    response_.set_fragment(next->fragment);
    for (const mvcc::Event& e : next->events) server::ToProto(e, response_.add_events());
    writing_ = true;
    StartWrite(&response_);
  }

  void FinishLocked(grpc::Status status) {
    if (finished_) return;
    finished_ = true;
    Finish(std::move(status));
  }

  server::Member* member_;
  std::unique_ptr<watch::Stream> stream_;
  etcdserverpb::WatchRequest request_;
  std::mutex mu_;
  etcdserverpb::WatchResponse response_;  // guarded by mu_; the write in flight
  bool writing_ = false;                  // guarded by mu_
  bool cancelled_ = false;                // guarded by mu_
  bool finished_ = false;                 // guarded by mu_
};

}  // namespace

grpc::ServerBidiReactor<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>*
WatchService::Watch(grpc::CallbackServerContext* ctx) {
  auto* reactor = new WatchReactor(member_);
  Status refusal = member_->CheckNotLearner();
  if (refusal.ok()) refusal = CheckLeader(ctx, member_);
  reactor->Begin(refusal);
  return reactor;
}

// ---------------------------------------------------------------------------------------
// Server

Result<std::unique_ptr<ClientServer>> ClientServer::Start(server::Member* member,
                                                          const std::vector<server::Url>& urls) {
  // Debian builds Abseil without NDEBUG, which leaves deadlock detection on in every
  // absl::Mutex that gRPC takes: a lock graph update on each lock, a large share of a
  // small call's cost. Cairn's own locks do not use absl.
  static std::once_flag absl_debug_off;
  std::call_once(absl_debug_off,
                 [] { absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore); });
  std::unique_ptr<ClientServer> out(new ClientServer());
  out->kv_ = std::make_unique<KvService>(member);
  out->maintenance_ = std::make_unique<MaintenanceService>(member);
  out->cluster_ = std::make_unique<ClusterService>(member);
  out->lease_ = std::make_unique<LeaseService>(member);
  out->watch_ = std::make_unique<WatchService>(member);
  out->lock_ = std::make_unique<LockService>(member);
  out->election_ = std::make_unique<ElectionService>(member);

  grpc::ServerBuilder builder;
  out->ports_.assign(urls.size(), 0);
  for (size_t i = 0; i < urls.size(); ++i) {
    if (urls[i].scheme == "https" || urls[i].scheme == "unixs") {
      return Unimplemented("TLS is not supported yet: " + urls[i].text);
    }
    builder.AddListeningPort(ListenAddress(urls[i]), grpc::InsecureServerCredentials(),
                             &out->ports_[i]);
  }
  builder.SetMaxReceiveMessageSize(static_cast<int>(member->config().max_request_bytes) +
                                   kGrpcOverheadBytes);
  builder.SetMaxSendMessageSize(std::numeric_limits<int>::max());
  builder.RegisterService(out->kv_.get());
  builder.RegisterService(out->maintenance_.get());
  builder.RegisterService(out->cluster_.get());
  builder.RegisterService(out->lease_.get());
  builder.RegisterService(out->watch_.get());
  builder.RegisterService(out->lock_.get());
  builder.RegisterService(out->election_.get());
  out->server_ = builder.BuildAndStart();
  if (!out->server_) return Unavailable("cannot listen on the client URLs");
  for (size_t i = 0; i < urls.size(); ++i) {
    if (urls[i].scheme == "http" && out->ports_[i] == 0) {
      return Unavailable("cannot listen on " + urls[i].text);
    }
    log::Info("serving client traffic", {{"address", urls[i].text}, {"port", out->ports_[i]}});
  }
  return out;
}

ClientServer::~ClientServer() {
  Shutdown(0);
}

void ClientServer::Shutdown(int grace_ms) {
  if (!server_) return;
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(grace_ms));
  server_->Wait();
  server_.reset();
}

}  // namespace cairn::rpc
