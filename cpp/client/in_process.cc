// The in-process client: calls go straight to a server::Member (and server::LockElection),
// their completions wake the caller; watch, keep-alive and observe callbacks run on the
// client's executor thread.
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <utility>

#include "base/etcd_errors.h"
#include "client/client.h"
#include "client/delivery.h"
#include "client/executor.h"
#include "server/convert.h"
#include "server/lock_election.h"
#include "watch/hub.h"

namespace cairn::client {
namespace {

using Clock = std::chrono::steady_clock;

Status DeadlineStatus() {
  return Status(Code::kDeadlineExceeded, "context deadline exceeded");
}

// What the client and its streams share: the member, until Close cuts it off.
struct Core {
  explicit Core(server::Member* m, const Options& o) : member(m), lock_election(m), options(o) {}

  server::Member* const member;
  server::LockElection lock_election;
  const Options options;
  Executor executor;

  // Held shared while a caller's thread uses the member, exclusive while Close cuts it off.
  std::shared_mutex use_mu;
  std::mutex mu;
  std::condition_variable cv;
  Status closed;                                 // guarded by mu; not OK once closed
  int in_flight = 0;                             // guarded by mu; waiting lock/election calls
  std::set<server::Cancellable*> waits;          // guarded by mu
  std::set<std::shared_ptr<Closeable>> streams;  // guarded by mu

  // Whether the member may be used; hold `use` while using it.
  Status Enter(std::shared_lock<std::shared_mutex>* use) {
    *use = std::shared_lock(use_mu);
    std::lock_guard lock(mu);
    return closed;
  }
};

// The outcome of one asynchronous member call, shared with its completion so the caller
// may stop waiting before it runs.
template <typename Resp>
struct Pending {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  Status status;
  Resp resp;

  server::Done Callback(const std::shared_ptr<Pending>& self) {
    return [self](Status s) {
      std::lock_guard lock(self->mu);
      self->status = std::move(s);
      self->done = true;
      self->cv.notify_all();
    };
  }
  // Waits for the completion, the deadline or the token; `on_give_up` then decides.
  Status Wait(const CallOptions& opts, std::chrono::milliseconds default_timeout) {
    auto timeout = opts.timeout.count() > 0 ? opts.timeout : default_timeout;
    bool cancelled = false;
    CancelScope scope(opts.cancel, [this, &cancelled] {
      std::lock_guard lock(mu);
      cancelled = true;
      cv.notify_all();
    });
    std::unique_lock lock(mu);
    auto stop = [&] { return done || cancelled; };
    if (timeout.count() > 0) {
      if (!cv.wait_for(lock, timeout, stop)) return DeadlineStatus();
    } else {
      cv.wait(lock, stop);
    }
    if (!done) return CancelledStatus();
    return status;
  }
};

template <typename Resp, typename Start>
Status Call(Core& core, const CallOptions& opts, Resp* out, Start start) {
  if (opts.cancel != nullptr && opts.cancel->cancelled()) return CancelledStatus();
  auto p = std::make_shared<Pending<Resp>>();
  {
    std::shared_lock<std::shared_mutex> use;
    CAIRN_RETURN_IF_ERROR(core.Enter(&use));
    start(&p->resp, p->Callback(p));
  }
  Status s = p->Wait(opts, core.options.request_timeout);
  if (s.ok() && out != nullptr) {
    std::lock_guard lock(p->mu);
    *out = std::move(p->resp);
  }
  return s;
}

// A lock or election call that may wait: cancelling it (token, deadline, Close) runs the
// call's own cleanup and waits for it to finish, so nothing of it outlives the call.
template <typename Resp, typename Start>
Status WaitingCall(Core& core, const CallOptions& opts, Resp* out, Start start) {
  if (opts.cancel != nullptr && opts.cancel->cancelled()) return CancelledStatus();
  auto p = std::make_shared<Pending<Resp>>();
  std::shared_ptr<server::Cancellable> call;
  {
    std::shared_lock<std::shared_mutex> use;
    CAIRN_RETURN_IF_ERROR(core.Enter(&use));
    {
      std::lock_guard lock(core.mu);
      ++core.in_flight;
    }
    call = start(&p->resp, p->Callback(p));
    if (call == nullptr) return Internal("lock/election call without a handle");
    std::lock_guard lock(core.mu);
    core.waits.insert(call.get());
  }
  Status s = p->Wait(opts, core.options.request_timeout);
  bool gave_up = false;
  {
    std::lock_guard lock(p->mu);
    gave_up = !p->done;
  }
  if (gave_up) {
    call->Cancel();
    CallOptions forever;
    p->Wait(forever, std::chrono::milliseconds(0)).IgnoreError();
  }
  {
    std::lock_guard lock(core.mu);
    core.waits.erase(call.get());
    --core.in_flight;
    core.cv.notify_all();
    if (gave_up && !core.closed.ok()) s = core.closed;
  }
  if (s.ok() && out != nullptr) {
    std::lock_guard lock(p->mu);
    *out = std::move(p->resp);
  }
  return s;
}

// ---- Watch ------------------------------------------------------------------------------

class WatchState : public Closeable, public std::enable_shared_from_this<WatchState> {
 public:
  WatchState(std::shared_ptr<Core> core, WatchCallback cb)
      : core_(std::move(core)), delivery_(std::move(cb)) {}

