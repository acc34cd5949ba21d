// etcd's Mutex and Election steps as chains of the member's completions and watch wakes.
#include "server/lock_election.h"

#include <mutex>
#include <utility>

#include "base/etcd_errors.h"
#include "server/convert.h"

namespace cairn::server {

Status ElectionNotLeader() {
  return {Code::kUnknown, "election: not leader"};
}
Status ElectionNoLeader() {
  return {Code::kUnknown, "election: no leader"};
}
Status MissingLeaderKey() {
  return {Code::kUnknown, "\"leader\" field must be provided"};
}
Status SessionExpired() {
  return {Code::kUnknown, "mutex: session is expired"};
}

Status ToClientError(const Status& s) {
  // A cancelled call keeps its code: its client has gone and gRPC reports the cancel itself.
  if (s.ok() || s.code() == Code::kCancelled) return s;
  return {Code::kUnknown, s.message()};
}

std::string OwnerKey(const std::string& prefix, int64_t lease) {
  static constexpr char kHex[] = "0123456789abcdef";
  // The magnitude as unsigned, so that the most negative int64 has one too.
  uint64_t magnitude = lease < 0 ? ~static_cast<uint64_t>(lease) + 1 : static_cast<uint64_t>(lease);
  std::string digits;
  do {
    digits.insert(digits.begin(), kHex[magnitude & 0xf]);
    magnitude >>= 4;
  } while (magnitude != 0);
  return prefix + (lease < 0 ? "-" : "") + digits;
}

namespace {

Status CancelledStatus() {
  return Cancelled("context canceled");
}

// etcd's clientv3 GetPrefixRangeEnd: the first key after every key with `prefix`.
std::string PrefixEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every byte was 0xff: every key from the prefix on
}

// clientv3's Get(prefix, WithFirstCreate()) and Get(prefix, WithLastCreate(),
// WithMaxCreateRev(max)): the oldest, or the newest up to `max_create_rev`, key under prefix.
etcdserverpb::RangeRequest FirstCreate(const std::string& prefix) {
  etcdserverpb::RangeRequest r;
  r.set_key(prefix);
  r.set_range_end(PrefixEnd(prefix));
  r.set_limit(1);
  r.set_sort_target(etcdserverpb::RangeRequest::CREATE);
  r.set_sort_order(etcdserverpb::RangeRequest::ASCEND);
  return r;
}
etcdserverpb::RangeRequest LastCreate(const std::string& prefix, int64_t max_create_rev) {
  etcdserverpb::RangeRequest r = FirstCreate(prefix);
  r.set_sort_order(etcdserverpb::RangeRequest::DESCEND);
  r.set_max_create_revision(max_create_rev);
  return r;
}

void CompareCreateRevision(etcdserverpb::TxnRequest* txn, const std::string& key, int64_t rev) {
  auto* c = txn->add_compare();
  c->set_key(key);
  c->set_target(etcdserverpb::Compare::CREATE);
  c->set_result(etcdserverpb::Compare::EQUAL);
  c->set_create_revision(rev);
}

void AddPut(google::protobuf::RepeatedPtrField<etcdserverpb::RequestOp>* ops,
            const std::string& key, const std::string& value, int64_t lease) {
  auto* put = ops->Add()->mutable_request_put();
  put->set_key(key);
  put->set_value(value);
  put->set_lease(lease);
}

// One member call whose request and response live as long as the call: the member reads
// the request after returning (a linearizable read runs later).
template <typename Req, typename Resp, typename Then>
void Call(Member* member, void (Member::*fn)(const Req&, Resp*, Done), Req req, Then then) {
  auto io = std::make_shared<std::pair<Req, Resp>>(std::move(req), Resp());
  (member->*fn)(io->first, &io->second,
                [io, then = std::move(then)](Status s) mutable { then(std::move(s), io->second); });
}

// etcd's NewSession: lease 0 asks for a new lease of kSessionTtlSeconds.
template <typename Then>
void SessionLease(Member* member, int64_t lease, Then then) {
  if (lease != 0) return then(Status::Ok(), lease);
  etcdserverpb::LeaseGrantRequest grant;
  grant.set_ttl(kSessionTtlSeconds);
  Call(member, &Member::LeaseGrant, std::move(grant),
       [then = std::move(then)](Status s, etcdserverpb::LeaseGrantResponse& r) mutable {
         then(std::move(s), r.id());
       });
}

// What every waiting call shares: cancellation, and at most one watch at a time whose
// responses go to a handler until it says the wait is over.
//
// Locking: mu_ is never held while calling the member or a watch stream's Create, Close or
// destructor (a stream may run its wake inline, and the member may complete inline), except
// that TryPop and the handler (which may call an ObserveSink) run under it.
class Op : public Cancellable, public std::enable_shared_from_this<Op> {
 public:
  explicit Op(Member* member) : member_(member) {}

