// The network client: one channel per endpoint, gRPC's blocking stubs for unary calls (the
// caller's thread waits anyway), and the callback API for watch, keep-alive and observe
// streams, so no stream holds a thread. A call that finds its endpoint unavailable moves to
// the next one: reads always, writes only when they cannot have been sent.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <utility>

#include "base/etcd_errors.h"
#include "client/client.h"
#include "client/delivery.h"
#include "client/executor.h"
#include "etcd/etcdserverpb/rpc.grpc.pb.h"
#include "etcd/v3electionpb/v3election.grpc.pb.h"
#include "etcd/v3lockpb/v3lock.grpc.pb.h"

namespace cairn::client {
namespace {

using Clock = std::chrono::steady_clock;

Status FromGrpc(const grpc::Status& s) {
  if (s.ok()) return Status::Ok();
  if (s.error_code() == grpc::StatusCode::CANCELLED) return CancelledStatus();
  if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return Status(Code::kDeadlineExceeded, "context deadline exceeded");
  }
  return Status(static_cast<Code>(s.error_code()), s.error_message());
}

struct Endpoint {
  std::string target;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<etcdserverpb::KV::Stub> kv;
  std::unique_ptr<etcdserverpb::Watch::Stub> watch;
  std::unique_ptr<etcdserverpb::Lease::Stub> lease;
  std::unique_ptr<etcdserverpb::Cluster::Stub> cluster;
  std::unique_ptr<etcdserverpb::Maintenance::Stub> maintenance;
  std::unique_ptr<v3lockpb::Lock::Stub> lock;
  std::unique_ptr<v3electionpb::Election::Stub> election;
};

Result<std::string> Target(const std::string& endpoint) {
  std::string t = endpoint;
  if (t.rfind("https://", 0) == 0 || t.rfind("unixs:", 0) == 0) {
    return Unimplemented("TLS endpoints are not supported yet: " + endpoint);
  }
  if (t.rfind("http://", 0) == 0) t = t.substr(7);
  while (!t.empty() && t.back() == '/') t.pop_back();
  if (t.empty()) return InvalidArgument("empty endpoint");
  return t;
}

struct Core {
  std::vector<Endpoint> endpoints;
  std::atomic<size_t> current{0};
  Options options;
  Executor executor;
  std::mutex mu;
  Status closed;                                 // guarded by mu
  std::set<std::shared_ptr<Closeable>> streams;  // guarded by mu

  Status Closed() {
    std::lock_guard lock(mu);
    return closed;
  }
  void Prepare(grpc::ClientContext* ctx, const CallOptions& opts) const {
    auto timeout = opts.timeout.count() > 0 ? opts.timeout : options.request_timeout;
    if (timeout.count() > 0) ctx->set_deadline(std::chrono::system_clock::now() + timeout);
    if (options.require_leader) ctx->AddMetadata("hasleader", "true");
  }
  Status Register(std::shared_ptr<Closeable> s) {
    std::lock_guard lock(mu);
    CAIRN_RETURN_IF_ERROR(closed);
    streams.insert(std::move(s));
    return Status::Ok();
  }
  void Unregister(const std::shared_ptr<Closeable>& s) {
    std::lock_guard lock(mu);
    streams.erase(s);
  }

