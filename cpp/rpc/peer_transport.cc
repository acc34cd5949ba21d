// The gRPC peer transport: per-peer streams with bounded queues, snapshots in chunks, and
// the Peer service that feeds the member.
#include "rpc/peer_transport.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <limits>

#include "base/etcd_errors.h"
#include "base/log.h"
#include "rpc/services.h"
#include "server/ids.h"
#include "server/work_queue.h"

namespace cairn::rpc {

namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kMinBackoff = std::chrono::milliseconds(50);
constexpr auto kMaxBackoff = std::chrono::milliseconds(1000);
// Batches queued for one stream are merged into one write up to about this size.
constexpr size_t kCoalesceBytes = 4 << 20;
constexpr char kClusterIdKey[] = "cairn-cluster-id";
// What a member answers a removed member's stream (etcd's errMemberRemoved).
constexpr char kRemovedText[] = "the member has been permanently removed from the cluster";

bool IsRemovedAnswer(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::FAILED_PRECONDITION &&
         s.error_message() == kRemovedText;
}

// A message that can wait behind a large append without harm goes to the bulk stream;
// everything else (heartbeats, votes, responses, empty appends) to the priority stream.
bool IsBulk(const raft::Message& m) {
  return m.type == raft::MessageType::kAppend && !m.entries.empty();
}

Status FromGrpc(const grpc::Status& s) {
  if (s.ok()) return Status::Ok();
  return Status(static_cast<Code>(s.error_code()), s.error_message());
}

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& url) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(std::numeric_limits<int>::max());
  args.SetMaxSendMessageSize(std::numeric_limits<int>::max());
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // A peer that vanished without closing its connections is noticed.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // The connection is kept up between members that have nothing to say to each other
  // (two followers): it is what the strict reconfiguration check counts as connected.
  args.SetInt(GRPC_ARG_CLIENT_IDLE_TIMEOUT_MS, std::numeric_limits<int>::max());
  return grpc::CreateCustomChannel(GrpcTarget(url), grpc::InsecureChannelCredentials(), args);
}

void SetCluster(grpc::ClientContext* ctx, uint64_t cluster_id) {
  ctx->AddMetadata(kClusterIdKey, server::IdToHex(cluster_id));
}

}  // namespace

std::string GrpcTarget(const std::string& url) {
  auto parsed = server::ParseUrl(url);
  if (!parsed.ok()) return url;
  if (parsed->scheme == "unix" || parsed->scheme == "unixs") return "unix:" + parsed->host;
  if (parsed->host.find(':') != std::string::npos) {
    return "[" + parsed->host + "]:" + std::to_string(parsed->port);
  }
  return parsed->host + ":" + std::to_string(parsed->port);
}

// ---------------------------------------------------------------------------------------
// One remote member

class PeerTransport::Peer {
 public:
  Peer(PeerTransport* t, uint64_t id, std::vector<std::string> urls)
      : t_(t), id_(id), urls_(std::move(urls)) {
    Connect();
    for (Lane* lane : {&priority_, &bulk_}) {
      lane->thread = std::thread([this, lane] {
        server::NameThisThread(lane == &priority_ ? "peer-priority" : "peer-bulk");
        Run(lane);
      });
    }
    monitor_ = std::thread([this] {
      server::NameThisThread("peer-monitor");
      Monitor();
    });
  }
  ~Peer() { Join(); }

  uint64_t id() const { return id_; }

  void SetUrls(std::vector<std::string> urls) {
    std::lock_guard lock(mu_);
    if (urls == urls_) return;
    urls_ = std::move(urls);
    url_index_ = 0;
    Connect();
  }