  void Cancel() override {
    std::shared_ptr<watch::Stream> stream;
    std::function<void(Status)> then;
    {
      std::lock_guard lock(mu_);
      if (cancelled_) return;
      cancelled_ = true;
      // A wait still being set up notices the cancel itself once Create returned.
      if (!waiting_ || starting_) return;
      waiting_ = false;
      stream = std::move(stream_);
      then = std::move(then_);
      handler_ = nullptr;
    }
    stream.reset();  // closes it: no wake comes after this
    then(CancelledStatus());
  }

 protected:
  // Sees each watch response in order; returns true when the wait is over, with its outcome
  // in *result (OK unless set).
  using Handler = std::function<bool(watch::Response&, Status*)>;

  bool cancelled() {
    std::lock_guard lock(mu_);
    return cancelled_;
  }

  // Watches as `req` asks until `handler` ends the wait, the watch is cancelled by the
  // store, or Cancel; then closes the watch and runs `then` with the outcome.
  void Watch(const watch::CreateRequest& req, Handler handler, std::function<void(Status)> then) {
    uint64_t gen = 0;
    {
      std::lock_guard lock(mu_);
      if (!cancelled_) gen = ++gen_;
    }
    if (gen == 0) return then(CancelledStatus());
    std::weak_ptr<Op> weak = weak_from_this();
    std::shared_ptr<watch::Stream> stream = member_->OpenWatchStream([weak, gen] {
      if (std::shared_ptr<Op> op = weak.lock()) op->OnWake(gen);
    });
    if (!stream) return then(etcd::Stopped());
    {
      std::lock_guard lock(mu_);
      if (cancelled_) {
        stream.reset();  // still unused: no wake can be running
        return then(CancelledStatus());
      }
      stream_ = stream;
      handler_ = std::move(handler);
      then_ = std::move(then);
      waiting_ = true;
      starting_ = true;
      over_ = false;
      result_ = Status::Ok();
    }
    // Wakes may come inline or on other threads meanwhile; while starting_ they only record
    // the outcome, so that the stream is never closed under this call.
    const int64_t id = stream->Create(req);
    Status result;
    std::function<void(Status)> done_then;
    {
      std::lock_guard lock(mu_);
      starting_ = false;
      if (!over_ && !cancelled_ && id != watch::kInvalidWatchId) return;  // waiting
      if (over_) {
        result = result_;
      } else if (cancelled_) {
        result = CancelledStatus();
      } else {
        result = Unknown("lost watcher waiting for delete");
      }
      waiting_ = false;
      stream_.reset();
      done_then = std::move(then_);
      handler_ = nullptr;
    }
    stream.reset();
    done_then(std::move(result));
  }

  Member* const member_;

 private:
  static Status Unknown(std::string m) { return {Code::kUnknown, std::move(m)}; }

  void OnWake(uint64_t gen) {
    std::shared_ptr<watch::Stream> stream;
    std::function<void(Status)> then;
    Status result;
    {
      std::lock_guard lock(mu_);
      if (!waiting_ || gen != gen_ || over_ || !stream_) return;
      while (std::optional<watch::Response> r = stream_->TryPop()) {
        Status out;
        if (r->canceled) {
          // Only the store cancels our watch: compaction, as etcd's watch ends then.
          out = r->compact_revision != 0 ? etcd::Compacted() : Unknown(r->cancel_reason);
          over_ = true;
        } else if (handler_(*r, &out)) {
          over_ = true;
        }
        if (over_) {
          result_ = out;
          break;
        }
      }
      if (!over_ || starting_) return;
      waiting_ = false;
      result = result_;
      stream = std::move(stream_);
      then = std::move(then_);
      handler_ = nullptr;
    }
    stream.reset();  // from inside its own wake: allowed, and no wake of it comes again
    then(std::move(result));
  }