  // A unary call with failover. `invoke(endpoint, ctx, resp)` makes one attempt.
  template <typename Resp, typename Invoke>
  Status Unary(bool idempotent, const CallOptions& opts, Resp* out, Invoke invoke) {
    CAIRN_RETURN_IF_ERROR(Closed());
    const size_t n = endpoints.size();
    const size_t start = current.load();
    Status last = Unavailable("no endpoint");
    for (size_t a = 0; a < n; ++a) {
      const size_t i = (start + a) % n;
      Endpoint& ep = endpoints[i];
      const bool was_ready = ep.channel->GetState(false) == GRPC_CHANNEL_READY;
      grpc::ClientContext ctx;
      Prepare(&ctx, opts);
      CancelScope scope(opts.cancel, [&ctx] { ctx.TryCancel(); });
      if (opts.cancel != nullptr && opts.cancel->cancelled()) return CancelledStatus();
      Resp resp;
      grpc::Status gs = invoke(ep, &ctx, &resp);
      if (gs.ok()) {
        current.store(i);
        if (out != nullptr) *out = std::move(resp);
        return Status::Ok();
      }
      last = FromGrpc(gs);
      if (opts.cancel != nullptr && opts.cancel->cancelled()) return CancelledStatus();
      // The server's own errors start with "etcdserver:"; anything else unavailable is the
      // transport. A write moves on only if it cannot have reached the server.
      const bool unavailable = gs.error_code() == grpc::StatusCode::UNAVAILABLE;
      const bool transport = gs.error_message().rfind("etcdserver:", 0) != 0;
      if (!unavailable || !(idempotent || (transport && !was_ready))) return last;
      current.store((i + 1) % n);
    }
    return last;
  }
};

// ---- Watch ------------------------------------------------------------------------------

// One Watch RPC carrying one watcher. Owns itself until gRPC's OnDone.
class WatchCall final
    : public grpc::ClientBidiReactor<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>,
      public Closeable,
      public std::enable_shared_from_this<WatchCall> {
 public:
  explicit WatchCall(WatchCallback cb) : delivery_(std::move(cb)) {}

  // Starts the call and waits for the server's "created" (or the call's end).
  Status Start(Core& core, Endpoint& ep, const etcdserverpb::WatchCreateRequest& create,
               const CallOptions& opts) {
    if (core.options.require_leader) ctx_.AddMetadata("hasleader", "true");
    self_ = shared_from_this();
    etcdserverpb::WatchRequest req;
    *req.mutable_create_request() = create;
    ep.watch->async()->Watch(&ctx_, this);
    {
      std::lock_guard lock(mu_);
      QueueLocked(std::move(req));
    }
    StartRead(&resp_);
    StartCall();
    CancelScope scope(opts.cancel, [this] { ctx_.TryCancel(); });
    auto timeout = opts.timeout.count() > 0 ? opts.timeout : core.options.request_timeout;
    std::unique_lock lock(mu_);
    auto started = [this] { return created_ || done_; };
    if (timeout.count() > 0) {
      if (!cv_.wait_for(lock, timeout, started)) {
        lock.unlock();
        Stop();
        return Status(Code::kDeadlineExceeded, "context deadline exceeded");
      }
    } else {
      cv_.wait(lock, started);
    }
    if (created_ && refusal_.empty()) return Status::Ok();
    Status s = !refusal_.empty() ? InvalidArgument(refusal_) : end_;
    if (s.ok()) s = Unavailable("watch stream ended");
    lock.unlock();
    Stop();
    return s;
  }

  int64_t id() const { return id_; }

  void RequestProgress() {
    etcdserverpb::WatchRequest req;
    req.mutable_progress_request();
    std::lock_guard lock(mu_);
    if (!done_) QueueLocked(std::move(req));
  }

  // Ends the call; when it returns no callback runs any more.
  void Stop() {
    delivery_.Stop();
    ctx_.TryCancel();
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return done_; });
  }

  void End(const Status& why) override {
    {
      std::lock_guard lock(mu_);
      ending_ = why;  // what the last call reports, rather than the cancel below
    }
    ctx_.TryCancel();
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return done_; });
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    bool first = false;
    {
      std::lock_guard lock(mu_);
      if (!created_) {
        first = true;
        created_ = resp_.created();
        id_ = resp_.watch_id();
        if (resp_.canceled() && resp_.watch_id() < 0) refusal_ = resp_.cancel_reason();
        cv_.notify_all();
      }
    }
    bool go_on = true;
    if (!first || resp_.canceled()) {
      const bool last = resp_.canceled();
      if (last) final_sent_ = true;
      go_on =
          delivery_.Deliver([&](WatchCallback& cb) { return cb(resp_, Status::Ok()); }) && !last;
    }
    if (!go_on) {
      ctx_.TryCancel();
      return;
    }
    StartRead(&resp_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    writing_ = false;
    if (!ok) return;
    writes_.pop_front();
    WriteNextLocked();
  }

  void OnDone(const grpc::Status& s) override {
    std::shared_ptr<WatchCall> keep = std::move(self_);
    Status end = FromGrpc(s);
    {
      std::lock_guard lock(mu_);
      if (!ending_.ok()) end = ending_;
    }
    Final(end);
    std::lock_guard lock(mu_);
    end_ = end;
    done_ = true;
    cv_.notify_all();
  }

 private:
  void Final(const Status& why) {
    bool created;
    {
      std::lock_guard lock(mu_);
      created = created_ && refusal_.empty();
    }
    if (!created || final_sent_.exchange(true)) return;
    etcdserverpb::WatchResponse resp;
    resp.set_watch_id(id_);
    resp.set_canceled(true);
    resp.set_cancel_reason(why.message());
    delivery_.Deliver([&](WatchCallback& cb) {
      cb(resp, why);
      return false;
    });
  }
  void QueueLocked(etcdserverpb::WatchRequest req) {
    writes_.push_back(std::move(req));
    WriteNextLocked();
  }
  void WriteNextLocked() {
    if (writing_ || writes_.empty()) return;
    writing_ = true;
    StartWrite(&writes_.front());
  }

  grpc::ClientContext ctx_;
  Delivery<WatchCallback> delivery_;
  etcdserverpb::WatchResponse resp_;  // the read in flight
  std::shared_ptr<WatchCall> self_;
  std::atomic<bool> final_sent_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<etcdserverpb::WatchRequest> writes_;  // guarded by mu_
  bool writing_ = false;                           // guarded by mu_
  bool created_ = false;                           // guarded by mu_
  std::string refusal_;                            // guarded by mu_
  int64_t id_ = -1;
  bool done_ = false;  // guarded by mu_
  Status end_;         // guarded by mu_
  Status ending_;      // guarded by mu_; why Close ended the call
};