  // Queues one batch per stream; false when a queue was full (the batch is dropped).
  bool Enqueue(std::vector<raft::Message> messages) {
    peer::RaftBatch small, large;
    size_t large_bytes = 0;
    for (const raft::Message& m : messages) {
      std::string bytes = raft::EncodeMessage(m);
      if (IsBulk(m)) {
        large_bytes += bytes.size();
        large.add_messages(std::move(bytes));
      } else {
        small.add_messages(std::move(bytes));
      }
    }
    bool ok = true;
    if (small.messages_size() > 0) ok &= Push(&priority_, std::move(small), 0);
    if (large.messages_size() > 0) ok &= Push(&bulk_, std::move(large), large_bytes);
    return ok;
  }

  void RequestStop() {
    std::lock_guard lock(mu_);
    stop_ = true;
    for (Lane* lane : {&priority_, &bulk_}) {
      if (lane->ctx) lane->ctx->TryCancel();
    }
    if (snapshot_ctx_) snapshot_ctx_->TryCancel();
    priority_.cv.notify_all();
    bulk_.cv.notify_all();
  }

  void Join() {
    RequestStop();
    for (Lane* lane : {&priority_, &bulk_}) {
      if (lane->thread.joinable()) lane->thread.join();
    }
    if (snapshot_thread_.joinable()) snapshot_thread_.join();
    if (monitor_.joinable()) monitor_.join();
  }

  std::optional<Clock::time_point> ActiveSince() const {
    std::lock_guard lock(mu_);
    return active_since_;
  }

  // Starts sending a snapshot unless one is on its way (then the new one fails at once).
  void SendSnapshot(raft::Message message, std::unique_ptr<server::SnapshotSource> body) {
    std::unique_lock lock(mu_);
    if (stop_ || snapshot_busy_) {
      lock.unlock();
      t_->events_->ReportSnapshot(id_, false);
      return;
    }
    snapshot_busy_ = true;
    if (snapshot_thread_.joinable()) snapshot_thread_.join();  // the last one has ended
    snapshot_thread_ = std::thread([this, m = std::move(message), b = std::move(body)]() mutable {
      server::NameThisThread("peer-snapshot");
      RunSnapshot(std::move(m), std::move(b));
    });
  }

  std::shared_ptr<peer::Peer::Stub> stub() {
    std::lock_guard lock(mu_);
    return stub_;
  }

  PeerStats stats() const {
    std::lock_guard lock(mu_);
    return stats_;
  }

 private:
  struct Lane {
    std::deque<std::pair<peer::RaftBatch, size_t>> queue;  // guarded by mu_; with bytes
    size_t queued_bytes = 0;                               // guarded by mu_
    grpc::ClientContext* ctx = nullptr;  // guarded by mu_; the open stream's, to cancel it
    std::condition_variable cv;          // with mu_: a batch queued, or stop
    std::thread thread;
  };

  void Connect() {
    channel_ = MakeChannel(urls_[url_index_ % urls_.size()]);
    stub_ = peer::Peer::NewStub(channel_);
  }

  // Follows the connection to the peer, keeping it up, and records since when it has been
  // up without a break (etcd's ActiveSince: a peer becomes active when its stream connects).
  // It waits in WaitForStateChange, which makes it one of gRPC's pollers: no other thread
  // of this process polls the channel between writes (the peer server is rpc/h2's), and
  // without one a new connection waits for gRPC's backup poller (5 s) and a peer that went
  // away is noticed only by the next write that fails. What it reads is little: window
  // updates and pings. (With the Peer service on grpc++, a poller here took a share of the
  // server's reads: 6-8 us of CPU per linearizable range on each of 3 members.)
  void Monitor() {
    constexpr auto kPoll = std::chrono::milliseconds(100);
    std::shared_ptr<grpc::Channel> channel;
    std::unique_lock lock(mu_);
    while (!stop_) {
      if (channel != channel_) {
        // Other URLs: a new connection, which has to prove itself again.
        channel = channel_;
        SetActiveLocked(false);
      }
      lock.unlock();
      // Asks for a connection when there is none (after the peer dropped it, say).
      const grpc_connectivity_state state = channel->GetState(/*try_to_connect=*/true);
      lock.lock();
      if (channel == channel_) SetActiveLocked(state == GRPC_CHANNEL_READY);
      if (stop_) break;
      lock.unlock();
      channel->WaitForStateChange(state, std::chrono::system_clock::now() + kPoll);
      lock.lock();
    }
  }