  std::mutex mu_;
  bool cancelled_ = false;                 // guarded by mu_
  bool waiting_ = false;                   // guarded by mu_: a watch is set
  bool starting_ = false;                  // guarded by mu_: Watch is still in Create
  bool over_ = false;                      // guarded by mu_: the handler ended the wait
  Status result_;                          // guarded by mu_: the outcome when over_
  uint64_t gen_ = 0;                       // guarded by mu_: which watch wakes belong to
  std::shared_ptr<watch::Stream> stream_;  // guarded by mu_
  Handler handler_;                        // guarded by mu_
  std::function<void(Status)> then_;       // guarded by mu_
};

// etcd's waitDeletes: until no key under `prefix` created at or before `max_create_rev`
// is left, watch the newest such key until it is deleted. `then` gets the outcome.
template <typename Self>
void WaitDeletes(std::shared_ptr<Self> self, std::string prefix, int64_t max_create_rev,
                 std::function<void(Status)> then) {
  Member* member = self->member();
  Call(member, &Member::Range, LastCreate(prefix, max_create_rev),
       [self, prefix, max_create_rev, then = std::move(then)](
           Status s, etcdserverpb::RangeResponse& r) mutable {
         if (!s.ok()) return then(std::move(s));
         if (r.kvs_size() == 0) return then(Status::Ok());
         watch::CreateRequest w;
         w.key = r.kvs(0).key();
         w.start_revision = r.header().revision();
         auto deleted = [](watch::Response& resp, Status*) {
           for (const mvcc::Event& e : resp.events) {
             if (e.type == mvcc::Event::Type::kDelete) return true;
           }
           return false;
         };
         self->StartWatch(w, deleted,
                          [self, prefix = std::move(prefix), max_create_rev,
                           then = std::move(then)](Status ws) mutable {
                            if (!ws.ok()) return then(std::move(ws));
                            WaitDeletes(self, std::move(prefix), max_create_rev, std::move(then));
                          });
       });
}

// ---------------------------------------------------------------------------------------
// Lock: etcd's Mutex.Lock.

class LockOp final : public Op {
 public:
  LockOp(Member* member, v3lockpb::LockRequest req, v3lockpb::LockResponse* resp, Done done)
      : Op(member), req_(std::move(req)), resp_(resp), done_(std::move(done)) {}

  Member* member() { return member_; }
  void StartWatch(const watch::CreateRequest& req, Handler h, std::function<void(Status)> then) {
    Watch(req, std::move(h), std::move(then));
  }

  void Start() {
    SessionLease(member_, req_.lease(), [self = Self()](Status s, int64_t lease) {
      if (!s.ok()) return self->End(std::move(s));
      self->Acquire(lease);
    });
  }

 private:
  std::shared_ptr<LockOp> Self() { return std::static_pointer_cast<LockOp>(shared_from_this()); }

  // etcd's tryAcquire: our key (made or found) and the oldest key, in one txn.
  void Acquire(int64_t lease) {
    prefix_ = req_.name() + "/";
    key_ = OwnerKey(prefix_, lease);
    etcdserverpb::TxnRequest txn;
    CompareCreateRevision(&txn, key_, 0);
    AddPut(txn.mutable_success(), key_, "", lease);
    *txn.add_success()->mutable_request_range() = FirstCreate(prefix_);
    txn.add_failure()->mutable_request_range()->set_key(key_);
    *txn.add_failure()->mutable_request_range() = FirstCreate(prefix_);
    Call(member_, &Member::Txn, std::move(txn),
         [self = Self()](Status s, etcdserverpb::TxnResponse& r) {
           if (!s.ok()) return self->End(std::move(s));
           self->Acquired(r);
         });
  }

  void Acquired(const etcdserverpb::TxnResponse& r) {
    if (r.responses_size() != 2 ||
        (!r.succeeded() && r.responses(0).response_range().kvs_size() == 0)) {
      return End(Internal("lock: unexpected txn response"));
    }
    my_rev_ = r.succeeded() ? r.header().revision()
                            : r.responses(0).response_range().kvs(0).create_revision();
    if (cancelled()) return Release(CancelledStatus());
    const auto& owner = r.responses(1).response_range().kvs();
    if (owner.empty() || owner[0].create_revision() == my_rev_) {
      *resp_->mutable_header() = r.header();
      return End(Status::Ok());
    }
    WaitDeletes(Self(), prefix_, my_rev_ - 1, [self = Self()](Status s) {
      if (!s.ok()) return self->Release(std::move(s));
      self->Recheck();
    });
  }