class WatchHandle final : public Watch {
 public:
  WatchHandle(std::shared_ptr<Core> core, std::shared_ptr<WatchCall> call)
      : core_(std::move(core)), call_(std::move(call)) {}
  ~WatchHandle() override { Stop(); }
  void Stop() override {
    core_->Unregister(call_);
    call_->Stop();
  }
  int64_t id() const override { return call_->id(); }
  Status RequestProgress() override {
    call_->RequestProgress();
    return Status::Ok();
  }

 private:
  std::shared_ptr<Core> core_;
  std::shared_ptr<WatchCall> call_;
};

// ---- Keep-alive -------------------------------------------------------------------------

// One renewal: a LeaseKeepAlive stream that sends one request and reads one answer. A
// renewal every third of the TTL makes a short stream cheap, and a failed endpoint is
// simply not used for the next one.
class RenewCall final : public grpc::ClientBidiReactor<etcdserverpb::LeaseKeepAliveRequest,
                                                       etcdserverpb::LeaseKeepAliveResponse> {
 public:
  using Done = std::function<void(Status, int64_t ttl)>;
  RenewCall(Core& core, Endpoint& ep, int64_t id, Done done) : done_(std::move(done)) {
    core.Prepare(&ctx_, CallOptions{});
    req_.set_id(id);
    ep.lease->async()->LeaseKeepAlive(&ctx_, this);
    StartWrite(&req_);
    StartRead(&resp_);
    StartCall();
  }
  void Cancel() { ctx_.TryCancel(); }
  void OnWriteDone(bool ok) override {
    if (ok) StartWritesDone();
  }
  void OnReadDone(bool ok) override { got_ = ok; }
  void OnWritesDoneDone(bool) override {}
  void OnDone(const grpc::Status& s) override {
    Status st = got_ ? Status::Ok() : FromGrpc(s);
    if (st.ok() && !got_) st = Unavailable("keep-alive stream ended");
    done_(st, got_ ? resp_.ttl() : 0);
    delete this;
  }

 private:
  grpc::ClientContext ctx_;
  etcdserverpb::LeaseKeepAliveRequest req_;
  etcdserverpb::LeaseKeepAliveResponse resp_;
  bool got_ = false;
  Done done_;
};

class KeepAliveState final : public Closeable, public std::enable_shared_from_this<KeepAliveState> {
 public:
  KeepAliveState(std::shared_ptr<Core> core, int64_t id, KeepAliveCallback cb)
      : core_(std::move(core)), id_(id), delivery_(std::move(cb)) {}