  void SetActiveLocked(bool active) {
    if (active == active_since_.has_value()) return;
    if (active) {
      active_since_ = Clock::now();
      log::Info("peer became active", {{"peer", server::IdToHex(id_)}});
    } else {
      active_since_.reset();
      log::Info("peer became inactive", {{"peer", server::IdToHex(id_)}});
    }
  }

  bool Push(Lane* lane, peer::RaftBatch batch, size_t bytes) {
    std::lock_guard lock(mu_);
    if (stop_) return false;
    if (lane->queue.size() >= t_->options_.max_queued_batches ||
        (bytes > 0 && lane->queued_bytes + bytes > t_->options_.max_queued_bytes &&
         !lane->queue.empty())) {
      stats_.messages_dropped += static_cast<uint64_t>(batch.messages_size());
      return false;
    }
    batch.set_cluster_id(t_->cluster_id_);
    batch.set_from(t_->member_id_);
    batch.set_to(id_);
    lane->queued_bytes += bytes;
    lane->queue.emplace_back(std::move(batch), bytes);
    lane->cv.notify_one();
    return true;
  }

  // One stream's sender: writes queued batches in order; on a failure drops what is queued,
  // reports the peer unreachable, waits out the back-off and opens a new stream.
  void Run(Lane* lane) {
    auto backoff = kMinBackoff;
    std::unique_ptr<grpc::ClientContext> ctx;
    std::unique_ptr<grpc::ClientWriter<peer::RaftBatch>> writer;
    peer::RaftAck ack;
    while (true) {
      peer::RaftBatch batch;
      std::shared_ptr<peer::Peer::Stub> stub;
      {
        std::unique_lock lock(mu_);
        lane->cv.wait(lock, [&] { return stop_ || !lane->queue.empty(); });
        if (stop_) break;
        batch = std::move(lane->queue.front().first);
        lane->queued_bytes -= lane->queue.front().second;
        lane->queue.pop_front();
        // What queued up behind it while the last write was under way goes in the same
        // write: each write costs a syscall and a wake-up of the receiver.
        size_t bytes = 0;
        while (!lane->queue.empty() && bytes < kCoalesceBytes) {
          auto& [next, next_bytes] = lane->queue.front();
          for (std::string& m : *next.mutable_messages()) {
            bytes += m.size();
            batch.add_messages(std::move(m));
          }
          lane->queued_bytes -= next_bytes;
          lane->queue.pop_front();
        }
        if (!writer) {
          ctx = std::make_unique<grpc::ClientContext>();
          SetCluster(ctx.get(), t_->cluster_id_);
          // The metadata goes with the first write: opening the stream does not wait.
          ctx->set_initial_metadata_corked(true);
          lane->ctx = ctx.get();
          stub = stub_;
        }
      }
      if (!writer) writer = stub->Raft(ctx.get(), &ack);
      const int n = batch.messages_size();
      if (writer->Write(batch)) {
        std::lock_guard lock(mu_);
        stats_.batches_sent++;
        stats_.messages_sent += static_cast<uint64_t>(n);
        backoff = kMinBackoff;
        continue;
      }
      grpc::Status status = writer->Finish();
      writer.reset();
      if (IsRemovedAnswer(status)) t_->events_->ReportRemoved();
      std::deque<std::pair<peer::RaftBatch, size_t>> dropped;
      {
        std::lock_guard lock(mu_);
        lane->ctx = nullptr;
        stats_.stream_failures++;
        dropped.swap(lane->queue);
        lane->queued_bytes = 0;
        uint64_t lost = static_cast<uint64_t>(n);
        for (const auto& b : dropped) lost += static_cast<uint64_t>(b.first.messages_size());
        stats_.messages_dropped += lost;
        if (stop_) break;
        // Another of the peer's URLs may answer where this one did not.
        if (urls_.size() > 1) {
          ++url_index_;
          Connect();
        }
      }
      ctx.reset();
      log::Debug("peer stream failed",
                 {{"peer", server::IdToHex(id_)}, {"error", status.error_message()}});
      t_->events_->ReportUnreachable(id_);
      std::unique_lock lock(mu_);
      lane->cv.wait_for(lock, backoff, [&] { return stop_; });
      if (stop_) break;
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, kMaxBackoff);
    }
    if (writer) {
      {
        std::lock_guard lock(mu_);
        lane->ctx = nullptr;
      }
      if (ctx) ctx->TryCancel();
      writer->Finish().ok();
    }
  }

  void RunSnapshot(raft::Message message, std::unique_ptr<server::SnapshotSource> body) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    SetCluster(ctx.get(), t_->cluster_id_);
    std::shared_ptr<peer::Peer::Stub> stub;
    {
      std::lock_guard lock(mu_);
      if (stop_) {
        snapshot_busy_ = false;
        return;
      }
      snapshot_ctx_ = ctx.get();
      stub = stub_;
    }
    const uint64_t to = message.to;
    peer::SnapshotAck ack;
    auto writer = stub->Snapshot(ctx.get(), &ack);
    peer::SnapshotChunk chunk;
    chunk.set_cluster_id(t_->cluster_id_);
    chunk.set_from(t_->member_id_);
    chunk.set_to(to);
    message.snapshot.data.clear();
    chunk.set_message(raft::EncodeMessage(message));
    chunk.set_total_bytes(body->total_bytes());
    bool ok = true;
    uint64_t sent = 0;
    std::string piece;
    while (ok) {
      Status s = body->Read(t_->options_.snapshot_chunk_bytes, &piece);
      if (!s.ok()) {
        log::Error("cannot read the snapshot to send", {{"error", s.ToString()}});
        ok = false;
        break;
      }
      if (piece.empty() && sent > 0) break;
      chunk.set_data(piece);
      sent += piece.size();
      // Blocks while the receiver's window is full: the back-pressure.
      ok = writer->Write(chunk);
      chunk.clear_message();
      chunk.clear_total_bytes();
      if (piece.empty()) break;
    }
    if (ok) ok = writer->WritesDone();
    grpc::Status status = writer->Finish();
    ok = ok && status.ok();
    if (IsRemovedAnswer(status)) t_->events_->ReportRemoved();
    if (!ok) {
      log::Warn("snapshot not delivered",
                {{"peer", server::IdToHex(to)}, {"error", status.error_message()}});
    } else {
      log::Info("snapshot delivered", {{"peer", server::IdToHex(to)}, {"bytes", sent}});
    }
    {
      std::lock_guard lock(mu_);
      snapshot_ctx_ = nullptr;
      snapshot_busy_ = false;
    }
    t_->events_->ReportSnapshot(to, ok);
  }

  PeerTransport* const t_;
  const uint64_t id_;

  mutable std::mutex mu_;
  bool stop_ = false;                              // guarded by mu_
  std::vector<std::string> urls_;                  // guarded by mu_
  size_t url_index_ = 0;                           // guarded by mu_
  std::shared_ptr<grpc::Channel> channel_;         // guarded by mu_
  std::shared_ptr<peer::Peer::Stub> stub_;         // guarded by mu_; over channel_
  std::optional<Clock::time_point> active_since_;  // guarded by mu_
  PeerStats stats_;                                // guarded by mu_
  Lane priority_;
  Lane bulk_;
  bool snapshot_busy_ = false;                   // guarded by mu_
  grpc::ClientContext* snapshot_ctx_ = nullptr;  // guarded by mu_
  std::thread snapshot_thread_;
  std::thread monitor_;
};