  // After the wait: our key must still be there, or the lease expired meanwhile.
  void Recheck() {
    if (cancelled()) return Release(CancelledStatus());
    etcdserverpb::RangeRequest get;
    get.set_key(key_);
    Call(member_, &Member::Range, std::move(get),
         [self = Self()](Status s, etcdserverpb::RangeResponse& r) {
           if (!s.ok()) return self->Release(std::move(s));
           if (r.kvs_size() == 0) return self->End(SessionExpired());
           if (self->cancelled()) return self->Release(CancelledStatus());
           *self->resp_->mutable_header() = r.header();
           self->End(Status::Ok());
         });
  }

  // etcd's Unlock after a failed wait: delete our key, whatever the outcome.
  void Release(Status why) {
    etcdserverpb::DeleteRangeRequest del;
    del.set_key(key_);
    Call(member_, &Member::DeleteRange, std::move(del),
         [self = Self(), why = std::move(why)](Status, etcdserverpb::DeleteRangeResponse&) {
           self->End(why);
         });
  }

  void End(Status s) {
    if (s.ok()) resp_->set_key(key_);
    Done done = std::move(done_);
    done(ToClientError(s));
  }

  const v3lockpb::LockRequest req_;
  v3lockpb::LockResponse* const resp_;
  Done done_;
  std::string prefix_;
  std::string key_;
  int64_t my_rev_ = 0;
};

// ---------------------------------------------------------------------------------------
// Campaign: etcd's Election.Campaign.

class CampaignOp final : public Op {
 public:
  CampaignOp(Member* member, v3electionpb::CampaignRequest req,
             v3electionpb::CampaignResponse* resp, Done done)
      : Op(member), req_(std::move(req)), resp_(resp), done_(std::move(done)) {}

  Member* member() { return member_; }
  void StartWatch(const watch::CreateRequest& req, Handler h, std::function<void(Status)> then) {
    Watch(req, std::move(h), std::move(then));
  }

  void Start() {
    SessionLease(member_, req_.lease(), [self = Self()](Status s, int64_t lease) {
      if (!s.ok()) return self->End(std::move(s));
      self->Put(lease);
    });
  }

 private:
  std::shared_ptr<CampaignOp> Self() {
    return std::static_pointer_cast<CampaignOp>(shared_from_this());
  }

  void Put(int64_t lease) {
    lease_ = lease;
    prefix_ = req_.name() + "/";
    key_ = OwnerKey(prefix_, lease);
    etcdserverpb::TxnRequest txn;
    CompareCreateRevision(&txn, key_, 0);
    AddPut(txn.mutable_success(), key_, req_.value(), lease);
    txn.add_failure()->mutable_request_range()->set_key(key_);
    Call(member_, &Member::Txn, std::move(txn),
         [self = Self()](Status s, etcdserverpb::TxnResponse& r) {
           if (!s.ok()) return self->End(std::move(s));
           self->Put(r);
         });
  }

  void Put(const etcdserverpb::TxnResponse& r) {
    header_ = r.header();
    leader_rev_ = r.header().revision();
    if (r.succeeded()) return Wait();
    if (r.responses_size() != 1 || r.responses(0).response_range().kvs_size() == 0) {
      return End(Internal("election: unexpected txn response"));
    }
    const mvccpb::KeyValue& kv = r.responses(0).response_range().kvs(0);
    leader_rev_ = kv.create_revision();
    if (kv.value() == req_.value()) return Wait();
    // Our key exists with another value (a second campaign on the lease): proclaim ours.
    etcdserverpb::TxnRequest txn;
    CompareCreateRevision(&txn, key_, leader_rev_);
    AddPut(txn.mutable_success(), key_, req_.value(), lease_);
    Call(member_, &Member::Txn, std::move(txn),
         [self = Self()](Status s, etcdserverpb::TxnResponse& pr) {
           if (!s.ok()) return self->Resign(std::move(s));
           // etcd resigns here too, but with its leader key already cleared: a no-op.
           if (!pr.succeeded()) return self->End(ElectionNotLeader());
           self->Wait();
         });
  }

  void Wait() {
    if (cancelled()) return Resign(CancelledStatus());
    WaitDeletes(Self(), prefix_, leader_rev_ - 1, [self = Self()](Status s) {
      if (s.ok() && self->cancelled()) s = CancelledStatus();
      // etcd resigns only when the caller went away; other failures leave the key.
      if (s.code() == Code::kCancelled) return self->Resign(std::move(s));
      if (!s.ok()) return self->End(std::move(s));
      *self->resp_->mutable_header() = self->header_;
      auto* leader = self->resp_->mutable_leader();
      leader->set_name(self->req_.name());
      leader->set_key(self->key_);
      leader->set_rev(self->leader_rev_);
      leader->set_lease(self->lease_);
      self->End(Status::Ok());
    });
  }