  Status Open(const etcdserverpb::WatchCreateRequest& req) {
    std::weak_ptr<WatchState> weak = weak_from_this();
    stream_ = core_->member->OpenWatchStream([weak, core = core_.get()] {
      // On a member thread: hand the draining to the executor.
      core->executor.Post([weak] {
        if (auto self = weak.lock()) self->Drain();
      });
    });
    if (!stream_) return etcd::Stopped();
    id_ = stream_->Create(server::FromProto(req));
    if (id_ < 0) {
      std::optional<watch::Response> r = stream_->TryPop();
      return InvalidArgument(r ? r->cancel_reason : "watch refused");
    }
    return Status::Ok();
  }

  int64_t id() const { return id_; }
  void RequestProgress() {
    std::lock_guard lock(mu_);
    if (stream_) stream_->RequestProgress();
  }

  void Stop() {
    std::unique_ptr<watch::Stream> stream;
    {
      std::lock_guard lock(mu_);
      stream = std::move(stream_);
    }
    if (stream) stream->Close();  // no wake after this
    delivery_.Stop();
  }

  void End(const Status& why) override {
    std::unique_ptr<watch::Stream> stream;
    {
      std::lock_guard lock(mu_);
      stream = std::move(stream_);
    }
    if (stream) stream->Close();
    etcdserverpb::WatchResponse resp;
    core_->member->FillHeader(resp.mutable_header());
    resp.set_watch_id(id_);
    resp.set_canceled(true);
    resp.set_cancel_reason(why.message());
    delivery_.Deliver([&](WatchCallback& cb) {
      cb(resp, why);
      return false;
    });
  }

 private:
  void Drain() {
    for (;;) {
      std::optional<watch::Response> next;
      {
        std::lock_guard lock(mu_);
        if (!stream_) return;
        next = stream_->TryPop();
      }
      if (!next) return;
      if (next->created && !next->canceled) continue;  // Open knew it already
      etcdserverpb::WatchResponse resp;
      core_->member->FillHeader(resp.mutable_header());
      server::ToProto(*next, &resp);
      bool last = next->canceled;
      delivery_.Deliver([&](WatchCallback& cb) { return cb(resp, Status::Ok()) && !last; });
      if (last || delivery_.stopped()) {
        Stop();
        return;
      }
    }
  }

  std::shared_ptr<Core> core_;
  Delivery<WatchCallback> delivery_;
  std::mutex mu_;
  std::unique_ptr<watch::Stream> stream_;  // guarded by mu_
  int64_t id_ = -1;
};

// Unregisters a stream from its core and stops it, when its handle goes.
template <typename State, typename Base>
class Handle : public Base {
 public:
  Handle(std::shared_ptr<Core> core, std::shared_ptr<State> state)
      : core_(std::move(core)), state_(std::move(state)) {}
  ~Handle() override { Stop(); }
  void Stop() override {
    {
      std::lock_guard lock(core_->mu);
      core_->streams.erase(state_);
    }
    state_->Stop();
  }

 protected:
  std::shared_ptr<Core> core_;
  std::shared_ptr<State> state_;
};

class WatchHandle final : public Handle<WatchState, Watch> {
 public:
  using Handle::Handle;
  int64_t id() const override { return state_->id(); }
  Status RequestProgress() override {
    state_->RequestProgress();
    return Status::Ok();
  }
};

// ---- Keep-alive -------------------------------------------------------------------------

class KeepAliveState : public Closeable, public std::enable_shared_from_this<KeepAliveState> {
 public:
  KeepAliveState(std::shared_ptr<Core> core, int64_t id, KeepAliveCallback cb)
      : core_(std::move(core)), id_(id), delivery_(std::move(cb)) {}