// ---------------------------------------------------------------------------------------
// PeerTransport

PeerTransport::PeerTransport(PeerTransportOptions options) : options_(options) {}

PeerTransport::~PeerTransport() {
  Stop();
}

Status PeerTransport::Start(uint64_t cluster_id, uint64_t member_id,
                            server::TransportEvents* events) {
  cluster_id_ = cluster_id;
  member_id_ = member_id;
  events_ = events;
  return Status::Ok();
}

void PeerTransport::Stop() {
  if (stopped_.exchange(true)) return;
  std::vector<std::shared_ptr<Peer>> all;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, p] : peers_) all.push_back(p);
    for (auto& p : removed_) all.push_back(p);
    peers_.clear();
    removed_.clear();
  }
  for (auto& p : all) p->RequestStop();
  for (auto& p : all) p->Join();
}

void PeerTransport::SetPeer(uint64_t id, const std::vector<std::string>& peer_urls) {
  if (peer_urls.empty() || id == member_id_ || stopped_) return;
  std::lock_guard lock(mu_);
  auto it = peers_.find(id);
  if (it != peers_.end()) {
    it->second->SetUrls(peer_urls);
    return;
  }
  peers_.emplace(id, std::make_shared<Peer>(this, id, peer_urls));
}

void PeerTransport::RemovePeer(uint64_t id) {
  std::lock_guard lock(mu_);
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  // Joined by Stop: the caller (the raft thread) must not wait on a stream.
  it->second->RequestStop();
  removed_.push_back(std::move(it->second));
  peers_.erase(it);
}