  // The first renewal, waited for.
  Result<int64_t> First(const CallOptions& opts) {
    etcdserverpb::LeaseKeepAliveResponse out;
    // LeaseKeepAlive is a stream; the first answer is read through a renewal.
    struct Wait {
      std::mutex mu;
      std::condition_variable cv;
      bool done = false;
      Status s;
      int64_t ttl = 0;
    };
    const size_t n = core_->endpoints.size();
    Status last = Unavailable("no endpoint");
    for (size_t a = 0; a < n; ++a) {
      size_t i = (core_->current.load() + a) % n;
      auto w = std::make_shared<Wait>();
      auto* call = new RenewCall(*core_, core_->endpoints[i], id_, [w](Status s, int64_t ttl) {
        std::lock_guard lock(w->mu);
        w->s = std::move(s);
        w->ttl = ttl;
        w->done = true;
        w->cv.notify_all();
      });
      {
        CancelScope scope(opts.cancel, [call, w] {
          std::lock_guard lock(w->mu);
          if (!w->done) call->Cancel();
        });
        std::unique_lock lock(w->mu);
        w->cv.wait(lock, [&] { return w->done; });
      }
      if (w->s.ok()) {
        core_->current.store(i);
        ttl_ = w->ttl;
        return w->ttl;
      }
      last = w->s;
      if (w->s.code() != Code::kUnavailable) return last;
    }
    return last;
  }

  void Schedule(int64_t ttl) {
    auto delay = std::chrono::milliseconds(std::max<int64_t>(ttl * 1000 / 3, 500));
    std::weak_ptr<KeepAliveState> weak = weak_from_this();
    core_->executor.PostAt(Clock::now() + delay, [weak] {
      if (auto self = weak.lock()) self->Renew();
    });
  }

  int64_t ttl() const { return ttl_.load(); }

  void Stop() {
    delivery_.Stop();
    std::unique_lock lock(mu_);
    stopped_ = true;
    cv_.wait(lock, [this] { return !in_flight_; });
  }
  void End(const Status&) override {
    {
      std::unique_lock lock(mu_);
      stopped_ = true;
      cv_.wait(lock, [this] { return !in_flight_; });
    }
    delivery_.Deliver([](KeepAliveCallback& cb) {
      cb(0);
      return false;
    });
  }

 private:
  void Renew() {
    {
      std::lock_guard lock(mu_);
      if (stopped_ || in_flight_) return;
      in_flight_ = true;
    }
    size_t i = core_->current.load() % core_->endpoints.size();
    std::weak_ptr<KeepAliveState> weak = weak_from_this();
    new RenewCall(*core_, core_->endpoints[i], id_, [weak, i](Status s, int64_t ttl) {
      auto self = weak.lock();
      if (!self) return;
      self->Answered(i, s, ttl);
    });
  }

  void Answered(size_t endpoint, const Status& s, int64_t ttl) {
    int64_t next = ttl_.load();
    if (s.ok()) {
      ttl_ = ttl;
      next = ttl;
      delivery_.Deliver([&](KeepAliveCallback& cb) { return cb(ttl) && ttl > 0; });
    } else if (s.code() == Code::kUnavailable) {
      // Try the next endpoint at the next renewal.
      core_->current.compare_exchange_strong(endpoint, (endpoint + 1) % core_->endpoints.size());
    }
    bool again;
    {
      std::lock_guard lock(mu_);
      in_flight_ = false;
      again = !stopped_ && next > 0;
      cv_.notify_all();
    }
    if (again && !delivery_.stopped()) Schedule(s.ok() ? next : 1);
  }

  std::shared_ptr<Core> core_;
  const int64_t id_;
  Delivery<KeepAliveCallback> delivery_;
  std::atomic<int64_t> ttl_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;    // guarded by mu_
  bool in_flight_ = false;  // guarded by mu_
};

class KeepAliveHandle final : public KeepAlive {
 public:
  KeepAliveHandle(std::shared_ptr<Core> core, std::shared_ptr<KeepAliveState> s)
      : core_(std::move(core)), state_(std::move(s)) {}
  ~KeepAliveHandle() override { Stop(); }
  void Stop() override {
    core_->Unregister(state_);
    state_->Stop();
  }
  int64_t ttl() const override { return state_->ttl(); }

 private:
  std::shared_ptr<Core> core_;
  std::shared_ptr<KeepAliveState> state_;
};