  // One renewal; returns the TTL answered.
  Result<int64_t> Renew() {
    etcdserverpb::LeaseKeepAliveRequest req;
    req.set_id(id_);
    etcdserverpb::LeaseKeepAliveResponse resp;
    CAIRN_RETURN_IF_ERROR(Call(*core_, CallOptions{}, &resp, [&](auto* r, server::Done d) {
      core_->member->LeaseKeepAlive(req, r, std::move(d));
    }));
    ttl_ = resp.ttl();
    return resp.ttl();
  }

  void Schedule(int64_t ttl) {
    auto delay = std::chrono::milliseconds(std::max<int64_t>(ttl * 1000 / 3, 500));
    std::weak_ptr<KeepAliveState> weak = weak_from_this();
    core_->executor.PostAt(Clock::now() + delay, [weak] {
      if (auto self = weak.lock()) self->Tick();
    });
  }

  int64_t ttl() const { return ttl_.load(); }
  void Stop() { delivery_.Stop(); }
  void End(const Status&) override {
    delivery_.Deliver([](KeepAliveCallback& cb) {
      cb(0);
      return false;
    });
  }

 private:
  void Tick() {
    if (delivery_.stopped()) return;
    Result<int64_t> ttl = Renew();
    // A failed renewal (no leader for a moment) is retried at the next tick.
    int64_t next = ttl.ok() ? *ttl : ttl_.load();
    if (ttl.ok()) {
      delivery_.Deliver([&](KeepAliveCallback& cb) { return cb(*ttl) && *ttl > 0; });
    }
    if (next > 0 && !delivery_.stopped()) Schedule(next);
  }

  std::shared_ptr<Core> core_;
  const int64_t id_;
  Delivery<KeepAliveCallback> delivery_;
  std::atomic<int64_t> ttl_{0};
};

class KeepAliveHandle final : public Handle<KeepAliveState, KeepAlive> {
 public:
  using Handle::Handle;
  int64_t ttl() const override { return state_->ttl(); }
};

// ---- Observe ----------------------------------------------------------------------------

class ObserveState : public Closeable, public std::enable_shared_from_this<ObserveState> {
 public:
  ObserveState(std::shared_ptr<Core> core, ObserveCallback cb)
      : core_(std::move(core)), delivery_(std::move(cb)) {}

  void Begin(const v3electionpb::LeaderRequest& req) {
    std::weak_ptr<ObserveState> weak = weak_from_this();
    Executor* ex = &core_->executor;
    auto sink = [weak, ex](v3electionpb::LeaderResponse resp) {
      ex->Post([weak, resp = std::move(resp)] {
        if (auto self = weak.lock()) {
          self->delivery_.Deliver([&](ObserveCallback& cb) { return cb(&resp, Status::Ok()); });
        }
      });
    };
    auto done = [weak, ex](Status s) {
      {
        if (auto self = weak.lock()) {
          std::lock_guard lock(self->mu_);
          self->finished_ = true;
          self->cv_.notify_all();
        }
      }
      ex->Post([weak, s] {
        if (auto self = weak.lock()) {
          self->delivery_.Deliver([&](ObserveCallback& cb) {
            cb(nullptr, s.code() == Code::kCancelled ? Status::Ok() : s);
            return false;
          });
        }
      });
    };
    // `done` may run here already (a call failing at once): mu_ is not held meanwhile.
    std::shared_ptr<server::Cancellable> call = core_->lock_election.Observe(req, sink, done);
    bool cancel = false;
    {
      std::lock_guard lock(mu_);
      call_ = call;
      cancel = cancel_requested_;
    }
    if (cancel && call) call->Cancel();
  }

  // Cancels the observation and waits until the member is done with it.
  void Cancel() {
    std::shared_ptr<server::Cancellable> call;
    {
      std::lock_guard lock(mu_);
      call = call_;
      cancel_requested_ = true;
    }
    if (call) call->Cancel();
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(5), [this] { return finished_; });
  }
  void Stop() {
    delivery_.Stop();
    Cancel();
  }
  void End(const Status& why) override {
    Cancel();
    delivery_.Deliver([&](ObserveCallback& cb) {
      cb(nullptr, why);
      return false;
    });
  }