std::shared_ptr<PeerTransport::Peer> PeerTransport::FindPeer(uint64_t id) const {
  std::lock_guard lock(mu_);
  auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : it->second;
}

void PeerTransport::Send(std::vector<raft::Message> messages) {
  if (stopped_) return;
  std::map<uint64_t, std::vector<raft::Message>> by_peer;
  for (raft::Message& m : messages) by_peer[m.to].push_back(std::move(m));
  for (auto& [to, batch] : by_peer) {
    auto peer = FindPeer(to);
    if (!peer || !peer->Enqueue(std::move(batch))) events_->ReportUnreachable(to);
  }
}

void PeerTransport::SendSnapshot(raft::Message message,
                                 std::unique_ptr<server::SnapshotSource> body) {
  auto peer = stopped_ ? nullptr : FindPeer(message.to);
  if (!peer) {
    if (events_ != nullptr) events_->ReportSnapshot(message.to, false);
    return;
  }
  peer->SendSnapshot(std::move(message), std::move(body));
}

std::optional<Clock::time_point> PeerTransport::ActiveSince(uint64_t id) const {
  auto p = FindPeer(id);
  return p ? p->ActiveSince() : std::nullopt;
}

PeerStats PeerTransport::stats(uint64_t peer) const {
  auto p = FindPeer(peer);
  return p ? p->stats() : PeerStats{};
}

namespace {

// A unary call through gRPC's callback API: the context and stub live until `done` ran.
// `invoke(stub, ctx, req, resp, callback)` starts the call.
template <typename Req, typename Resp, typename Invoke>
void ForwardCall(std::shared_ptr<peer::Peer::Stub> stub, uint64_t cluster_id, int timeout_ms,
                 const Req& req, Resp* resp, server::Done done, Invoke invoke) {
  struct Call {
    std::shared_ptr<peer::Peer::Stub> stub;
    grpc::ClientContext ctx;
    Req req;
    server::Done done;
  };
  auto* call = new Call{std::move(stub), {}, req, std::move(done)};
  SetCluster(&call->ctx, cluster_id);
  call->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
  invoke(call->stub.get(), &call->ctx, &call->req, resp, [call](grpc::Status s) {
    Status status = FromGrpc(s);
    if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
        (s.error_code() == grpc::StatusCode::UNAVAILABLE &&
         s.error_message().rfind("etcdserver: ", 0) != 0)) {
      // The leader did not answer in time or could not be reached: etcd's wording.
      status = etcd::Timeout();
    }
    call->done(status);
    delete call;
  });
}

}  // namespace