  // etcd's Resign: delete our key if it is still the one we created.
  void Resign(Status why) {
    etcdserverpb::TxnRequest txn;
    CompareCreateRevision(&txn, key_, leader_rev_);
    txn.add_success()->mutable_request_delete_range()->set_key(key_);
    Call(member_, &Member::Txn, std::move(txn),
         [self = Self(), why = std::move(why)](Status, etcdserverpb::TxnResponse&) {
           self->End(why);
         });
  }

  void End(Status s) {
    Done done = std::move(done_);
    done(ToClientError(s));
  }

  const v3electionpb::CampaignRequest req_;
  v3electionpb::CampaignResponse* const resp_;
  Done done_;
  int64_t lease_ = 0;
  std::string prefix_;
  std::string key_;
  int64_t leader_rev_ = 0;
  etcdserverpb::ResponseHeader header_;  // of the first txn, which etcd answers with
};

// ---------------------------------------------------------------------------------------
// Observe: etcd's Election.Observe.

class ObserveOp final : public Op {
 public:
  ObserveOp(Member* member, v3electionpb::LeaderRequest req, ObserveSink sink, Done done)
      : Op(member), prefix_(req.name() + "/"), sink_(std::move(sink)), done_(std::move(done)) {}

  void Start() { FindLeader(); }

 private:
  std::shared_ptr<ObserveOp> Self() {
    return std::static_pointer_cast<ObserveOp>(shared_from_this());
  }

  void FindLeader() {
    if (cancelled()) return End(CancelledStatus());
    Call(member_, &Member::Range, FirstCreate(prefix_),
         [self = Self()](Status s, etcdserverpb::RangeResponse& r) {
           // etcd's observer gives up quietly when a read fails: the stream ends with OK.
           if (!s.ok()) return self->End(Status::Ok());
           if (r.kvs_size() > 0) {
             v3electionpb::LeaderResponse out;
             *out.mutable_header() = r.header();
             *out.mutable_kv() = r.kvs(0);
             const int64_t rev = r.header().revision();
             self->sink_(std::move(out));
             return self->Follow(r.kvs(0).key(), rev);
           }
           self->AwaitFirst(r.header().revision());
         });
  }

  // No leader: the first put under the prefix makes one.
  void AwaitFirst(int64_t from_rev) {
    watch::CreateRequest w;
    w.key = prefix_;
    w.range_end = PrefixEnd(prefix_);
    w.start_revision = from_rev;
    auto key = std::make_shared<std::pair<std::string, int64_t>>();
    Handler first_put = [self = Self(), key](watch::Response& resp, Status*) {
      for (mvcc::Event& e : resp.events) {
        if (e.type != mvcc::Event::Type::kPut) continue;  // a delete would make etcd spin
        v3electionpb::LeaderResponse out;
        self->member_->FillHeader(out.mutable_header());
        // etcd reports the put's own revision, as a batch may hold later ones.
        out.mutable_header()->set_revision(e.kv.mod_revision);
        ToProto(e.kv, out.mutable_kv());
        *key = {e.kv.key, e.kv.mod_revision};
        self->sink_(std::move(out));
        return true;
      }
      return false;
    };
    Watch(w, std::move(first_put), [self = Self(), key](Status s) {
      if (!s.ok()) return self->End(s.code() == Code::kCancelled ? s : Status::Ok());
      self->Follow(key->first, key->second);
    });
  }

  // Reports each new value of the leader's key until it is deleted, then looks again.
  void Follow(const std::string& key, int64_t rev) {
    watch::CreateRequest w;
    w.key = key;
    w.start_revision = rev + 1;
    Handler changes = [self = Self()](watch::Response& resp, Status*) {
      for (mvcc::Event& e : resp.events) {
        if (e.type == mvcc::Event::Type::kDelete) return true;
        v3electionpb::LeaderResponse out;
        self->member_->FillHeader(out.mutable_header());
        out.mutable_header()->set_revision(resp.revision);
        ToProto(e.kv, out.mutable_kv());
        self->sink_(std::move(out));
      }
      return false;
    };
    Watch(w, std::move(changes), [self = Self()](Status s) {
      if (!s.ok()) return self->End(s.code() == Code::kCancelled ? s : Status::Ok());
      self->FindLeader();
    });
  }