// ---- Observe ----------------------------------------------------------------------------

class ObserveCall final : public grpc::ClientReadReactor<v3electionpb::LeaderResponse>,
                          public Closeable,
                          public std::enable_shared_from_this<ObserveCall> {
 public:
  explicit ObserveCall(ObserveCallback cb) : delivery_(std::move(cb)) {}
  void Start(Core& core, Endpoint& ep, const v3electionpb::LeaderRequest& req) {
    if (core.options.require_leader) ctx_.AddMetadata("hasleader", "true");
    self_ = shared_from_this();
    req_ = req;
    ep.election->async()->Observe(&ctx_, &req_, this);
    StartRead(&resp_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (!delivery_.Deliver([&](ObserveCallback& cb) { return cb(&resp_, Status::Ok()); })) {
      ctx_.TryCancel();
      return;
    }
    StartRead(&resp_);
  }
  void OnDone(const grpc::Status& s) override {
    std::shared_ptr<ObserveCall> keep = std::move(self_);
    Status end = FromGrpc(s);
    {
      std::lock_guard lock(mu_);
      if (!ending_.ok()) end = ending_;
    }
    delivery_.Deliver([&](ObserveCallback& cb) {
      cb(nullptr, end);
      return false;
    });
    std::lock_guard lock(mu_);
    done_ = true;
    cv_.notify_all();
  }
  void Stop() {
    delivery_.Stop();
    Wait();
  }
  void End(const Status& why) override {
    {
      std::lock_guard lock(mu_);
      ending_ = why;  // what the last call reports, rather than the cancel in Wait
    }
    Wait();
  }

 private:
  void Wait() {
    ctx_.TryCancel();
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return done_; });
  }

  grpc::ClientContext ctx_;
  v3electionpb::LeaderRequest req_;
  v3electionpb::LeaderResponse resp_;
  Delivery<ObserveCallback> delivery_;
  std::shared_ptr<ObserveCall> self_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;  // guarded by mu_
  Status ending_;      // guarded by mu_; why Close ended the call
};

class ObserveHandle final : public Stream {
 public:
  ObserveHandle(std::shared_ptr<Core> core, std::shared_ptr<ObserveCall> call)
      : core_(std::move(core)), call_(std::move(call)) {}
  ~ObserveHandle() override { Stop(); }
  void Stop() override {
    core_->Unregister(call_);
    call_->Stop();
  }

 private:
  std::shared_ptr<Core> core_;
  std::shared_ptr<ObserveCall> call_;
};

// ---- The client -------------------------------------------------------------------------

#define CAIRN_UNARY(idempotent, stub, method)                                                 \
  core_->Unary(idempotent, opts, resp, [&](Endpoint& ep, grpc::ClientContext* ctx, auto* r) { \
    return ep.stub->method(ctx, req, r);                                                      \
  })

class GrpcClient final : public Client {
 public:
  explicit GrpcClient(std::shared_ptr<Core> core) : core_(std::move(core)) {}
  ~GrpcClient() override { Close(Cancelled("client closed")); }