void PeerTransport::LeaseTimeToLive(uint64_t to, const etcdserverpb::LeaseTimeToLiveRequest& req,
                                    etcdserverpb::LeaseTimeToLiveResponse* resp,
                                    server::Done done) {
  auto peer = FindPeer(to);
  if (!peer) return done(etcd::NoLeader());
  ForwardCall(peer->stub(), cluster_id_, options_.call_timeout_ms, req, resp, std::move(done),
              [](peer::Peer::Stub* stub, grpc::ClientContext* ctx,
                 const etcdserverpb::LeaseTimeToLiveRequest* r,
                 etcdserverpb::LeaseTimeToLiveResponse* out, std::function<void(grpc::Status)> cb) {
                stub->async()->LeaseTimeToLive(ctx, r, out, std::move(cb));
              });
}

void PeerTransport::LearnerReady(uint64_t to, uint64_t id, server::Done done) {
  auto peer = FindPeer(to);
  if (!peer) return done(etcd::NoLeader());
  etcdserverpb::MemberPromoteRequest req;
  req.set_id(id);
  // The call outlives this frame: the answer it fills lives until `done` has run.
  auto resp = std::make_shared<etcdserverpb::MemberPromoteResponse>();
  ForwardCall(
      peer->stub(), cluster_id_, options_.call_timeout_ms, req, resp.get(),
      [resp, done = std::move(done)](Status s) { done(s); },
      [](peer::Peer::Stub* stub, grpc::ClientContext* ctx,
         const etcdserverpb::MemberPromoteRequest* r, etcdserverpb::MemberPromoteResponse* out,
         std::function<void(grpc::Status)> cb) {
        stub->async()->LearnerReady(ctx, r, out, std::move(cb));
      });
}

void PeerTransport::LeaseLeases(uint64_t to, etcdserverpb::LeaseLeasesResponse* resp,
                                server::Done done) {
  auto peer = FindPeer(to);
  if (!peer) return done(etcd::NoLeader());
  ForwardCall(peer->stub(), cluster_id_, options_.call_timeout_ms,
              etcdserverpb::LeaseLeasesRequest(), resp, std::move(done),
              [](peer::Peer::Stub* stub, grpc::ClientContext* ctx,
                 const etcdserverpb::LeaseLeasesRequest* r, etcdserverpb::LeaseLeasesResponse* out,
                 std::function<void(grpc::Status)> cb) {
                stub->async()->LeaseLeases(ctx, r, out, std::move(cb));
              });
}

void PeerTransport::LeaseKeepAlive(uint64_t to, const etcdserverpb::LeaseKeepAliveRequest& req,
                                   etcdserverpb::LeaseKeepAliveResponse* resp, server::Done done) {
  auto peer = FindPeer(to);
  if (!peer) return done(etcd::NoLeader());
  ForwardCall(peer->stub(), cluster_id_, options_.call_timeout_ms, req, resp, std::move(done),
              [](peer::Peer::Stub* stub, grpc::ClientContext* ctx,
                 const etcdserverpb::LeaseKeepAliveRequest* r,
                 etcdserverpb::LeaseKeepAliveResponse* out, std::function<void(grpc::Status)> cb) {
                stub->async()->LeaseKeepAlive(ctx, r, out, std::move(cb));
              });
}