  void End(Status s) {
    Done done = std::move(done_);
    done(std::move(s));
  }

  const std::string prefix_;
  ObserveSink sink_;
  Done done_;
};

}  // namespace

// ---------------------------------------------------------------------------------------
// LockElection

std::shared_ptr<Cancellable> LockElection::Lock(const v3lockpb::LockRequest& req,
                                                v3lockpb::LockResponse* resp, Done done) {
  auto op = std::make_shared<LockOp>(member_, req, resp, std::move(done));
  op->Start();
  return op;
}

void LockElection::Unlock(const v3lockpb::UnlockRequest& req, v3lockpb::UnlockResponse* resp,
                          Done done) {
  etcdserverpb::DeleteRangeRequest del;
  del.set_key(req.key());
  Call(member_, &Member::DeleteRange, std::move(del),
       [resp, done = std::move(done)](Status s, etcdserverpb::DeleteRangeResponse& r) {
         if (s.ok()) *resp->mutable_header() = r.header();
         done(ToClientError(s));
       });
}

std::shared_ptr<Cancellable> LockElection::Campaign(const v3electionpb::CampaignRequest& req,
                                                    v3electionpb::CampaignResponse* resp,
                                                    Done done) {
  auto op = std::make_shared<CampaignOp>(member_, req, resp, std::move(done));
  op->Start();
  return op;
}

void LockElection::Proclaim(const v3electionpb::ProclaimRequest& req,
                            v3electionpb::ProclaimResponse* resp, Done done) {
  if (!req.has_leader()) return done(MissingLeaderKey());
  Member* member = member_;
  SessionLease(member, req.leader().lease(),
               [member, req, resp, done = std::move(done)](Status s, int64_t lease) mutable {
                 if (!s.ok()) return done(ToClientError(s));
                 etcdserverpb::TxnRequest txn;
                 CompareCreateRevision(&txn, req.leader().key(), req.leader().rev());
                 AddPut(txn.mutable_success(), req.leader().key(), req.value(), lease);
                 Call(member, &Member::Txn, std::move(txn),
                      [resp, done = std::move(done)](Status ts, etcdserverpb::TxnResponse& r) {
                        if (!ts.ok()) return done(ToClientError(ts));
                        if (!r.succeeded()) return done(ElectionNotLeader());
                        *resp->mutable_header() = r.header();
                        done(Status::Ok());
                      });
               });
}

void LockElection::Leader(const v3electionpb::LeaderRequest& req,
                          v3electionpb::LeaderResponse* resp, Done done) {
  Call(member_, &Member::Range, FirstCreate(req.name() + "/"),
       [resp, done = std::move(done)](Status s, etcdserverpb::RangeResponse& r) {
         if (!s.ok()) return done(ToClientError(s));
         if (r.kvs_size() == 0) return done(ElectionNoLeader());
         *resp->mutable_header() = r.header();
         *resp->mutable_kv() = r.kvs(0);
         done(Status::Ok());
       });
}

void LockElection::Resign(const v3electionpb::ResignRequest& req,
                          v3electionpb::ResignResponse* resp, Done done) {
  if (!req.has_leader()) return done(MissingLeaderKey());
  Member* member = member_;
  // etcd opens a session on the leader's lease first, which grants one for lease 0.
  SessionLease(member, req.leader().lease(),
               [member, req, resp, done = std::move(done)](Status s, int64_t) mutable {
                 if (!s.ok()) return done(ToClientError(s));
                 etcdserverpb::TxnRequest txn;
                 CompareCreateRevision(&txn, req.leader().key(), req.leader().rev());
                 txn.add_success()->mutable_request_delete_range()->set_key(req.leader().key());
                 Call(member, &Member::Txn, std::move(txn),
                      [resp, done = std::move(done)](Status ts, etcdserverpb::TxnResponse& r) {
                        if (!ts.ok()) return done(ToClientError(ts));
                        *resp->mutable_header() = r.header();
                        done(Status::Ok());
                      });
               });
}

std::shared_ptr<Cancellable> LockElection::Observe(const v3electionpb::LeaderRequest& req,
                                                   ObserveSink sink, Done done) {
  auto op = std::make_shared<ObserveOp>(member_, req, std::move(sink), std::move(done));
  op->Start();
  return op;
}

}  // namespace cairn::server