  Status Range(const etcdserverpb::RangeRequest& req, etcdserverpb::RangeResponse* resp,
               const CallOptions& opts) override {
    return CAIRN_UNARY(true, kv, Range);
  }
  Status Put(const etcdserverpb::PutRequest& req, etcdserverpb::PutResponse* resp,
             const CallOptions& opts) override {
    return CAIRN_UNARY(false, kv, Put);
  }
  Status DeleteRange(const etcdserverpb::DeleteRangeRequest& req,
                     etcdserverpb::DeleteRangeResponse* resp, const CallOptions& opts) override {
    return CAIRN_UNARY(false, kv, DeleteRange);
  }
  Status Txn(const etcdserverpb::TxnRequest& req, etcdserverpb::TxnResponse* resp,
             const CallOptions& opts) override {
    return CAIRN_UNARY(false, kv, Txn);
  }
  Status Compact(const etcdserverpb::CompactionRequest& req, etcdserverpb::CompactionResponse* resp,
                 const CallOptions& opts) override {
    return CAIRN_UNARY(true, kv, Compact);
  }
  Status LeaseGrant(const etcdserverpb::LeaseGrantRequest& req,
                    etcdserverpb::LeaseGrantResponse* resp, const CallOptions& opts) override {
    return CAIRN_UNARY(false, lease, LeaseGrant);
  }
  Status LeaseRevoke(const etcdserverpb::LeaseRevokeRequest& req,
                     etcdserverpb::LeaseRevokeResponse* resp, const CallOptions& opts) override {
    return CAIRN_UNARY(true, lease, LeaseRevoke);
  }
  Status LeaseTimeToLive(const etcdserverpb::LeaseTimeToLiveRequest& req,
                         etcdserverpb::LeaseTimeToLiveResponse* resp,
                         const CallOptions& opts) override {
    return CAIRN_UNARY(true, lease, LeaseTimeToLive);
  }
  Status LeaseLeases(etcdserverpb::LeaseLeasesResponse* resp, const CallOptions& opts) override {
    etcdserverpb::LeaseLeasesRequest req;
    return CAIRN_UNARY(true, lease, LeaseLeases);
  }
  Result<std::unique_ptr<KeepAlive>> StartKeepAlive(int64_t id, KeepAliveCallback cb,
                                                    const CallOptions& opts) override {
    CAIRN_RETURN_IF_ERROR(core_->Closed());
    auto state = std::make_shared<KeepAliveState>(core_, id, std::move(cb));
    CAIRN_ASSIGN_OR_RETURN(int64_t ttl, state->First(opts));
    if (ttl <= 0) return etcd::LeaseNotFound();
    CAIRN_RETURN_IF_ERROR(core_->Register(state));
    state->Schedule(ttl);
    return std::unique_ptr<KeepAlive>(new KeepAliveHandle(core_, state));
  }
  Result<std::unique_ptr<Watch>> StartWatch(const etcdserverpb::WatchCreateRequest& req,
                                            WatchCallback cb, const CallOptions& opts) override {
    CAIRN_RETURN_IF_ERROR(core_->Closed());
    const size_t n = core_->endpoints.size();
    Status last = Unavailable("no endpoint");
    for (size_t a = 0; a < n; ++a) {
      const size_t i = (core_->current.load() + a) % n;
      auto call = std::make_shared<WatchCall>(cb);
      last = call->Start(*core_, core_->endpoints[i], req, opts);
      if (last.ok()) {
        core_->current.store(i);
        Status reg = core_->Register(call);
        if (!reg.ok()) {
          call->Stop();
          return reg;
        }
        return std::unique_ptr<Watch>(new WatchHandle(core_, call));
      }
      if (last.code() != Code::kUnavailable) return last;
    }
    return last;
  }
  Status Lock(const v3lockpb::LockRequest& req, v3lockpb::LockResponse* resp,
              const CallOptions& opts) override {
    return CAIRN_UNARY(false, lock, Lock);
  }
  Status Unlock(const v3lockpb::UnlockRequest& req, v3lockpb::UnlockResponse* resp,
                const CallOptions& opts) override {
    return CAIRN_UNARY(true, lock, Unlock);
  }
  Status Campaign(const v3electionpb::CampaignRequest& req, v3electionpb::CampaignResponse* resp,
                  const CallOptions& opts) override {
    return CAIRN_UNARY(false, election, Campaign);
  }
  Status Proclaim(const v3electionpb::ProclaimRequest& req, v3electionpb::ProclaimResponse* resp,
                  const CallOptions& opts) override {
    return CAIRN_UNARY(false, election, Proclaim);
  }
  Status Leader(const v3electionpb::LeaderRequest& req, v3electionpb::LeaderResponse* resp,
                const CallOptions& opts) override {
    return CAIRN_UNARY(true, election, Leader);
  }
  Status Resign(const v3electionpb::ResignRequest& req, v3electionpb::ResignResponse* resp,
                const CallOptions& opts) override {
    return CAIRN_UNARY(true, election, Resign);
  }
  Result<std::unique_ptr<Stream>> Observe(const v3electionpb::LeaderRequest& req,
                                          ObserveCallback cb) override {
    CAIRN_RETURN_IF_ERROR(core_->Closed());
    auto call = std::make_shared<ObserveCall>(std::move(cb));
    CAIRN_RETURN_IF_ERROR(core_->Register(call));
    size_t i = core_->current.load() % core_->endpoints.size();
    call->Start(*core_, core_->endpoints[i], req);
    return std::unique_ptr<Stream>(new ObserveHandle(core_, call));
  }
  Status MemberList(etcdserverpb::MemberListResponse* resp, const CallOptions& opts) override {
    etcdserverpb::MemberListRequest req;
    req.set_linearizable(true);
    return CAIRN_UNARY(true, cluster, MemberList);
  }
  Status GetStatus(etcdserverpb::StatusResponse* resp, const CallOptions& opts) override {
    etcdserverpb::StatusRequest req;
    return CAIRN_UNARY(true, maintenance, Status);
  }