Result<server::RemoteCluster> PeerTransport::FetchCluster(
    const std::vector<std::string>& peer_urls) {
  Status last = Unavailable("no peer URL to ask");
  for (const std::string& url : peer_urls) {
    auto stub = peer::Peer::NewStub(MakeChannel(url));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(options_.call_timeout_ms));
    peer::ClusterRequest req;
    peer::ClusterResponse resp;
    grpc::Status s = stub->Cluster(&ctx, req, &resp);
    if (!s.ok()) {
      last = Unavailable("cannot fetch the cluster's membership from " + url + ": " +
                         s.error_message());
      continue;
    }
    server::RemoteCluster rc;
    rc.cluster_id = resp.cluster_id();
    rc.members.assign(resp.members().begin(), resp.members().end());
    return rc;
  }
  return last;
}

// ---------------------------------------------------------------------------------------
// The Peer service

namespace {

Status CheckCluster(const h2::CallInfo& info, uint64_t cluster_id) {
  const std::string* id = info.metadata(kClusterIdKey);
  if (!id) return InvalidArgument("missing " + std::string(kClusterIdKey));
  if (*id != server::IdToHex(cluster_id)) return etcd::ClusterIdMismatch();
  return Status::Ok();
}

Status RemovedAnswer(uint64_t from) {
  log::Warn("rejected the messages of a removed member", {{"from", server::IdToHex(from)}});
  return FailedPrecondition(kRemovedText);
}

// Reads one member's raft stream: every batch's messages go to the member as they come.
class RaftReader final : public h2::ServerStream<peer::RaftBatch, peer::RaftAck> {
 public:
  explicit RaftReader(server::PeerHandler* handler) : handler_(handler) {}
  void OnStart(const h2::CallInfo& info) override {
    if (Status s = CheckCluster(info, handler_->cluster_id()); !s.ok()) End(std::move(s));
  }
  void OnRead(const peer::RaftBatch& batch) override {
    if (ended_) return;
    if (handler_->IsRemovedMember(batch.from())) return End(RemovedAnswer(batch.from()));
    std::vector<raft::Message> messages;
    messages.reserve(static_cast<size_t>(batch.messages_size()));
    for (const std::string& bytes : batch.messages()) {
      auto m = raft::DecodeMessage(bytes);
      if (!m.ok()) return End(m.status());
      messages.push_back(std::move(*m));
    }
    handler_->StepBatch(std::move(messages));
  }
  void OnReadsDone() override {
    if (ended_) return;
    Write(peer::RaftAck());
    End(Status::Ok());
  }

 private:
  void End(Status s) {
    ended_ = true;
    Finish(std::move(s));
  }
  server::PeerHandler* handler_;
  bool ended_ = false;
};

// Receives one snapshot into the handler's sink; the answer says whether it was taken.
class SnapshotReceiver final : public h2::ServerStream<peer::SnapshotChunk, peer::SnapshotAck> {
 public:
  explicit SnapshotReceiver(server::PeerHandler* handler) : handler_(handler) {}
  void OnStart(const h2::CallInfo& info) override {
    if (Status s = CheckCluster(info, handler_->cluster_id()); !s.ok()) End(std::move(s));
  }
  void OnRead(const peer::SnapshotChunk& chunk) override {
    if (ended_) return;
    if (!sink_) {
      if (handler_->IsRemovedMember(chunk.from())) return End(RemovedAnswer(chunk.from()));
      auto m = raft::DecodeMessage(chunk.message());
      if (!m.ok()) return End(m.status());
      total_ = chunk.total_bytes();
      auto sink = handler_->ReceiveSnapshot(std::move(*m), total_);
      if (!sink.ok()) return End(sink.status());
      sink_ = std::move(*sink);
    }
    received_ += chunk.data().size();
    if (Status s = sink_->Write(chunk.data()); !s.ok()) return End(std::move(s));
  }
  void OnReadsDone() override {
    if (ended_) return;
    Status s = sink_ ? (received_ == total_ ? sink_->Finish() : DataLoss("snapshot ended early"))
                     : InvalidArgument("empty snapshot stream");
    if (s.ok()) Write(peer::SnapshotAck());
    End(std::move(s));
  }

