// The Lock and Election services: each call is handed to server::LockElection, whose
// completion finishes it; a client that goes away cancels a waiting call, as in etcd.
#include "rpc/lock_election_services.h"

#include <deque>
#include <memory>
#include <mutex>

#include "base/etcd_errors.h"
#include "rpc/services.h"

namespace cairn::rpc {

namespace {

// A unary call that may wait (Lock, Campaign): gRPC's cancel reaches the waiting call, which
// cleans up as etcd's does and then finishes the reactor through its completion.
class WaitingReactor final : public grpc::ServerUnaryReactor {
 public:
  // `start(done)` begins the call and returns its handle. Runs inside the service method,
  // so gRPC cannot call OnCancel or OnDone before it returns the reactor.
  template <typename Start>
  void Begin(Start start) {
    std::shared_ptr<server::Cancellable> op = start([this](Status s) { Finish(ToGrpc(s)); });
    bool cancel = false;
    {
      std::lock_guard lock(mu_);
      op_ = op;
      cancel = cancelled_;
    }
    if (cancel) op->Cancel();
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

  // The completion has run (OnDone comes only after Finish), so the call is over.
  void OnDone() override { delete this; }

 private:
  std::mutex mu_;
  std::shared_ptr<server::Cancellable> op_;  // guarded by mu_
  bool cancelled_ = false;                   // guarded by mu_
};

template <typename Start>
grpc::ServerUnaryReactor* ServeWaiting(grpc::CallbackServerContext* ctx, server::Member* member,
                                       Start start) {
  if (Status s = CheckLeader(ctx, member); !s.ok()) {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(ToGrpc(s));
    return reactor;
  }
  auto* reactor = new WaitingReactor();
  reactor->Begin(std::move(start));
  return reactor;
}

// One Observe stream: leader values are queued as the observer reports them and written one
// at a time, in order. The call finishes once the observer ended and the queue is written;
// a failed write or a cancel ends the observer first, so it never reports to a dead reactor.
class ObserveReactor final : public grpc::ServerWriteReactor<v3electionpb::LeaderResponse> {
 public:
  void Begin(server::LockElection* impl, const v3electionpb::LeaderRequest& req) {
    std::shared_ptr<server::Cancellable> op = impl->Observe(
        req, [this](v3electionpb::LeaderResponse r) { OnLeader(std::move(r)); },
        [this](Status s) { OnObserverDone(std::move(s)); });
    bool cancel = false;
    {
      std::lock_guard lock(mu_);
      op_ = op;
      cancel = cancelled_;
    }
    if (cancel) op->Cancel();
  }

  void FinishNow(const Status& s) {
    std::lock_guard lock(mu_);
    observer_done_ = true;
    status_ = ToGrpc(s);
    MaybeFinishLocked();
  }

  void OnWriteDone(bool ok) override {
    std::shared_ptr<server::Cancellable> cancel;
    {
      std::lock_guard lock(mu_);
      queue_.pop_front();
      if (ok && !queue_.empty()) {
        StartWrite(&queue_.front());
        return;
      }
      writing_ = false;
      if (!ok) {
        broken_ = true;
        queue_.clear();
        cancel = op_;
      }
      MaybeFinishLocked();
    }
    if (cancel) cancel->Cancel();  // not under mu_: the observer's completion takes it
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

  void OnDone() override { delete this; }

 private:
  void OnLeader(v3electionpb::LeaderResponse r) {
    std::lock_guard lock(mu_);
    if (broken_ || cancelled_) return;
    queue_.push_back(std::move(r));
    if (!writing_) {
      writing_ = true;
      StartWrite(&queue_.front());
    }
  }

  void OnObserverDone(Status s) {
    std::lock_guard lock(mu_);
    observer_done_ = true;
    status_ = ToGrpc(s);
    MaybeFinishLocked();
  }

  void MaybeFinishLocked() {
    if (observer_done_ && !writing_ && !finished_) {
      finished_ = true;
      Finish(status_);
    }
  }

  std::mutex mu_;
  std::shared_ptr<server::Cancellable> op_;         // guarded by mu_
  std::deque<v3electionpb::LeaderResponse> queue_;  // guarded by mu_; front is being written
  bool writing_ = false;                            // guarded by mu_
  bool broken_ = false;                             // guarded by mu_: a write failed
  bool cancelled_ = false;                          // guarded by mu_
  bool observer_done_ = false;                      // guarded by mu_
  bool finished_ = false;                           // guarded by mu_
  grpc::Status status_;                             // guarded by mu_
};

}  // namespace

// ---------------------------------------------------------------------------------------
// Lock

grpc::ServerUnaryReactor* LockService::Lock(grpc::CallbackServerContext* ctx,
                                            const v3lockpb::LockRequest* req,
                                            v3lockpb::LockResponse* resp) {
  return ServeWaiting(ctx, member_,
                      [&](server::Done done) { return impl_.Lock(*req, resp, std::move(done)); });
}

grpc::ServerUnaryReactor* LockService::Unlock(grpc::CallbackServerContext* ctx,
                                              const v3lockpb::UnlockRequest* req,
                                              v3lockpb::UnlockResponse* resp) {
  return Serve(ctx, member_, [&](server::Done done) { impl_.Unlock(*req, resp, std::move(done)); });
}

// ---------------------------------------------------------------------------------------
// Election

grpc::ServerUnaryReactor* ElectionService::Campaign(grpc::CallbackServerContext* ctx,
                                                    const v3electionpb::CampaignRequest* req,
                                                    v3electionpb::CampaignResponse* resp) {
  return ServeWaiting(
      ctx, member_, [&](server::Done done) { return impl_.Campaign(*req, resp, std::move(done)); });
}

grpc::ServerUnaryReactor* ElectionService::Proclaim(grpc::CallbackServerContext* ctx,
                                                    const v3electionpb::ProclaimRequest* req,
                                                    v3electionpb::ProclaimResponse* resp) {
  return Serve(ctx, member_,
               [&](server::Done done) { impl_.Proclaim(*req, resp, std::move(done)); });
}

grpc::ServerUnaryReactor* ElectionService::Leader(grpc::CallbackServerContext* ctx,
                                                  const v3electionpb::LeaderRequest* req,
                                                  v3electionpb::LeaderResponse* resp) {
  return Serve(ctx, member_, [&](server::Done done) { impl_.Leader(*req, resp, std::move(done)); });
}

grpc::ServerWriteReactor<v3electionpb::LeaderResponse>* ElectionService::Observe(
    grpc::CallbackServerContext* ctx, const v3electionpb::LeaderRequest* req) {
  auto* reactor = new ObserveReactor();
  if (Status s = CheckLeader(ctx, member_); !s.ok()) {
    reactor->FinishNow(s);
    return reactor;
  }
  reactor->Begin(&impl_, *req);
  return reactor;
}

grpc::ServerUnaryReactor* ElectionService::Resign(grpc::CallbackServerContext* ctx,
                                                  const v3electionpb::ResignRequest* req,
                                                  v3electionpb::ResignResponse* resp) {
  return Serve(ctx, member_, [&](server::Done done) { impl_.Resign(*req, resp, std::move(done)); });
}

}  // namespace cairn::rpc