 private:
  std::shared_ptr<Core> core_;
  Delivery<ObserveCallback> delivery_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<server::Cancellable> call_;  // guarded by mu_
  bool finished_ = false;                      // guarded by mu_
  bool cancel_requested_ = false;              // guarded by mu_
};

class ObserveHandle final : public Handle<ObserveState, Stream> {
 public:
  using Handle::Handle;
};

// ---- The client -------------------------------------------------------------------------

class InProcessClient final : public Client {
 public:
  InProcessClient(server::Member* member, const Options& options)
      : core_(std::make_shared<Core>(member, options)) {}
  ~InProcessClient() override { Close(Cancelled("client closed")); }

  Status Range(const etcdserverpb::RangeRequest& req, etcdserverpb::RangeResponse* resp,
               const CallOptions& opts) override {
    return Call(*core_, opts, resp,
                [&](auto* r, server::Done d) { core_->member->Range(req, r, std::move(d)); });
  }
  Status Put(const etcdserverpb::PutRequest& req, etcdserverpb::PutResponse* resp,
             const CallOptions& opts) override {
    return Call(*core_, opts, resp,
                [&](auto* r, server::Done d) { core_->member->Put(req, r, std::move(d)); });
  }
  Status DeleteRange(const etcdserverpb::DeleteRangeRequest& req,
                     etcdserverpb::DeleteRangeResponse* resp, const CallOptions& opts) override {
    return Call(*core_, opts, resp,
                [&](auto* r, server::Done d) { core_->member->DeleteRange(req, r, std::move(d)); });
  }
  Status Txn(const etcdserverpb::TxnRequest& req, etcdserverpb::TxnResponse* resp,
             const CallOptions& opts) override {
    return Call(*core_, opts, resp,
                [&](auto* r, server::Done d) { core_->member->Txn(req, r, std::move(d)); });
  }
  Status Compact(const etcdserverpb::CompactionRequest& req, etcdserverpb::CompactionResponse* resp,
                 const CallOptions& opts) override {
    return Call(*core_, opts, resp,
                [&](auto* r, server::Done d) { core_->member->Compact(req, r, std::move(d)); });
  }

  Status LeaseGrant(const etcdserverpb::LeaseGrantRequest& req,
                    etcdserverpb::LeaseGrantResponse* resp, const CallOptions& opts) override {
    return Call(*core_, opts, resp,
                [&](auto* r, server::Done d) { core_->member->LeaseGrant(req, r, std::move(d)); });
  }
  Status LeaseRevoke(const etcdserverpb::LeaseRevokeRequest& req,
                     etcdserverpb::LeaseRevokeResponse* resp, const CallOptions& opts) override {
    return Call(*core_, opts, resp,
                [&](auto* r, server::Done d) { core_->member->LeaseRevoke(req, r, std::move(d)); });
  }
  Status LeaseTimeToLive(const etcdserverpb::LeaseTimeToLiveRequest& req,
                         etcdserverpb::LeaseTimeToLiveResponse* resp,
                         const CallOptions& opts) override {
    return Call(*core_, opts, resp, [&](auto* r, server::Done d) {
      core_->member->LeaseTimeToLive(req, r, std::move(d));
    });
  }
  Status LeaseLeases(etcdserverpb::LeaseLeasesResponse* resp, const CallOptions& opts) override {
    return Call(*core_, opts, resp,
                [&](auto* r, server::Done d) { core_->member->LeaseLeases(r, std::move(d)); });
  }
  Result<std::unique_ptr<KeepAlive>> StartKeepAlive(int64_t id, KeepAliveCallback cb,
                                                    const CallOptions&) override {
    auto state = std::make_shared<KeepAliveState>(core_, id, std::move(cb));
    CAIRN_ASSIGN_OR_RETURN(int64_t ttl, state->Renew());
    if (ttl <= 0) return etcd::LeaseNotFound();
    {
      std::lock_guard lock(core_->mu);
      CAIRN_RETURN_IF_ERROR(core_->closed);
      core_->streams.insert(state);
    }
    state->Schedule(ttl);
    return std::unique_ptr<KeepAlive>(new KeepAliveHandle(core_, state));
  }

  Result<std::unique_ptr<Watch>> StartWatch(const etcdserverpb::WatchCreateRequest& req,
                                            WatchCallback cb, const CallOptions&) override {
    auto state = std::make_shared<WatchState>(core_, std::move(cb));
    {
      std::lock_guard lock(core_->mu);
      CAIRN_RETURN_IF_ERROR(core_->closed);
      core_->streams.insert(state);
    }
    auto handle = std::unique_ptr<Watch>(new WatchHandle(core_, state));
    CAIRN_RETURN_IF_ERROR(state->Open(req));
    return handle;
  }