 private:
  void End(Status s) {
    ended_ = true;
    sink_.reset();  // dropped without Finish, it leaves nothing behind
    Finish(std::move(s));
  }
  server::PeerHandler* handler_;
  std::unique_ptr<server::SnapshotSink> sink_;
  uint64_t total_ = 0;
  uint64_t received_ = 0;
  bool ended_ = false;
};

// A unary call of a peer, answered by the handler at once.
template <typename Req, typename Resp, typename Fn>
void AddPeerUnary(h2::Server* server, server::PeerHandler* handler, std::string method, Fn fn) {
  server->AddUnary<Req, Resp>(
      "/cairn.peer.Peer/" + method,
      [handler, fn](const h2::CallInfo& info, const Req& req, Resp* resp, h2::Done done) {
        Status s = CheckCluster(info, handler->cluster_id());
        if (!s.ok()) return done(s);
        fn(req, resp, std::move(done));
      });
}

}  // namespace

Result<std::unique_ptr<PeerServer>> PeerServer::Start(server::PeerHandler* handler,
                                                      const std::vector<server::Url>& urls) {
  std::unique_ptr<PeerServer> ps(new PeerServer());
  h2::Options options;
  // Peers are few: one loop serves them all, without hand-offs between threads.
  options.threads = 1;
  // A batch of entries may be large; the sender bounds it, not the receiver.
  options.max_receive_message_bytes = std::numeric_limits<int32_t>::max();
  ps->server_ = std::make_unique<h2::Server>(options);
  h2::Server* server = ps->server_.get();
  server->AddStream<RaftReader>("/cairn.peer.Peer/Raft",
                                [handler] { return std::make_shared<RaftReader>(handler); });
  server->AddStream<SnapshotReceiver>("/cairn.peer.Peer/Snapshot", [handler] {
    return std::make_shared<SnapshotReceiver>(handler);
  });
  // A joining member does not know the cluster's id yet: no check on Cluster.
  server->AddUnary<peer::ClusterRequest, peer::ClusterResponse>(
      "/cairn.peer.Peer/Cluster", [handler](const h2::CallInfo&, const peer::ClusterRequest&,
                                            peer::ClusterResponse* resp, h2::Done done) {
        server::RemoteCluster view = handler->ClusterView();
        resp->set_cluster_id(view.cluster_id);
        for (auto& m : view.members) *resp->add_members() = std::move(m);
        done(Status::Ok());
      });
  using namespace etcdserverpb;
  AddPeerUnary<LeaseTimeToLiveRequest, LeaseTimeToLiveResponse>(
      server, handler, "LeaseTimeToLive", [handler](const auto& req, auto* resp, h2::Done done) {
        handler->LeaderLeaseTimeToLive(req, resp, std::move(done));
      });
  AddPeerUnary<LeaseLeasesRequest, LeaseLeasesResponse>(
      server, handler, "LeaseLeases", [handler](const auto&, auto* resp, h2::Done done) {
        handler->LeaderLeaseLeases(resp, std::move(done));
      });
  AddPeerUnary<LeaseKeepAliveRequest, LeaseKeepAliveResponse>(
      server, handler, "LeaseKeepAlive", [handler](const auto& req, auto* resp, h2::Done done) {
        handler->LeaderLeaseKeepAlive(req, resp, std::move(done));
      });
  AddPeerUnary<MemberPromoteRequest, MemberPromoteResponse>(
      server, handler, "LearnerReady",
      [handler](const auto& req, auto*, h2::Done done) { done(handler->LearnerReady(req.id())); });
  CAIRN_ASSIGN_OR_RETURN(ps->ports_, ListenOn(server, urls));
  CAIRN_RETURN_IF_ERROR(server->Start());
  return ps;
}

PeerServer::~PeerServer() {
  Shutdown();
}

void PeerServer::Shutdown() {
  if (server_) {
    server_->Shutdown(std::chrono::milliseconds(500));
    server_.reset();
  }
}

}  // namespace cairn::rpc