  void Close(const Status& why) override {
    std::set<std::shared_ptr<Closeable>> streams;
    {
      std::lock_guard lock(core_->mu);
      if (!core_->closed.ok()) return;
      core_->closed = why;
      streams.swap(core_->streams);
    }
    for (const auto& s : streams) s->End(why);
    core_->executor.Stop();
  }

 private:
  std::shared_ptr<Core> core_;
};

#undef CAIRN_UNARY

// gRPC 1.51 (Debian's) gives the channels that make callback calls one shared completion
// queue with threads of its own, and frees it when the last such channel goes; the free
// races with those threads (a double free under ASan in about 1 in 20 runs of the Grpc
// client tests, once no grpc++ server in the process held the queue). A channel that is
// never destroyed holds it for the life of the process: its one call, already past its
// deadline, only makes it take the queue.
void HoldCallbackQueue() {
  struct Holder {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<etcdserverpb::Maintenance::Stub> stub;
    grpc::ClientContext ctx;
    etcdserverpb::StatusRequest req;
    etcdserverpb::StatusResponse resp;
  };
  static Holder* holder = [] {
    auto* h = new Holder;
    h->channel = grpc::CreateChannel("unix:/nonexistent/cairn-callback-queue",
                                     grpc::InsecureChannelCredentials());
    h->stub = etcdserverpb::Maintenance::NewStub(h->channel);
    h->ctx.set_deadline(std::chrono::system_clock::now());
    h->stub->async()->Status(&h->ctx, &h->req, &h->resp, [](grpc::Status) {});
    return h;
  }();
  (void)holder;
}

}  // namespace

Result<std::unique_ptr<Client>> Connect(const std::vector<std::string>& endpoints,
                                        const Options& options, CancelToken* cancel) {
  if (endpoints.empty()) return InvalidArgument("no endpoints given");
  HoldCallbackQueue();
  auto core = std::make_shared<Core>();
  core->options = options;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  for (const std::string& e : endpoints) {
    CAIRN_ASSIGN_OR_RETURN(std::string target, Target(e));
    Endpoint ep;
    ep.target = target;
    ep.channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
    ep.kv = etcdserverpb::KV::NewStub(ep.channel);
    ep.watch = etcdserverpb::Watch::NewStub(ep.channel);
    ep.lease = etcdserverpb::Lease::NewStub(ep.channel);
    ep.cluster = etcdserverpb::Cluster::NewStub(ep.channel);
    ep.maintenance = etcdserverpb::Maintenance::NewStub(ep.channel);
    ep.lock = v3lockpb::Lock::NewStub(ep.channel);
    ep.election = v3electionpb::Election::NewStub(ep.channel);
    core->endpoints.push_back(std::move(ep));
  }
  if (options.dial_timeout.count() > 0) {
    // Waits until one endpoint connects, trying them all in turn.
    const auto deadline = Clock::now() + options.dial_timeout;
    bool connected = false;
    while (!connected && Clock::now() < deadline) {
      if (cancel != nullptr && cancel->cancelled()) return CancelledStatus();
      for (size_t i = 0; i < core->endpoints.size() && !connected; ++i) {
        auto& ch = core->endpoints[i].channel;
        if (ch->GetState(true) == GRPC_CHANNEL_READY ||
            ch->WaitForConnected(std::chrono::system_clock::now() +
                                 std::chrono::milliseconds(50))) {
          core->current.store(i);
          connected = true;
        }
      }
    }
    if (!connected) return Status(Code::kDeadlineExceeded, "context deadline exceeded");
  }
  return std::unique_ptr<Client>(new GrpcClient(core));
}

}  // namespace cairn::client