  Status Lock(const v3lockpb::LockRequest& req, v3lockpb::LockResponse* resp,
              const CallOptions& opts) override {
    return WaitingCall(*core_, opts, resp, [&](auto* r, server::Done d) {
      return core_->lock_election.Lock(req, r, std::move(d));
    });
  }
  Status Unlock(const v3lockpb::UnlockRequest& req, v3lockpb::UnlockResponse* resp,
                const CallOptions& opts) override {
    return Call(*core_, opts, resp, [&](auto* r, server::Done d) {
      core_->lock_election.Unlock(req, r, std::move(d));
    });
  }
  Status Campaign(const v3electionpb::CampaignRequest& req, v3electionpb::CampaignResponse* resp,
                  const CallOptions& opts) override {
    return WaitingCall(*core_, opts, resp, [&](auto* r, server::Done d) {
      return core_->lock_election.Campaign(req, r, std::move(d));
    });
  }
  Status Proclaim(const v3electionpb::ProclaimRequest& req, v3electionpb::ProclaimResponse* resp,
                  const CallOptions& opts) override {
    return Call(*core_, opts, resp, [&](auto* r, server::Done d) {
      core_->lock_election.Proclaim(req, r, std::move(d));
    });
  }
  Status Leader(const v3electionpb::LeaderRequest& req, v3electionpb::LeaderResponse* resp,
                const CallOptions& opts) override {
    return Call(*core_, opts, resp, [&](auto* r, server::Done d) {
      core_->lock_election.Leader(req, r, std::move(d));
    });
  }
  Status Resign(const v3electionpb::ResignRequest& req, v3electionpb::ResignResponse* resp,
                const CallOptions& opts) override {
    return Call(*core_, opts, resp, [&](auto* r, server::Done d) {
      core_->lock_election.Resign(req, r, std::move(d));
    });
  }
  Result<std::unique_ptr<Stream>> Observe(const v3electionpb::LeaderRequest& req,
                                          ObserveCallback cb) override {
    auto state = std::make_shared<ObserveState>(core_, std::move(cb));
    {
      std::lock_guard lock(core_->mu);
      CAIRN_RETURN_IF_ERROR(core_->closed);
      core_->streams.insert(state);
    }
    state->Begin(req);
    return std::unique_ptr<Stream>(new ObserveHandle(core_, state));
  }

  Status MemberList(etcdserverpb::MemberListResponse* resp, const CallOptions&) override {
    std::shared_lock<std::shared_mutex> use;
    CAIRN_RETURN_IF_ERROR(core_->Enter(&use));
    core_->member->FillHeader(resp->mutable_header());
    for (const server::MemberInfo& m : core_->member->Members()) {
      auto* out = resp->add_members();
      out->set_id(m.id);
      out->set_name(m.name);
      for (const auto& u : m.peer_urls) out->add_peerurls(u);
      for (const auto& u : m.client_urls) out->add_clienturls(u);
      out->set_islearner(m.is_learner);
    }
    return Status::Ok();
  }
  Status GetStatus(etcdserverpb::StatusResponse* resp, const CallOptions&) override {
    std::shared_lock<std::shared_mutex> use;
    CAIRN_RETURN_IF_ERROR(core_->Enter(&use));
    return core_->member->GetStatus(resp);
  }

  void Close(const Status& why) override {
    std::set<std::shared_ptr<Closeable>> streams;
    {
      std::unique_lock use(core_->use_mu);
      std::lock_guard lock(core_->mu);
      if (!core_->closed.ok()) return;
      core_->closed = why;
      streams.swap(core_->streams);
      for (server::Cancellable* c : core_->waits) c->Cancel();
    }
    for (const auto& s : streams) s->End(why);
    {
      // Waiting lock and election calls hold watch streams of the member: they must end
      // before it stops. Their cleanup goes through the member, so it is bounded.
      std::unique_lock lock(core_->mu);
      core_->cv.wait_for(lock, std::chrono::seconds(5), [this] { return core_->in_flight == 0; });
    }
    core_->executor.Stop();
  }

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace

std::unique_ptr<Client> InProcess(server::Member* member, const Options& options) {
  return std::make_unique<InProcessClient>(member, options);
}

}  // namespace cairn::client
