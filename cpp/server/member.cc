// The member's threads: raft (ticks, proposals, ReadIndex, Ready), apply, readers, compactor.
#include "server/member.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>
#include <set>

#include <google/protobuf/io/coded_stream.h>

#include "base/etcd_errors.h"
#include "base/log.h"
#include "lease/lease_store.h"
#include "mvcc/check.h"
#include "raft/raft_core.h"
#include "server/convert.h"
#include "server/ids.h"
#include "server/version.h"

namespace cairn::server {

namespace {

using Clock = std::chrono::steady_clock;

// A ReadIndex round that got no answer (say, the leader changed) is asked again after this.
constexpr auto kReadIndexRetry = std::chrono::milliseconds(500);
// The apply thread checkpoints the state tables this often, between entries, so that every
// checkpoint holds whole entries.
constexpr auto kCheckpointInterval = std::chrono::seconds(30);
// Entries kept in the raft log below the last checkpointed applied index, so a follower
// that lags a little catches up from the log rather than a snapshot (etcd's
// SnapshotCatchUpEntries).
constexpr uint64_t kLogCatchUpEntries = 5000;
// Bounds on the lease work the leader proposes per tick.
constexpr size_t kMaxRevokesPerTick = 100;
constexpr size_t kMaxCheckpointsPerTick = 1000;

// Where a member keeps its identity and the cluster's membership, in the meta table.
constexpr std::string_view kMembershipKey = "cairn_membership";
constexpr std::string_view kAlarmsKey = "cairn_alarms";

// etcd's quota costs: what a request may add to the database, in bytes.
constexpr int64_t kPutCostOverhead = 256;
constexpr int64_t kLeaseCost = 64;

int64_t PutCost(const etcdserverpb::PutRequest& put) {
  return kPutCostOverhead + static_cast<int64_t>(put.key().size() + put.value().size());
}

// The larger of the two branches' puts, nested txns included.
int64_t TxnCost(const etcdserverpb::TxnRequest& txn) {
  auto branch = [](const auto& ops) {
    int64_t cost = 0;
    for (const etcdserverpb::RequestOp& op : ops) {
      if (op.has_request_put()) cost += PutCost(op.request_put());
      if (op.has_request_txn()) cost += TxnCost(op.request_txn());
    }
    return cost;
  };
  return std::max(branch(txn.success()), branch(txn.failure()));
}

// What a request may add to the database; 0 for those that add nothing.
int64_t QuotaCost(const cairn::internal::Request& req) {
  switch (req.request_case()) {
    case cairn::internal::Request::kPut: return PutCost(req.put());
    case cairn::internal::Request::kTxn: return TxnCost(req.txn());
    case cairn::internal::Request::kLeaseGrant: return kLeaseCost;
    default: return 0;
  }
}

bool AnyNospace(const std::vector<etcdserverpb::AlarmMember>& alarms) {
  return std::any_of(alarms.begin(), alarms.end(),
                     [](const auto& a) { return a.alarm() == etcdserverpb::NOSPACE; });
}
// How long a member waits before announcing itself again when its publish did not apply.
constexpr auto kPublishRetry = std::chrono::seconds(2);

std::string JoinTexts(std::vector<std::string> texts) {
  std::sort(texts.begin(), texts.end());
  std::string out;
  for (const std::string& t : texts) out += (out.empty() ? "" : ",") + t;
  return out;
}

std::vector<std::string> UrlTexts(const std::vector<Url>& urls) {
  std::vector<std::string> out;
  for (const Url& u : urls) out.push_back(u.text);
  return out;
}

MemberInfo FromRecord(const cairn::internal::MemberRecord& r) {
  MemberInfo info;
  info.id = r.id();
  info.name = r.name();
  info.peer_urls.assign(r.peer_urls().begin(), r.peer_urls().end());
  info.client_urls.assign(r.client_urls().begin(), r.client_urls().end());
  info.is_learner = r.is_learner();
  return info;
}

cairn::internal::MemberRecord ToRecord(const MemberInfo& m) {
  cairn::internal::MemberRecord r;
  r.set_id(m.id);
  r.set_name(m.name);
  for (const std::string& u : m.peer_urls) r.add_peer_urls(u);
  for (const std::string& u : m.client_urls) r.add_client_urls(u);
  r.set_is_learner(m.is_learner);
  return r;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
      .count();
}

// Parses a raft entry's request. gRPC parsed the client's request with protobuf's default
// recursion limit (100); the entry wraps it in one more message, so the limit here is
// higher: whatever a client could send must parse again at apply.
bool ParseRequest(std::string_view data, cairn::internal::Request* req) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(data.data()),
                                            static_cast<int>(data.size()));
  in.SetRecursionLimit(1000);
  return req->ParseFromCodedStream(&in) && in.ConsumedEntireMessage();
}

// The id of an entry that does not parse, so its caller hears of it rather than waiting
// forever: Request.id is field 1, which protobuf writes first.
uint64_t RecoverRequestId(std::string_view data) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(data.data()),
                                            static_cast<int>(data.size()));
  uint64_t id = 0;
  if (in.ReadTag() == (1 << 3) && in.ReadVarint64(&id)) return id;
  return 0;
}

std::string EncodeReadContext(uint64_t seq) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(seq >> (56 - 8 * i));
  return out;
}

uint64_t DecodeReadContext(const std::string& ctx) {
  uint64_t seq = 0;
  for (unsigned char c : ctx) seq = (seq << 8) | c;
  return seq;
}

// The size of the database files (etcd's dbSize is its bbolt file), without WiredTiger's
// journal, whose files are preallocated at a fixed size.
int64_t DatabaseSize(const std::string& dir) {
  std::error_code ec;
  int64_t total = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec) && entry.path().extension() == ".wt") {
      total += static_cast<int64_t>(entry.file_size(ec));
    }
  }
  return total;
}

thread_local Clock::time_point call_deadline = Clock::time_point::max();

}  // namespace

CallDeadline::CallDeadline(Clock::time_point deadline) : previous_(call_deadline) {
  call_deadline = std::min(previous_, deadline);
}

CallDeadline::~CallDeadline() {
  call_deadline = previous_;
}

Clock::time_point CallDeadline::Current() {
  return call_deadline;
}

Member::Member(const Config& config, std::unique_ptr<Transport> transport)
    : config_(config),
      transport_(std::move(transport)),
      tick_(config.heartbeat_interval_ms),
      // etcd's request timeout: 5 s plus two election timeouts.
      request_timeout_(5000 + 2 * std::chrono::milliseconds::rep{config.election_timeout_ms}) {}

Member::~Member() {
  Stop();
}

Result<std::unique_ptr<Member>> Member::Start(const Config& given,
                                              std::unique_ptr<Transport> transport) {
  Config config = given;
  CAIRN_RETURN_IF_ERROR(Validate(&config));
  std::unique_ptr<Member> member(new Member(config, std::move(transport)));
  CAIRN_RETURN_IF_ERROR(member->Open());
  Member* m = member.get();
  m->raft_thread_ = std::thread([m] {
    NameThisThread("cairn-raft");
    m->RaftLoop();
  });
  m->apply_thread_ = std::thread([m] {
    NameThisThread("cairn-apply");
    m->ApplyLoop();
  });
  m->compactor_thread_ = std::thread([m] {
    NameThisThread("cairn-compact");
    m->CompactorLoop();
  });
  log::Info("member started", {{"name", config.name},
                               {"member-id", IdToHex(m->id_)},
                               {"cluster-id", IdToHex(m->cluster_id_)},
                               {"data-dir", config.EffectiveDataDir()},
                               {"applied-index", m->applied_.load()}});
  return member;
}

Status Member::Open() {
  const std::string dir = config_.EffectiveDataDir();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Internal("cannot create data directory " + dir + ": " + ec.message());
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);

  storage::DbOptions db_options;
  db_options.checkpoint_interval_s = 0;  // the apply thread checkpoints between entries
  CAIRN_ASSIGN_OR_RETURN(db_, storage::Db::Open(dir, db_options));
  CAIRN_ASSIGN_OR_RETURN(log_store_, storage::LogStore::Open(db_.get()));
  CAIRN_ASSIGN_OR_RETURN(store_, mvcc::Store::Open(db_.get()));
  const int election_ticks = static_cast<int>(
      std::max<uint32_t>(2, config_.election_timeout_ms / config_.heartbeat_interval_ms));
  lease_options_.min_ttl_s = lease::MinLeaseTTL(election_ticks, config_.heartbeat_interval_ms);
  CAIRN_ASSIGN_OR_RETURN(lessor_, lease::Lessor::Open(db_.get(), lease_options_));
  watch::HubOptions hub_options;
  // etcd fragments watch responses past --max-request-bytes plus gRPC's overhead.
  hub_options.max_request_bytes = config_.max_request_bytes + 512 * 1024;
  hub_options.progress_interval =
      std::chrono::milliseconds(config_.watch_progress_notify_interval_ms);
  CAIRN_ASSIGN_OR_RETURN(hub_, watch::Hub::Start(db_.get(), store_.get(), hub_options));

  CAIRN_RETURN_IF_ERROR(LoadAlarms());

  CAIRN_ASSIGN_OR_RETURN(raft::InitialState initial, log_store_->GetInitialState());
  CAIRN_ASSIGN_OR_RETURN(uint64_t last_index, log_store_->LastIndex());
  const bool fresh =
      initial.conf_state.voters.empty() && initial.conf_state.learners.empty() && last_index == 0;
  raft::ConfState conf;
  CAIRN_RETURN_IF_ERROR(Bootstrap(&conf, fresh));
  // With the member's identity known: a snapshot install a stop interrupted ends here.
  CAIRN_RETURN_IF_ERROR(RecoverStagedSnapshot());
  if (fresh) {
    CAIRN_RETURN_IF_ERROR(log_store_->SetConfState(conf));
    initial.conf_state = conf;
  }
  is_learner_ = std::find(initial.conf_state.learners.begin(), initial.conf_state.learners.end(),
                          id_) != initial.conf_state.learners.end();
  next_request_id_ =
      (uint64_t{id_ & 0xffff} << 48) |
      ((static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count()) &
        0xffffffffffULL)
       << 8);
  if (transport_) {
    CAIRN_RETURN_IF_ERROR(transport_->Start(cluster_id_, id_, this));
    std::lock_guard lock(members_mu_);
    for (const MemberInfo& m : members_) {
      if (m.id != id_) transport_->SetPeer(m.id, m.peer_urls);
    }
  } else {
    std::lock_guard lock(members_mu_);
    if (members_.size() > 1) {
      return FailedPrecondition("a member of a cluster of " + std::to_string(members_.size()) +
                                " needs a peer transport");
    }
  }

  raft::Config rc;
  rc.id = id_;
  rc.heartbeat_tick = 1;
  rc.election_tick = election_ticks;
  rc.seed = std::random_device{}();
  // The commit index is persisted without a sync when only it moved (raft's must_sync), so
  // after a crash it may trail what the checkpointed state applied; raft must not be told
  // of an applied index above its commit. Entries up to the state's applied index are
  // skipped on apply (ApplyEntry) and raft commits them again.
  rc.applied = std::min<uint64_t>(store_->applied_index(), initial.hard_state.commit);
  CAIRN_ASSIGN_OR_RETURN(node_, raft::RawNode::Create(rc, log_store_.get()));
  applied_ = store_->applied_index();
  term_ = initial.hard_state.term;
  committed_ = initial.hard_state.commit;
  durable_applied_ = applied_.load();
  if (auto first = log_store_->FirstIndex(); first.ok()) log_first_index_ = *first;
  // A compaction a crash interrupted is finished by the compactor once it starts.
  compact_pending_ = true;
  last_checkpoint_ = Clock::now();

  // A member that is the only voter need not wait out an election timeout.
  if (initial.conf_state.voters.size() == 1 && initial.conf_state.voters[0] == id_) {
    CAIRN_RETURN_IF_ERROR(node_->Campaign());
  }
  return Status::Ok();
}

Status Member::Bootstrap(raft::ConfState* conf, bool fresh_log) {
  CAIRN_ASSIGN_OR_RETURN(auto cluster, config_.InitialClusterMembers());
  const ClusterMember* self = nullptr;
  std::vector<uint64_t> ids;
  std::vector<MemberInfo> initial;
  for (const ClusterMember& cm : cluster) {
    MemberInfo info;
    info.id = ComputeMemberId(cm.peer_urls, config_.initial_cluster_token);
    info.name = cm.name;
    info.peer_urls = UrlTexts(cm.peer_urls);
    if (cm.name == config_.name) {
      self = &cm;
      info.client_urls = UrlTexts(config_.advertise_client_urls);
    }
    ids.push_back(info.id);
    initial.push_back(std::move(info));
  }
  const uint64_t derived_cluster_id = ComputeClusterId(ids);

  // A data directory that knows its cluster keeps it: --initial-cluster only bootstraps.
  cairn::internal::Membership saved;
  CAIRN_ASSIGN_OR_RETURN(bool have_saved, ReadMetaRecord(kMembershipKey, "membership", &saved));
  if (have_saved) {
    // As in etcd, the data dir's identity wins over the flags, which only bootstrap. A lone
    // member restarted on other ports (an embedded node on free ports, say) keeps its id and
    // data; flags that describe a cluster of several members other than the data dir's
    // mean a wrong data dir, which is refused.
    const bool other_cluster = config_.initial_cluster_state == "new" && self != nullptr &&
                               saved.cluster_id() != derived_cluster_id;
    if (other_cluster && cluster.size() == 1) {
      log::Warn(
          "--initial-cluster describes another cluster than the data dir's; the data dir's "
          "membership is kept",
          {{"data-dir-cluster-id", IdToHex(saved.cluster_id())},
           {"flags-cluster-id", IdToHex(derived_cluster_id)}});
    } else if (other_cluster) {
      return FailedPrecondition(
          "data dir " + config_.EffectiveDataDir() + " belongs to cluster " +
          IdToHex(saved.cluster_id()) + ", not to cluster " + IdToHex(derived_cluster_id) +
          " that --initial-cluster and --initial-cluster-token describe: remove it, or "
          "give this member a data dir of its own");
    }
    id_ = saved.member_id();
    cluster_id_ = saved.cluster_id();
    std::lock_guard lock(members_mu_);
    members_.clear();
    for (const auto& r : saved.members()) members_.push_back(FromRecord(r));
    removed_.assign(saved.removed().begin(), saved.removed().end());
    return Status::Ok();
  }

  // etcd's wording for these two.
  if (self == nullptr) {
    return InvalidArgument("couldn't find local name \"" + config_.name +
                           "\" in the initial cluster configuration");
  }
  const std::string in_cluster = JoinTexts(UrlTexts(self->peer_urls));
  const std::string advertised = JoinTexts(UrlTexts(config_.initial_advertise_peer_urls));
  if (in_cluster != advertised) {
    return InvalidArgument("--initial-cluster has " + config_.name + "=" + in_cluster +
                           " but missing from --initial-advertise-peer-urls=" + advertised);
  }

  if (config_.initial_cluster_state == "existing" && fresh_log) {
    // Join a running cluster that added this member already (MemberAdd): its ids and
    // membership come from there.
    if (!transport_) return FailedPrecondition("joining a cluster needs a peer transport");
    std::vector<std::string> others;
    for (const MemberInfo& m : initial) {
      if (m.name != config_.name)
        others.insert(others.end(), m.peer_urls.begin(), m.peer_urls.end());
    }
    if (others.empty()) {
      return InvalidArgument(
          "--initial-cluster-state existing: --initial-cluster names no other member to join");
    }
    CAIRN_ASSIGN_OR_RETURN(RemoteCluster remote, transport_->FetchCluster(others));
    std::vector<MemberInfo> members;
    for (const auto& r : remote.members) {
      MemberInfo m = FromRecord(r);
      if (JoinTexts(m.peer_urls) == in_cluster) {
        id_ = m.id;
        m.name = config_.name;
        m.client_urls = UrlTexts(config_.advertise_client_urls);
      }
      (m.is_learner ? conf->learners : conf->voters).push_back(m.id);
      members.push_back(std::move(m));
    }
    if (id_ == 0) {
      return InvalidArgument("error validating peerURLs " + in_cluster +
                             ": no member of the running cluster has them (add this member "
                             "with MemberAdd first)");
    }
    std::sort(conf->voters.begin(), conf->voters.end());
    std::sort(conf->learners.begin(), conf->learners.end());
    cluster_id_ = remote.cluster_id;
    std::lock_guard lock(members_mu_);
    members_ = std::move(members);
  } else {
    id_ = ComputeMemberId(self->peer_urls, config_.initial_cluster_token);
    cluster_id_ = derived_cluster_id;
    conf->voters = ids;
    std::sort(conf->voters.begin(), conf->voters.end());
    std::lock_guard lock(members_mu_);
    members_ = std::move(initial);
  }
  CAIRN_RETURN_IF_ERROR(SaveMembership());
  // The meta table is made durable by checkpoints: the identity must not be lost.
  return db_->Checkpoint();
}

Status Member::SaveMembership() {
  cairn::internal::Membership m;
  m.set_cluster_id(cluster_id_);
  m.set_member_id(id_);
  {
    std::lock_guard lock(members_mu_);
    for (const MemberInfo& info : members_) *m.add_members() = ToRecord(info);
    for (uint64_t id : removed_) m.add_removed(id);
  }
  return WriteMetaRecord(kMembershipKey, m);
}

Result<bool> Member::ReadMetaRecord(std::string_view key, std::string_view what,
                                    google::protobuf::MessageLite* record) {
  CAIRN_ASSIGN_OR_RETURN(auto session, db_->Acquire());
  CAIRN_ASSIGN_OR_RETURN(storage::Cursor meta, session->OpenCursor(storage::kMetaTable));
  CAIRN_ASSIGN_OR_RETURN(bool found, meta.Find(key));
  if (found &&
      !record->ParseFromArray(meta.value().data(), static_cast<int>(meta.value().size()))) {
    return DataLoss("the " + std::string(what) + " record in " + config_.EffectiveDataDir() +
                    " does not parse");
  }
  return found;
}

Status Member::WriteMetaRecord(std::string_view key, const google::protobuf::MessageLite& record) {
  CAIRN_ASSIGN_OR_RETURN(auto session, db_->Acquire());
  CAIRN_ASSIGN_OR_RETURN(storage::Transaction txn, storage::Transaction::Begin(session.get()));
  CAIRN_ASSIGN_OR_RETURN(storage::Cursor meta, session->OpenCursor(storage::kMetaTable));
  CAIRN_RETURN_IF_ERROR(meta.Put(key, record.SerializeAsString()));
  return txn.Commit();
}

void Member::Stop() {
  if (stopped_.exchange(true)) return;
  {
    std::lock_guard lock(raft_mu_);
    raft_stop_ = true;
  }
  raft_cv_.notify_all();
  if (raft_thread_.joinable()) raft_thread_.join();
  // The raft thread is gone: tasks left for it run here, so that no caller waits forever.
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard lock(raft_mu_);
    tasks.swap(raft_tasks_);
  }
  for (auto& task : tasks) task();
  // Nothing sends any more; the transport's threads stop reporting to this member.
  if (transport_) transport_->Stop();
  {
    std::lock_guard lock(apply_mu_);
    apply_stop_ = true;
  }
  apply_cv_.notify_all();
  if (apply_thread_.joinable()) apply_thread_.join();
  checkpointer_.Stop();
  {
    std::lock_guard lock(compact_mu_);
    compact_stop_ = true;
  }
  compact_cv_.notify_all();
  if (compactor_thread_.joinable()) compactor_thread_.join();

  // Everything still waiting fails now.
  const Status stopped = etcd::Stopped();
  std::vector<std::function<void(Status)>> reads;
  std::vector<Transfer> transfers;
  {
    std::lock_guard lock(raft_mu_);
    reads.swap(reads_);
    proposals_.clear();
    transfers.swap(transfers_);
  }
  for (Transfer& t : transfers) t.done(stopped);
  for (auto& [ctx, batch] : reads_in_flight_) {
    for (auto& r : batch.reads) reads.push_back(std::move(r));
  }
  reads_in_flight_.clear();
  waiting_for_leader_.clear();
  {
    std::lock_guard lock(apply_mu_);
    for (auto& [index, batch] : reads_waiting_) {
      for (auto& r : batch.reads) reads.push_back(std::move(r));
    }
    reads_waiting_.clear();
  }
  for (auto& r : reads) r(stopped);
  std::map<uint64_t, Completion> waiters;
  {
    std::lock_guard lock(wait_mu_);
    waiters.swap(waiters_);
  }
  for (auto& [id, done] : waiters) done(stopped, {});
  std::vector<std::function<void(Status)>> compact_waiters;
  {
    std::lock_guard lock(compact_mu_);
    compact_waiters.swap(compact_waiters_);
  }
  for (auto& w : compact_waiters) w(stopped);

  readers_.Stop();

  std::unique_lock close(close_mu_);
  if (db_) {
    Status s = db_->Checkpoint();
    if (!s.ok()) log::Error("checkpoint at stop failed", {{"error", s.ToString()}});
  }
  node_.reset();
  hub_.reset();
  lessor_.reset();
  store_.reset();
  log_store_.reset();
  db_.reset();
  log::Info("member stopped", {{"member-id", IdToHex(id_)}});
}

// ---------------------------------------------------------------------------------------
// Client calls

void Member::FillHeader(etcdserverpb::ResponseHeader* header, int64_t revision) const {
  header->set_cluster_id(cluster_id_);
  header->set_member_id(id_);
  header->set_revision(revision);
  header->set_raft_term(term_.load());
}

void Member::FillHeader(etcdserverpb::ResponseHeader* header) const {
  std::shared_lock lock(close_mu_);
  FillHeader(header, store_ ? store_->current_revision() : 0);
}

void Member::Propose(cairn::internal::Request req, Completion done) {
  if (stopped_) return done(etcd::Stopped(), {});
  if (Status s = CheckNotLearner(); !s.ok()) return done(s, {});
  if (Status s = CheckQuota(QuotaCost(req)); !s.ok()) return done(s, {});
  const uint64_t id = next_request_id_.fetch_add(1);
  req.set_id(id);
  std::string data = req.SerializeAsString();
  if (data.size() > config_.max_request_bytes) return done(etcd::RequestTooLarge(), {});
  {
    std::lock_guard lock(wait_mu_);
    waiters_.emplace(id, std::move(done));
  }
  {
    std::unique_lock lock(raft_mu_);
    if (!raft_stop_) {
      proposals_.push_back({std::move(data), id,
                            std::min(Clock::now() + request_timeout_, CallDeadline::Current()),
                            std::nullopt});
      // A lone proposal to a member that leads a group of one runs the raft turn here, on
      // the caller's thread: it appends, fsyncs and (ApplyHere) applies the put, and the
      // reply goes out from this thread. Waking the idle raft thread and being woken back
      // were two of a lone put's hand-offs, each 40-110 us on this 2-core VM. The caller (a
      // loop thread of the gRPC server) is held for the fsync its reply waits for anyway;
      // while it runs, others' proposals queue for the raft thread, which takes them next.
      // Only while puts come one at a time (the last turn took one): under many clients an
      // inline turn would fsync one put while the next batch waits behind it, where the raft
      // thread's turn takes them all for one fsync.
      if (raft_alone_ && !raft_busy_ && proposals_.size() == 1 && last_turn_proposals_ <= 1) {
        RaftTurn(lock);
        if (raft_waiting_) raft_cv_.notify_one();
        return;
      }
      raft_cv_.notify_one();
      return;
    }
  }
  // Stopping: the raft thread will not take it. (Stop may have failed it already.)
  Fail(id, etcd::Stopped());
}

void Member::ProposeConfChange(raft::ConfChangeType type,
                               const cairn::internal::MemberRecord& member, Done done) {
  if (stopped_) return done(etcd::Stopped());
  const uint64_t id = next_request_id_.fetch_add(1);
  cairn::internal::ConfChangeContext ctx;
  ctx.set_id(id);
  *ctx.mutable_member() = member;
  raft::ConfChange cc;
  cc.type = type;
  cc.node_id = member.id();
  cc.context = ctx.SerializeAsString();
  {
    std::lock_guard lock(wait_mu_);
    waiters_.emplace(id, [done = std::move(done)](Status s, ApplyResult) { done(s); });
  }
  {
    std::lock_guard lock(raft_mu_);
    if (!raft_stop_) {
      proposals_.push_back({std::string(), id,
                            std::min(Clock::now() + request_timeout_, CallDeadline::Current()),
                            std::move(cc)});
      raft_cv_.notify_one();
      return;
    }
  }
  Fail(id, etcd::Stopped());
}

void Member::Fail(uint64_t id, const Status& status) {
  Completion done;
  {
    std::lock_guard lock(wait_mu_);
    auto it = waiters_.find(id);
    if (it == waiters_.end()) return;
    done = std::move(it->second);
    waiters_.erase(it);
  }
  done(status, {});
}

void Member::LinearizableRead(std::function<void(Status)> read) {
  {
    std::lock_guard lock(raft_mu_);
    if (!raft_stop_) {
      reads_.push_back(std::move(read));
      raft_cv_.notify_one();
      return;
    }
  }
  read(etcd::Stopped());
}

Status Member::ReadRange(const etcdserverpb::RangeRequest& req, etcdserverpb::RangeResponse* resp) {
  std::shared_lock lock(close_mu_);
  if (!store_) return etcd::Stopped();
  CAIRN_ASSIGN_OR_RETURN(mvcc::RangeResponse r, store_->Range(FromProto(req)));
  ToProto(r, resp);
  FillHeader(resp->mutable_header(), r.revision);
  return Status::Ok();
}

void Member::Range(const etcdserverpb::RangeRequest& req, etcdserverpb::RangeResponse* resp,
                   Done done) {
  if (stopped_) return done(etcd::Stopped());
  mvcc::RangeRequest probe;
  probe.key = req.key();
  Status check = mvcc::CheckRange(probe);
  if (!check.ok()) return done(check);
  if (!etcdserverpb::RangeRequest::SortOrder_IsValid(req.sort_order()) ||
      !etcdserverpb::RangeRequest::SortTarget_IsValid(req.sort_target())) {
    return done(InvalidArgument("etcdserver: invalid sort option"));
  }
  if (req.serializable()) return done(ReadRange(req, resp));
  if (Status s = CheckNotLearner(); !s.ok()) return done(s);
  LinearizableRead([this, &req, resp, done = std::move(done)](Status s) {
    if (!s.ok()) return done(s);
    done(ReadRange(req, resp));
  });
}

void Member::Put(const etcdserverpb::PutRequest& req, etcdserverpb::PutResponse* resp, Done done) {
  // mvcc::CheckPut holds etcd's rules; it needs to know only whether a value was given.
  mvcc::PutRequest probe;
  probe.key = req.key();
  probe.value = req.value().empty() ? "" : "-";
  probe.lease = req.lease();
  probe.ignore_value = req.ignore_value();
  probe.ignore_lease = req.ignore_lease();
  Status check = mvcc::CheckPut(probe);
  if (!check.ok()) return done(check);
  cairn::internal::Request ir;
  *ir.mutable_put() = req;
  Propose(std::move(ir), [this, resp, done = std::move(done)](Status s, ApplyResult r) {
    if (!s.ok()) return done(s);
    const auto& put = std::get<mvcc::PutResponse>(r);
    ToProto(put, resp);
    FillHeader(resp->mutable_header(), put.revision);
    done(Status::Ok());
  });
}

void Member::DeleteRange(const etcdserverpb::DeleteRangeRequest& req,
                         etcdserverpb::DeleteRangeResponse* resp, Done done) {
  mvcc::DeleteRangeRequest probe;
  probe.key = req.key();
  Status check = mvcc::CheckDeleteRange(probe);
  if (!check.ok()) return done(check);
  cairn::internal::Request ir;
  *ir.mutable_delete_range() = req;
  Propose(std::move(ir), [this, resp, done = std::move(done)](Status s, ApplyResult r) {
    if (!s.ok()) return done(s);
    const auto& del = std::get<mvcc::DeleteRangeResponse>(r);
    ToProto(del, resp);
    FillHeader(resp->mutable_header(), del.revision);
    done(Status::Ok());
  });
}

Status Member::ReadTxn(const mvcc::TxnRequest& req, etcdserverpb::TxnResponse* resp) {
  std::shared_lock lock(close_mu_);
  if (!store_) return etcd::Stopped();
  CAIRN_ASSIGN_OR_RETURN(mvcc::TxnResponse r, store_->ReadTxn(req));
  ToProto(r, resp);
  FillHeader(resp->mutable_header(), r.revision);
  return Status::Ok();
}

void Member::Txn(const etcdserverpb::TxnRequest& req, etcdserverpb::TxnResponse* resp, Done done) {
  if (stopped_) return done(etcd::Stopped());
  mvcc::TxnRequest txn = FromProto(req);
  Status check = mvcc::CheckTxn(txn, static_cast<int>(config_.max_txn_ops));
  if (!check.ok()) return done(check);
  if (mvcc::IsReadOnly(txn)) {
    // etcd answers a txn that writes nothing as a read, not through raft: at once when
    // every op of both branches is a serializable range, else after a ReadIndex round.
    if (Status s = CheckNotLearner(); !s.ok()) return done(s);
    if (IsSerializable(req)) return done(ReadTxn(txn, resp));
    return LinearizableRead([this, txn = std::move(txn), resp, done = std::move(done)](Status s) {
      if (!s.ok()) return done(s);
      done(ReadTxn(txn, resp));
    });
  }
  cairn::internal::Request ir;
  *ir.mutable_txn() = req;
  Propose(std::move(ir), [this, resp, done = std::move(done)](Status s, ApplyResult r) {
    if (!s.ok()) return done(s);
    const auto& applied = std::get<mvcc::TxnResponse>(r);
    ToProto(applied, resp);
    FillHeader(resp->mutable_header(), applied.revision);
    done(Status::Ok());
  });
}

void Member::Compact(const etcdserverpb::CompactionRequest& req,
                     etcdserverpb::CompactionResponse* resp, Done done) {
  cairn::internal::Request ir;
  *ir.mutable_compaction() = req;
  Propose(std::move(ir), [this, resp, done = std::move(done)](Status s, ApplyResult r) {
    if (!s.ok()) return done(s);
    FillHeader(resp->mutable_header(), std::get<mvcc::CompactResponse>(r).revision);
    done(Status::Ok());
  });
}

void Member::LeaseGrant(const etcdserverpb::LeaseGrantRequest& req,
                        etcdserverpb::LeaseGrantResponse* resp, Done done) {
  if (req.ttl() > lease::kMaxLeaseTTL) return done(etcd::LeaseTTLTooLarge());
  cairn::internal::Request ir;
  *ir.mutable_lease_grant() = req;
  if (req.id() == 0) {
    // The id is chosen before proposing so that every member applies the same one.
    int64_t id = 0;
    {
      std::shared_lock lock(close_mu_);  // an installed snapshot replaces the lessor
      if (lessor_) {
        do {
          id = static_cast<int64_t>(next_request_id_.fetch_add(1) & 0x7fffffffffffffffULL);
        } while (id == 0 || lessor_->Exists(id));
      }
    }
    if (id == 0) return done(etcd::Stopped());
    ir.mutable_lease_grant()->set_id(id);
  }
  Propose(std::move(ir), [this, resp, done = std::move(done)](Status s, ApplyResult r) {
    if (!s.ok()) return done(s);
    const auto& granted = std::get<LeaseGranted>(r);
    resp->set_id(granted.id);
    resp->set_ttl(granted.ttl);
    FillHeader(resp->mutable_header());
    done(Status::Ok());
  });
}

void Member::LeaseRevoke(const etcdserverpb::LeaseRevokeRequest& req,
                         etcdserverpb::LeaseRevokeResponse* resp, Done done) {
  cairn::internal::Request ir;
  *ir.mutable_lease_revoke() = req;
  Propose(std::move(ir), [this, resp, done = std::move(done)](Status s, ApplyResult) {
    if (!s.ok()) return done(s);
    FillHeader(resp->mutable_header());
    done(Status::Ok());
  });
}

// A lone member answers at once: every entry it applied it committed alone. A leader of
// more waits until it applied what it committed (AfterCommittedApplied).
void Member::LeaseTimeToLive(const etcdserverpb::LeaseTimeToLiveRequest& req,
                             etcdserverpb::LeaseTimeToLiveResponse* resp, Done done) {
  if (Status s = CheckNotLearner(); !s.ok()) return done(s);
  if (!transport_) return done(AnswerLeaseTimeToLive(req, resp));
  const uint64_t lead = leader_.load();
  if (lead == id_) return LeaderLeaseTimeToLive(req, resp, std::move(done));
  if (lead == 0) return done(etcd::NoLeader());
  transport_->LeaseTimeToLive(lead, req, resp, std::move(done));
}

void Member::LeaseLeases(etcdserverpb::LeaseLeasesResponse* resp, Done done) {
  if (Status s = CheckNotLearner(); !s.ok()) return done(s);
  if (!transport_) return done(AnswerLeaseLeases(resp));
  const uint64_t lead = leader_.load();
  if (lead == id_) return LeaderLeaseLeases(resp, std::move(done));
  if (lead == 0) return done(etcd::NoLeader());
  transport_->LeaseLeases(lead, resp, std::move(done));
}

void Member::LeaseKeepAlive(const etcdserverpb::LeaseKeepAliveRequest& req,
                            etcdserverpb::LeaseKeepAliveResponse* resp, Done done) {
  if (Status s = CheckNotLearner(); !s.ok()) return done(s);
  if (!transport_) return done(AnswerLeaseKeepAlive(req, resp));
  const uint64_t lead = leader_.load();
  if (lead == id_) return LeaderLeaseKeepAlive(req, resp, std::move(done));
  if (lead == 0) return done(etcd::NoLeader());
  transport_->LeaseKeepAlive(lead, req, resp, std::move(done));
}

void Member::LeaderLeaseTimeToLive(const etcdserverpb::LeaseTimeToLiveRequest& req,
                                   etcdserverpb::LeaseTimeToLiveResponse* resp, Done done) {
  AfterCommittedApplied([this, req, resp, done = std::move(done)](Status s) {
    done(s.ok() ? AnswerLeaseTimeToLive(req, resp) : s);
  });
}

void Member::LeaderLeaseLeases(etcdserverpb::LeaseLeasesResponse* resp, Done done) {
  AfterCommittedApplied([this, resp, done = std::move(done)](Status s) {
    done(s.ok() ? AnswerLeaseLeases(resp) : s);
  });
}

void Member::LeaderLeaseKeepAlive(const etcdserverpb::LeaseKeepAliveRequest& req,
                                  etcdserverpb::LeaseKeepAliveResponse* resp, Done done) {
  AfterCommittedApplied([this, req, resp, done = std::move(done)](Status s) {
    done(s.ok() ? AnswerLeaseKeepAlive(req, resp) : s);
  });
}

Status Member::AnswerLeaseTimeToLive(const etcdserverpb::LeaseTimeToLiveRequest& req,
                                     etcdserverpb::LeaseTimeToLiveResponse* resp) {
  std::shared_lock lock(close_mu_);
  if (!lessor_) return etcd::Stopped();
  FillHeader(resp->mutable_header(), store_->current_revision());
  resp->set_id(req.id());
  auto ttl = lessor_->TimeToLive(req.id(), NowMs(), req.keys());
  if (!ttl.ok()) {
    if (ttl.status().code() != Code::kNotFound) return ttl.status();
    resp->set_ttl(-1);
    return Status::Ok();
  }
  resp->set_ttl(ttl->ttl);
  resp->set_grantedttl(ttl->granted_ttl);
  for (std::string& key : ttl->keys) resp->add_keys(std::move(key));
  return Status::Ok();
}

Status Member::AnswerLeaseLeases(etcdserverpb::LeaseLeasesResponse* resp) {
  std::shared_lock lock(close_mu_);
  if (!lessor_) return etcd::Stopped();
  FillHeader(resp->mutable_header(), store_->current_revision());
  for (int64_t id : lessor_->Leases()) resp->add_leases()->set_id(id);
  return Status::Ok();
}

Status Member::AnswerLeaseKeepAlive(const etcdserverpb::LeaseKeepAliveRequest& req,
                                    etcdserverpb::LeaseKeepAliveResponse* resp) {
  std::shared_lock lock(close_mu_);
  if (!lessor_) return etcd::Stopped();
  FillHeader(resp->mutable_header(), store_->current_revision());
  resp->set_id(req.id());
  auto renewed = lessor_->Renew(req.id(), NowMs());
  if (!renewed.ok()) {
    // Missing, or expired with its revoke on the way: etcd answers TTL 0 for both.
    if (renewed.status().code() == Code::kNotFound ||
        renewed.status() == lease::LeaseExpiredNotRevoked()) {
      resp->set_ttl(0);
      return Status::Ok();
    }
    return renewed.status();
  }
  resp->set_ttl(renewed->ttl);
  if (renewed->reset_checkpoint) {
    // Every member forgets the checkpointed remaining TTL, or a later leader would cut
    // the renewed lease short.
    cairn::internal::Request ir;
    auto* cp = ir.mutable_lease_checkpoint()->add_checkpoints();
    cp->set_id(req.id());
    cp->set_remaining_ttl(0);
    ProposeInternal(std::move(ir));
  }
  return Status::Ok();
}

void Member::ProposeInternal(cairn::internal::Request req) {
  req.set_id(next_request_id_.fetch_add(1));
  std::string data = req.SerializeAsString();
  std::lock_guard lock(raft_mu_);
  if (raft_stop_) return;
  proposals_.push_back({std::move(data), req.id(), Clock::now() + request_timeout_, std::nullopt});
  raft_cv_.notify_one();
}

// ---------------------------------------------------------------------------------------
// Alarms and the quota

int64_t Member::CachedDatabaseSize() {
  const int64_t now = NowMs();
  if (now - db_size_read_ms_.load() >= 500) {
    db_size_read_ms_ = now;
    db_size_ = DatabaseSize(config_.EffectiveDataDir());
  }
  return db_size_.load();
}

Status Member::CheckQuota(int64_t cost) {
  if (cost <= 0 || CachedDatabaseSize() + cost < config_.EffectiveQuotaBackendBytes()) {
    return Status::Ok();
  }
  if (!nospace_) {
    // As etcd, the member that finds the quota exceeded raises the alarm for everyone.
    log::Warn("database space exceeded; raising the NOSPACE alarm",
              {{"quota-bytes", config_.EffectiveQuotaBackendBytes()}});
    cairn::internal::Request ir;
    ir.mutable_alarm()->set_action(etcdserverpb::AlarmRequest::ACTIVATE);
    ir.mutable_alarm()->set_memberid(id_);
    ir.mutable_alarm()->set_alarm(etcdserverpb::NOSPACE);
    ProposeInternal(std::move(ir));
  }
  return etcd::NoSpace();
}

std::vector<etcdserverpb::AlarmMember> Member::Alarms() const {
  std::lock_guard lock(alarms_mu_);
  return alarms_;
}

Status Member::LoadAlarms() {
  etcdserverpb::AlarmResponse saved;
  CAIRN_RETURN_IF_ERROR(ReadMetaRecord(kAlarmsKey, "alarms", &saved).status());
  std::lock_guard lock(alarms_mu_);
  alarms_.assign(saved.alarms().begin(), saved.alarms().end());
  nospace_ = AnyNospace(alarms_);
  return Status::Ok();
}

Status Member::SaveAlarms(const std::vector<etcdserverpb::AlarmMember>& alarms) {
  etcdserverpb::AlarmResponse record;
  for (const auto& a : alarms) *record.add_alarms() = a;
  return WriteMetaRecord(kAlarmsKey, record);
}

// etcd's alarm store: one alarm per member and type; the response lists the alarm that
// changed, if any.
etcdserverpb::AlarmResponse Member::ApplyAlarm(const etcdserverpb::AlarmRequest& req) {
  etcdserverpb::AlarmResponse resp;
  std::lock_guard lock(alarms_mu_);
  auto it = std::find_if(alarms_.begin(), alarms_.end(), [&](const auto& a) {
    return a.memberid() == req.memberid() && a.alarm() == req.alarm();
  });
  if (req.action() == etcdserverpb::AlarmRequest::ACTIVATE) {
    if (it == alarms_.end()) {
      etcdserverpb::AlarmMember alarm;
      alarm.set_memberid(req.memberid());
      alarm.set_alarm(req.alarm());
      alarms_.push_back(alarm);
      log::Warn("alarm raised", {{"member-id", IdToHex(req.memberid())},
                                 {"alarm", etcdserverpb::AlarmType_Name(req.alarm())}});
      it = std::prev(alarms_.end());
    }
    *resp.add_alarms() = *it;
  } else if (req.action() == etcdserverpb::AlarmRequest::DEACTIVATE) {
    if (it == alarms_.end()) return resp;
    *resp.add_alarms() = *it;
    alarms_.erase(it);
    log::Info("alarm disarmed", {{"member-id", IdToHex(req.memberid())},
                                 {"alarm", etcdserverpb::AlarmType_Name(req.alarm())}});
  } else {
    return resp;
  }
  if (Status s = SaveAlarms(alarms_); !s.ok()) {
    log::Error("cannot save alarms", {{"error", s.ToString()}});
  }
  nospace_ = AnyNospace(alarms_);
  return resp;
}

void Member::Alarm(const etcdserverpb::AlarmRequest& req, etcdserverpb::AlarmResponse* resp,
                   Done done) {
  if (stopped_) return done(etcd::Stopped());
  if (req.action() == etcdserverpb::AlarmRequest::GET) {
    return LinearizableRead([this, alarm = req.alarm(), resp, done = std::move(done)](Status s) {
      if (!s.ok()) return done(s);
      for (const auto& a : Alarms()) {
        if (alarm == etcdserverpb::NONE || a.alarm() == alarm) *resp->add_alarms() = a;
      }
      FillHeader(resp->mutable_header());
      done(Status::Ok());
    });
  }
  cairn::internal::Request ir;
  *ir.mutable_alarm() = req;
  Propose(std::move(ir), [this, resp, done = std::move(done)](Status s, ApplyResult r) {
    if (!s.ok()) return done(s);
    *resp = std::move(std::get<etcdserverpb::AlarmResponse>(r));
    FillHeader(resp->mutable_header());
    done(Status::Ok());
  });
}

void Member::ProposeLeaseHousekeeping() {
  const int64_t now = NowMs();
  for (int64_t id : lessor_->ExpiredLeases(now, kMaxRevokesPerTick)) {
    cairn::internal::Request ir;
    ir.mutable_lease_revoke()->set_id(id);
    ProposeInternal(std::move(ir));
  }
  auto checkpoints = lessor_->Checkpoints(now, kMaxCheckpointsPerTick);
  if (!checkpoints.empty()) {
    cairn::internal::Request ir;
    for (const lease::LeaseCheckpoint& c : checkpoints) {
      auto* cp = ir.mutable_lease_checkpoint()->add_checkpoints();
      cp->set_id(c.id);
      cp->set_remaining_ttl(c.remaining_ttl);
    }
    ProposeInternal(std::move(ir));
  }
}

std::unique_ptr<watch::Stream> Member::OpenWatchStream(watch::WakeFn wake) {
  std::shared_lock lock(close_mu_);
  if (!hub_) return nullptr;
  return hub_->OpenStream(std::move(wake));
}

Status Member::GetStatus(etcdserverpb::StatusResponse* resp) {
  std::shared_lock lock(close_mu_);
  if (!store_) return etcd::Stopped();
  FillHeader(resp->mutable_header(), store_->current_revision());
  resp->set_version(kEtcdApiVersion);
  const int64_t size = DatabaseSize(config_.EffectiveDataDir());
  db_size_ = size;
  resp->set_dbsize(size);
  resp->set_dbsizeinuse(size);
  resp->set_leader(leader_.load());
  // etcd's raftIndex is the committed index; raftAppliedIndex the applied one.
  resp->set_raftindex(std::max(committed_.load(), applied_.load()));
  resp->set_raftterm(term_.load());
  resp->set_raftappliedindex(applied_.load());
  resp->set_islearner(is_learner_.load());
  if (leader_.load() == 0) resp->add_errors(etcd::NoLeader().message());  // as etcd
  for (const etcdserverpb::AlarmMember& alarm : Alarms()) {
    // etcd lists each alarm in its protobuf text form.
    resp->add_errors("memberID:" + std::to_string(alarm.memberid()) +
                     " alarm:" + etcdserverpb::AlarmType_Name(alarm.alarm()) + " ");
  }
  resp->set_dbsizequota(config_.EffectiveQuotaBackendBytes());
  return Status::Ok();
}

Status Member::HashKV(const etcdserverpb::HashKVRequest& req, etcdserverpb::HashKVResponse* resp) {
  CAIRN_RETURN_IF_ERROR(CheckNotLearner());
  std::shared_lock lock(close_mu_);
  if (!store_) return etcd::Stopped();
  CAIRN_ASSIGN_OR_RETURN(mvcc::HashResult h, store_->HashKV(req.revision()));
  FillHeader(resp->mutable_header(), h.revision);
  resp->set_hash(h.hash);
  resp->set_compact_revision(h.compact_revision);
  resp->set_hash_revision(h.hash_revision);
  return Status::Ok();
}

Status Member::Hash(etcdserverpb::HashResponse* resp) {
  CAIRN_RETURN_IF_ERROR(CheckNotLearner());
  std::shared_lock lock(close_mu_);
  if (!store_) return etcd::Stopped();
  CAIRN_ASSIGN_OR_RETURN(mvcc::HashResult h, store_->Hash());
  FillHeader(resp->mutable_header(), h.revision);
  resp->set_hash(h.hash);
  return Status::Ok();
}

std::vector<MemberInfo> Member::Members() const {
  std::lock_guard lock(members_mu_);
  return members_;
}

RemoteCluster Member::ClusterView() const {
  RemoteCluster view;
  view.cluster_id = cluster_id_;
  std::lock_guard lock(members_mu_);
  for (const MemberInfo& m : members_) view.members.push_back(ToRecord(m));
  return view;
}

Status Member::CheckNotLearner() const {
  return is_learner_.load() ? etcd::NotSupportedForLearner() : Status::Ok();
}

Status Member::Defragment() {
  CAIRN_RETURN_IF_ERROR(CheckNotLearner());
  std::shared_lock lock(close_mu_);
  if (!db_) return etcd::Stopped();
  return db_->Defragment();
}

Result<std::unique_ptr<SnapshotReader>> Member::OpenSnapshot() {
  std::shared_lock lock(close_mu_);
  if (!db_) return etcd::Stopped();
  return SnapshotReader::Open(db_.get(), config_.EffectiveDataDir());
}

// ---------------------------------------------------------------------------------------
// Raft thread

void Member::RaftLoop() {
  std::unique_lock lock(raft_mu_);
  next_tick_ = Clock::now() + tick_;
  while (true) {
    raft_cv_.wait_until(lock, next_tick_, [&] { return raft_stop_ || RaftInboxLocked(); });
    if (raft_busy_) {
      // A caller runs a turn (Propose): it wakes this thread when done.
      raft_waiting_ = true;
      raft_cv_.wait(lock, [&] { return !raft_busy_; });
      raft_waiting_ = false;
      continue;
    }
    if (raft_stop_) break;
    RaftTurn(lock);
  }
}

bool Member::RaftInboxLocked() const {
  return !proposals_.empty() || !reads_.empty() || !incoming_.empty() || !unreachable_.empty() ||
         !snapshot_reports_.empty() || transfer_asked_ || !raft_tasks_.empty();
}

void Member::RaftTurn(std::unique_lock<std::mutex>& lock) {
  raft_busy_ = true;
  std::vector<Proposal> proposals;
  std::vector<std::function<void(Status)>> reads;
  std::vector<raft::Message> incoming;
  std::vector<uint64_t> unreachable;
  std::vector<std::pair<uint64_t, bool>> snapshot_reports;
  std::vector<std::function<void()>> tasks;
  proposals.swap(proposals_);
  if (!proposals.empty()) last_turn_proposals_ = proposals.size();
  reads.swap(reads_);
  incoming.swap(incoming_);
  unreachable.swap(unreachable_);
  snapshot_reports.swap(snapshot_reports_);
  tasks.swap(raft_tasks_);
  auto next_tick = next_tick_;
  lock.unlock();

  for (auto& task : tasks) task();
  uint64_t stepped_snapshot = 0;
  for (raft::Message& m : incoming) {
    if (m.type == raft::MessageType::kSnapshot) stepped_snapshot = m.snapshot.metadata.index;
    Status s = node_->Step(std::move(m));
    if (!s.ok()) log::Debug("raft refused a message", {{"error", s.ToString()}});
  }
  for (uint64_t id : unreachable) node_->ReportUnreachable(id);
  for (const auto& [id, ok] : snapshot_reports) {
    node_->ReportSnapshot(id, ok ? raft::SnapshotStatus::kFinish : raft::SnapshotStatus::kFailure);
  }
  const auto now = Clock::now();
  if (now >= next_tick) {
    node_->Tick();
    if (leader_.load() == id_ && !installing_) ProposeLeaseHousekeeping();
    next_tick += tick_;
    if (next_tick <= now) next_tick = now + tick_;
  }

  for (Proposal& p : proposals) waiting_for_leader_.push_back(std::move(p));
  // Dropped before a leader that has just come back gets them: their callers gave up.
  // (Deadlines differ by caller, so any of them may be due.)
  for (auto it = waiting_for_leader_.begin(); it != waiting_for_leader_.end();) {
    if (it->deadline > now) {
      ++it;
      continue;
    }
    // What etcd answers when a proposal never found a leader before its context ended.
    Fail(it->id, Status(Code::kDeadlineExceeded, "context deadline exceeded"));
    it = waiting_for_leader_.erase(it);
  }
  while (!waiting_for_leader_.empty() && leader_.load() != 0) {
    if (waiting_for_leader_.front().conf_change) {
      Proposal p = std::move(waiting_for_leader_.front());
      waiting_for_leader_.pop_front();
      if (!node_->ProposeConfChange(*p.conf_change).ok()) Fail(p.id, etcd::LeaderChanged());
      continue;
    }
    // The requests that came in together go to raft as one proposal: one append per
    // follower carries them all (and a follower forwards them in one message), where one
    // proposal each cost an append, its response and a commit update per follower.
    std::vector<std::string> batch;
    std::vector<uint64_t> ids;
    while (!waiting_for_leader_.empty() && !waiting_for_leader_.front().conf_change) {
      batch.push_back(std::move(waiting_for_leader_.front().data));
      ids.push_back(waiting_for_leader_.front().id);
      waiting_for_leader_.pop_front();
    }
    if (!node_->ProposeBatch(std::move(batch)).ok()) {
      for (uint64_t id : ids) Fail(id, etcd::LeaderChanged());
    }
  }

  if (!reads.empty()) {
    const uint64_t seq = ++read_seq_;
    reads_in_flight_.emplace(seq, ReadBatch{std::move(reads), now, now + request_timeout_});
    node_->ReadIndex(EncodeReadContext(seq));
  }
  RetryReads(now);
  MaybePublish(now);

  DriveTransfers(now);
  while (node_->HasReady()) HandleReady(node_->GetReady());
  if (stepped_snapshot != 0) ForgetUnclaimedSnapshot(stepped_snapshot);
  MaybeCompactLog();

  const bool alone = node_->raft().role() == raft::StateRole::kLeader &&
                     node_->raft().tracker().progress().size() == 1;
  lock.lock();
  next_tick_ = next_tick;
  raft_alone_ = alone;
  raft_busy_ = false;
}

// Raft took a stepped snapshot into the Ready that followed (BeginInstall claimed it), or
// refused it (older than what it has): then the staged copy goes, or it would block the
// next one forever.
void Member::ForgetUnclaimedSnapshot(uint64_t index) {
  std::string dir;
  {
    std::lock_guard lock(snap_mu_);
    if (staged_index_ != index || staged_claimed_) return;
    staged_index_ = 0;
    dir.swap(staged_dir_);
  }
  log::Info("raft refused a received snapshot", {{"index", index}});
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

void Member::SendMessages(std::vector<raft::Message> messages) {
  if (messages.empty() || !transport_) return;
  std::vector<raft::Message> plain;
  plain.reserve(messages.size());
  for (raft::Message& m : messages) {
    if (m.type == raft::MessageType::kSnapshot) {
      SendSnapshotMessage(std::move(m));
    } else {
      plain.push_back(std::move(m));
    }
  }
  if (!plain.empty()) transport_->Send(std::move(plain));
}

void Member::SendSnapshotMessage(raft::Message message) {
  // Raft's message names where the log was compacted; what goes out is the state as of
  // the applied index when the backup starts (at or above it), as etcd's merged snapshot.
  checkpointer_.Push([this, m = std::move(message)]() mutable {
    std::unique_ptr<SnapshotReader> reader;
    {
      std::lock_guard gate(apply_gate_);
      std::shared_lock lock(close_mu_);
      if (!db_) return;
      auto r = SnapshotReader::Open(db_.get(), config_.EffectiveDataDir());
      if (!r.ok()) {
        log::Warn("cannot take a snapshot for a follower", {{"error", r.status().ToString()}});
        ReportSnapshot(m.to, false);
        return;
      }
      reader = std::move(*r);
      m.snapshot.metadata.index = store_->applied_index();
      m.snapshot.metadata.term = applied_term_.load();
      m.snapshot.metadata.conf_state = {};
      std::lock_guard members(members_mu_);
      for (const MemberInfo& info : members_) {
        (info.is_learner ? m.snapshot.metadata.conf_state.learners
                         : m.snapshot.metadata.conf_state.voters)
            .push_back(info.id);
      }
    }
    std::sort(m.snapshot.metadata.conf_state.voters.begin(),
              m.snapshot.metadata.conf_state.voters.end());
    std::sort(m.snapshot.metadata.conf_state.learners.begin(),
              m.snapshot.metadata.conf_state.learners.end());
    log::Info("sending a snapshot", {{"to", IdToHex(m.to)},
                                     {"index", m.snapshot.metadata.index},
                                     {"bytes", reader->total_bytes()}});
    transport_->SendSnapshot(std::move(m), std::move(reader));
  });
}

namespace {

// Hands the unpacked snapshot to the member once it is complete.
class StagingSink final : public SnapshotSink {
 public:
  StagingSink(std::unique_ptr<SnapshotUnpacker> unpacker, std::function<Status()> finish,
              std::function<void()> abandon)
      : unpacker_(std::move(unpacker)), finish_(std::move(finish)), abandon_(std::move(abandon)) {}
  ~StagingSink() override {
    if (!finished_) abandon_();
  }
  Status Write(std::string_view bytes) override { return unpacker_->Write(bytes); }
  Status Finish() override {
    CAIRN_RETURN_IF_ERROR(unpacker_->Finish());
    finished_ = true;
    return finish_();
  }

 private:
  std::unique_ptr<SnapshotUnpacker> unpacker_;
  std::function<Status()> finish_;
  std::function<void()> abandon_;
  bool finished_ = false;
};

}  // namespace

Result<std::unique_ptr<SnapshotSink>> Member::ReceiveSnapshot(raft::Message message,
                                                              uint64_t total_bytes) {
  if (stopped_) return etcd::Stopped();
  const std::string dir = config_.EffectiveDataDir() + ".snapshot-incoming";
  {
    std::lock_guard lock(snap_mu_);
    if (receiving_ || staged_index_ != 0) return Unavailable("a snapshot is being installed");
    receiving_ = true;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  auto unpacker = SnapshotUnpacker::Create(dir, total_bytes);
  if (!unpacker.ok()) {
    std::lock_guard lock(snap_mu_);
    receiving_ = false;
    return unpacker.status();
  }
  log::Info("receiving a snapshot", {{"from", IdToHex(message.from)},
                                     {"index", message.snapshot.metadata.index},
                                     {"bytes", total_bytes}});
  auto finish = [this, dir, m = std::move(message)]() mutable -> Status {
    {
      std::lock_guard lock(snap_mu_);
      receiving_ = false;
      staged_index_ = m.snapshot.metadata.index;
      staged_dir_ = dir;
    }
    // Raft decides whether it still wants it; if so, the next Ready carries it.
    Step(std::move(m));
    return Status::Ok();
  };
  auto abandon = [this, dir] {
    std::lock_guard lock(snap_mu_);
    receiving_ = false;
    std::error_code e;
    std::filesystem::remove_all(dir, e);
  };
  return std::unique_ptr<SnapshotSink>(
      new StagingSink(std::move(*unpacker), std::move(finish), std::move(abandon)));
}

Status Member::CopyStagedState(const std::string& staged,
                               std::unique_lock<std::shared_mutex>* switch_lock,
                               cairn::internal::Membership* installed) {
  storage::DbOptions options;
  options.checkpoint_interval_s = 0;
  CAIRN_ASSIGN_OR_RETURN(auto from_db, storage::Db::Open(staged, options));
  CAIRN_ASSIGN_OR_RETURN(auto from, from_db->OpenSession());
  CAIRN_ASSIGN_OR_RETURN(auto to, db_->OpenSession());
  // Every table of the replicated state; the raft log and its state stay this member's.
  const std::vector<std::string> tables = {storage::kMvccRevTable,     storage::kMvccIndexTable,
                                           storage::kMvccCurrentTable, storage::kMetaTable,
                                           lease::kLeaseTable,         lease::kLeaseKeysTable};
  // One transaction: a checkpoint, a reader or a crash sees the old state or the new one,
  // with its own applied index. Readers go on with the old one while it is copied.
  CAIRN_ASSIGN_OR_RETURN(storage::Transaction txn, storage::Transaction::Begin(to.get()));
  for (const std::string& uri : tables) {
    CAIRN_ASSIGN_OR_RETURN(storage::Cursor dst, to->OpenCursor(uri.c_str()));
    std::vector<std::string> old_keys;
    while (true) {
      CAIRN_ASSIGN_OR_RETURN(bool more, dst.Next());
      if (!more) break;
      old_keys.emplace_back(dst.key());
    }
    for (const std::string& k : old_keys) CAIRN_RETURN_IF_ERROR(dst.Delete(k));
    auto src_or = from->OpenCursor(uri.c_str());
    if (!src_or.ok()) continue;  // the sender never created it: it stays empty here
    storage::Cursor src = std::move(*src_or);
    while (true) {
      CAIRN_ASSIGN_OR_RETURN(bool more, src.Next());
      if (!more) break;
      CAIRN_RETURN_IF_ERROR(dst.Put(src.key(), src.value()));
    }
  }
  // The membership came with the state, under the sender's identity: this member's own goes
  // in the same transaction, so that no durable state ever names this member as another.
  CAIRN_ASSIGN_OR_RETURN(storage::Cursor meta, to->OpenCursor(storage::kMetaTable));
  CAIRN_ASSIGN_OR_RETURN(bool found, meta.Find(kMembershipKey));
  if (!found ||
      !installed->ParseFromArray(meta.value().data(), static_cast<int>(meta.value().size()))) {
    return DataLoss("the snapshot holds no membership record");
  }
  installed->set_member_id(id_);
  installed->set_cluster_id(cluster_id_);
  CAIRN_RETURN_IF_ERROR(meta.Put(kMembershipKey, installed->SerializeAsString()));
  if (switch_lock != nullptr) switch_lock->lock();
  return txn.Commit();
}

Result<uint64_t> Member::StagedIndex(const std::string& staged) {
  storage::DbOptions options;
  options.checkpoint_interval_s = 0;
  CAIRN_ASSIGN_OR_RETURN(auto db, storage::Db::Open(staged, options));
  CAIRN_ASSIGN_OR_RETURN(auto store, mvcc::Store::Open(db.get()));
  return store->applied_index();
}

Status Member::RecoverStagedSnapshot() {
  const std::string staged = config_.EffectiveDataDir() + ".snapshot-incoming";
  CAIRN_ASSIGN_OR_RETURN(raft::Snapshot logged, log_store_->GetSnapshot());
  const uint64_t applied = store_->applied_index();
  std::error_code ec;
  const bool have_staged = std::filesystem::exists(staged + "/WiredTiger", ec);
  if (logged.metadata.index <= applied) {
    // Nothing to finish: a snapshot that was arriving, or one installed already.
    std::filesystem::remove_all(staged, ec);
    return Status::Ok();
  }
  // The raft log took a received snapshot before a crash, the state did not: the staged
  // copy, synced before raft saw it, completes the install now.
  auto staged_index = have_staged ? StagedIndex(staged) : Result<uint64_t>(uint64_t{0});
  if (!staged_index.ok() || *staged_index != logged.metadata.index) {
    return DataLoss("the raft log starts after a snapshot at index " +
                    std::to_string(logged.metadata.index) + " but the state is at index " +
                    std::to_string(applied) + " and the received snapshot is missing from " +
                    staged + ": remove the data dir and add this member again");
  }
  log::Info("finishing the install of a snapshot interrupted by a stop",
            {{"index", logged.metadata.index}, {"applied-index", applied}});
  cairn::internal::Membership installed;
  CAIRN_RETURN_IF_ERROR(CopyStagedState(staged, nullptr, &installed));
  CAIRN_RETURN_IF_ERROR(db_->Checkpoint());
  CAIRN_RETURN_IF_ERROR(store_->Reload());
  CAIRN_ASSIGN_OR_RETURN(lessor_, lease::Lessor::Open(db_.get(), lease_options_));
  CAIRN_RETURN_IF_ERROR(LoadAlarms());  // they travel with the state
  hub_->Restore(store_->current_revision());
  {
    std::lock_guard lock(members_mu_);
    members_.clear();
    for (const auto& r : installed.members()) members_.push_back(FromRecord(r));
    removed_.assign(installed.removed().begin(), installed.removed().end());
  }
  std::filesystem::remove_all(staged, ec);
  return Status::Ok();
}

void Member::BeginInstall(const raft::Snapshot& snapshot) {
  {
    std::lock_guard lock(snap_mu_);
    if (staged_index_ != snapshot.metadata.index) {
      log::Error("raft installs a snapshot that was not received; stopping",
                 {{"index", snapshot.metadata.index}, {"staged", staged_index_}});
      std::abort();
    }
    staged_claimed_ = true;
  }
  // The log first (synced): the staged state is on disk already, so a crash from here on
  // finishes the install when the member starts again (RecoverStagedSnapshot).
  Status s = log_store_->ApplySnapshot(snapshot);
  if (!s.ok()) {
    log::Error("cannot record a received snapshot; stopping", {{"error", s.ToString()}});
    std::abort();
  }
  log_first_index_ = snapshot.metadata.index + 1;
  // The apply thread replaces the state, in log order; raft goes on meanwhile (heartbeats,
  // elections) and leaves the lessor alone until it is done.
  installing_ = true;
  {
    std::lock_guard lock(apply_mu_);
    installs_.push_back(snapshot);
    apply_queue_.emplace_back();  // the install's place among the committed entries
  }
  apply_cv_.notify_one();
}

void Member::InstallSnapshotState(const raft::Snapshot& snapshot) {
  std::string staged;
  {
    std::lock_guard lock(snap_mu_);
    staged = staged_dir_;
  }
  log::Info("installing a snapshot", {{"index", snapshot.metadata.index}});
  cairn::internal::Membership installed;
  {
    std::unique_lock close(close_mu_, std::defer_lock);  // taken just before the commit
    Status s = CopyStagedState(staged, &close, &installed);
    // A compaction batch that wrote the same rows first wins (WiredTiger's conflict): the
    // copy starts again; the compactor, when it loses, retries its batch itself.
    for (int attempt = 1; s.code() == Code::kAborted && attempt < 20; ++attempt) {
      if (close.owns_lock()) close.unlock();
      log::Warn("snapshot install conflicted with a concurrent write; retrying",
                {{"error", s.ToString()}});
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      s = CopyStagedState(staged, &close, &installed);
    }
    if (s.ok() && !close.owns_lock()) close.lock();
    if (s.ok()) s = store_->Reload();
    if (s.ok()) {
      auto lessor = lease::Lessor::Open(db_.get(), lease_options_);
      if (lessor.ok()) {
        lessor_ = std::move(*lessor);
      } else {
        s = lessor.status();
      }
    }
    if (!s.ok()) {
      log::Error("cannot install a snapshot; stopping", {{"error", s.ToString()}});
      std::abort();
    }
    {
      std::lock_guard lock(members_mu_);
      members_.clear();
      for (const auto& r : installed.members()) members_.push_back(FromRecord(r));
      removed_.assign(installed.removed().begin(), installed.removed().end());
    }
    // So did the alarms.
    if (Status a = LoadAlarms(); !a.ok())
      log::Error("cannot load alarms", {{"error", a.ToString()}});
    applied_ = snapshot.metadata.index;
    applied_term_ = snapshot.metadata.term;
    is_learner_ = std::find(snapshot.metadata.conf_state.learners.begin(),
                            snapshot.metadata.conf_state.learners.end(),
                            id_) != snapshot.metadata.conf_state.learners.end();
    hub_->Restore(store_->current_revision());
  }
  installing_ = false;
  if (transport_) {
    for (const auto& r : installed.members()) {
      if (r.id() != id_) transport_->SetPeer(r.id(), {r.peer_urls().begin(), r.peer_urls().end()});
    }
  }
  // Durable before the staged copy goes: until then, a restart installs it again.
  Status s = db_->Checkpoint();
  if (!s.ok()) {
    log::Error("cannot checkpoint an installed snapshot; stopping", {{"error", s.ToString()}});
    std::abort();
  }
  durable_applied_ = snapshot.metadata.index;
  {
    std::lock_guard lock(snap_mu_);
    staged_index_ = 0;
    staged_claimed_ = false;
    staged_dir_.clear();
  }
  std::error_code ec;
  std::filesystem::remove_all(staged, ec);
  {
    std::lock_guard lock(compact_mu_);
    compact_pending_ = true;  // a compaction the snapshot's state left unfinished
  }
  compact_cv_.notify_one();
  log::Info("installed a snapshot",
            {{"index", snapshot.metadata.index}, {"revision", store_->current_revision()}});
}

void Member::MaybePublish(Clock::time_point now) {
  if (published_.load() || leader_.load() == 0 || now < next_publish_) return;
  next_publish_ = now + kPublishRetry;
  cairn::internal::Request ir;
  auto* rec = ir.mutable_publish();
  rec->set_id(id_);
  rec->set_name(config_.name);
  for (const Url& u : config_.advertise_client_urls) rec->add_client_urls(u.text);
  ProposeInternal(std::move(ir));
}

void Member::Step(raft::Message message) {
  {
    std::lock_guard lock(raft_mu_);
    if (raft_stop_) return;
    incoming_.push_back(std::move(message));
  }
  raft_cv_.notify_one();
}

void Member::StepBatch(std::vector<raft::Message> messages) {
  {
    std::lock_guard lock(raft_mu_);
    if (raft_stop_) return;
    for (raft::Message& m : messages) incoming_.push_back(std::move(m));
  }
  raft_cv_.notify_one();
}

void Member::ReportUnreachable(uint64_t id) {
  {
    std::lock_guard lock(raft_mu_);
    if (raft_stop_) return;
    unreachable_.push_back(id);
  }
  raft_cv_.notify_one();
}

void Member::ReportSnapshot(uint64_t id, bool ok) {
  {
    std::lock_guard lock(raft_mu_);
    if (raft_stop_) return;
    snapshot_reports_.emplace_back(id, ok);
  }
  raft_cv_.notify_one();
}

void Member::MaybeCompactLog() {
  // Replay after a crash starts above the last checkpointed applied index, so the log
  // below it (less a tail for lagging followers) is no longer needed. etcd compacts every
  // --snapshot-count entries; so does Cairn.
  const uint64_t durable = durable_applied_.load();
  const uint64_t tail = std::min<uint64_t>(kLogCatchUpEntries, config_.snapshot_count);
  if (durable <= tail) return;
  const uint64_t target = durable - tail;
  auto first = log_store_->FirstIndex();
  if (!first.ok() || target < *first || target - *first < config_.snapshot_count) return;
  // Raft sends a follower that needs entries below the log's start a snapshot, and needs
  // this record to know where one begins; the data travels separately (SendSnapshotMessage).
  auto initial = log_store_->GetInitialState();
  if (!initial.ok()) return;
  Status s = log_store_->CreateSnapshot(target, initial->conf_state, "");
  if (!s.ok() && !raft::IsSnapshotOutOfDate(s)) {
    log::Error("cannot record a raft snapshot", {{"error", s.ToString()}});
    return;
  }
  s = log_store_->Compact(target);
  if (!s.ok()) {
    log::Error("cannot compact the raft log", {{"error", s.ToString()}});
    return;
  }
  log_first_index_ = target;
}

void Member::RetryReads(Clock::time_point now) {
  for (auto it = reads_in_flight_.begin(); it != reads_in_flight_.end();) {
    ReadBatch& batch = it->second;
    if (batch.deadline <= now) {
      for (auto& r : batch.reads) r(etcd::Timeout());
      it = reads_in_flight_.erase(it);
      continue;
    }
    if (now - batch.sent >= kReadIndexRetry) {
      batch.sent = now;
      node_->ReadIndex(EncodeReadContext(it->first));
    }
    ++it;
  }
}

void Member::HandleReady(raft::Ready rd) {
  if (rd.soft_state) {
    const uint64_t lead = rd.soft_state->lead;
    // A lessor being replaced by an install starts demoted anyway.
    if (lead != id_ && !installing_) lessor_->Demote();
    if (leader_.exchange(lead) != lead) {
      log::Info("leader changed",
                {{"leader", IdToHex(lead)},
                 {"role", std::string(raft::StateRoleName(rd.soft_state->role))}});
    }
  }
  // Before any message tells a follower of it: a leader answers lease calls once it
  // applied its commit index (AfterCommittedApplied), which must be at least what a
  // follower that answered the client had applied.
  if (rd.hard_state) committed_ = rd.hard_state->commit;
  // A leader's appends may go out before its own write (see raft.h).
  SendMessages(std::move(rd.messages));
  if (!rd.snapshot.IsEmpty()) BeginInstall(rd.snapshot);
  // Committed entries below this Ready's new ones are durable already: they apply while the
  // new ones are written (etcd applies in parallel with its WAL write too), so a batch's
  // replies do not wait for the next batch's fsync. A follower's committed entries may be
  // among the new ones; those wait for the write.
  std::vector<raft::Entry> unpersisted;
  if (!rd.entries.empty()) {
    auto first_new =
        std::find_if(rd.committed_entries.begin(), rd.committed_entries.end(),
                     [&](const raft::Entry& e) { return e.index >= rd.entries.front().index; });
    unpersisted.assign(std::make_move_iterator(first_new),
                       std::make_move_iterator(rd.committed_entries.end()));
    rd.committed_entries.erase(first_new, rd.committed_entries.end());
  }
  ApplyCommitted(std::move(rd.committed_entries), /*may_apply_here=*/rd.entries.empty());
  if (rd.hard_state || !rd.entries.empty()) {
    Status s = log_store_->Save(rd.hard_state, rd.entries, rd.must_sync);
    if (!s.ok()) {
      // Raft's promises rest on this write: without it the member cannot go on.
      log::Error("cannot persist raft log; stopping", {{"error", s.ToString()}});
      std::abort();
    }
    if (rd.hard_state) term_ = rd.hard_state->term;
  }
  SendMessages(std::move(rd.messages_after_persist));
  ApplyCommitted(std::move(unpersisted), /*may_apply_here=*/true);
  for (const raft::ReadState& rs : rd.read_states) {
    auto it = reads_in_flight_.find(DecodeReadContext(rs.request_ctx));
    if (it == reads_in_flight_.end()) continue;  // answered already (a retried round)
    ReadBatch batch = std::move(it->second);
    reads_in_flight_.erase(it);
    OnReadIndex(rs.index, std::move(batch));
  }
  node_->Advance();
}

// Hands committed entries to the apply thread, which applies them in order. Raft's own
// membership follows a conf change first, here on the raft thread.
void Member::ApplyCommitted(std::vector<raft::Entry> entries, bool may_apply_here) {
  if (entries.empty()) return;
  for (const raft::Entry& e : entries) FollowConfChange(e);
  if (may_apply_here && ApplyHere(entries)) return;
  {
    std::lock_guard lock(apply_mu_);
    apply_queue_.push_back(std::move(entries));
  }
  apply_cv_.notify_one();
}

// A lone put, committed while the apply thread idles, applies on the raft thread: waking an
// idle thread costs about as much as applying one put (13-19 us against 21 us, put with one
// client on this machine) and its reply waits for both. Only what is cheap and bounded
// applies here, since the raft thread must keep ticking, voting and sending heartbeats: one
// put (one key, a value within --max-request-bytes), no watch stream open (Notify then
// finds no watcher to wake), the apply gate free (a snapshot being taken holds it; it is only
// tried). Deletes of a range, txns, lease revokes and compactions cost what they touch, and
// always go to the apply thread.
bool Member::ApplyHere(std::vector<raft::Entry>& entries) {
  if (entries.size() != 1 || entries[0].type != raft::EntryType::kNormal) return false;
  cairn::internal::Request req;
  if (entries[0].data.empty() || !ParseRequest(entries[0].data, &req) || !req.has_put()) {
    return false;
  }
  std::unique_lock lock(apply_mu_);
  if (applying_ || !apply_queue_.empty() || apply_stop_) return false;
  std::unique_lock gate(apply_gate_, std::try_to_lock);
  if (!gate.owns_lock() || hub_->counts().streams != 0) return false;
  applying_ = true;
  lock.unlock();
  ApplyBatch(std::move(entries), std::nullopt, std::move(gate));
  lock.lock();
  applying_ = false;
  return true;
}

void Member::FollowConfChange(const raft::Entry& e) {
  if (e.type != raft::EntryType::kConfChange) return;
  auto change = raft::DecodeConfChange(e.data);
  if (!change.ok()) return;
  auto conf = node_->ApplyConfChange(*change);
  if (conf.ok()) {
    Status s = log_store_->SetConfState(*conf);
    if (!s.ok()) log::Error("cannot save membership", {{"error", s.ToString()}});
    is_learner_ =
        std::find(conf->learners.begin(), conf->learners.end(), id_) != conf->learners.end();
    cairn::internal::ConfChangeContext ctx;
    if (transport_ && change->node_id != id_ && ctx.ParseFromString(change->context)) {
      if (change->type == raft::ConfChangeType::kRemoveNode) {
        transport_->RemovePeer(change->node_id);
      } else if (ctx.member().peer_urls_size() > 0) {
        transport_->SetPeer(change->node_id,
                            {ctx.member().peer_urls().begin(), ctx.member().peer_urls().end()});
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// Apply thread

void Member::OnReadIndex(uint64_t index, ReadBatch batch) {
  {
    std::lock_guard lock(apply_mu_);
    if (applied_.load() < index) {
      reads_waiting_.emplace(index, std::move(batch));
      return;
    }
  }
  RunReads(std::move(batch.reads));
}

void Member::AfterCommittedApplied(std::function<void(Status)> fn) {
  const Clock::time_point now = Clock::now();
  ReadBatch batch{{}, now, now + request_timeout_};
  batch.reads.push_back(std::move(fn));
  OnReadIndex(committed_.load(), std::move(batch));
}

void Member::ReleaseReads() {
  std::vector<std::function<void(Status)>> ready;
  {
    std::lock_guard lock(apply_mu_);
    auto end = reads_waiting_.upper_bound(applied_.load());
    for (auto it = reads_waiting_.begin(); it != end; ++it) {
      for (auto& r : it->second.reads) ready.push_back(std::move(r));
    }
    reads_waiting_.erase(reads_waiting_.begin(), end);
  }
  RunReads(std::move(ready));
}

void Member::ApplyLoop() {
  while (true) {
    std::vector<raft::Entry> entries;
    std::optional<raft::Snapshot> install;
    {
      std::unique_lock lock(apply_mu_);
      apply_cv_.wait(lock, [&] { return apply_stop_ || !apply_queue_.empty(); });
      if (apply_queue_.empty()) break;  // stopping, and nothing left to apply
      entries = std::move(apply_queue_.front());
      apply_queue_.pop_front();
      // An empty batch is a snapshot's place in the log (BeginInstall).
      if (entries.empty() && !installs_.empty()) {
        install = std::move(installs_.front());
        installs_.pop_front();
      }
      applying_ = true;
    }
    ApplyBatch(std::move(entries), std::move(install), std::unique_lock(apply_gate_));
    std::lock_guard lock(apply_mu_);
    applying_ = false;
  }
}

void Member::ApplyBatch(std::vector<raft::Entry> entries, std::optional<raft::Snapshot> install,
                        std::unique_lock<std::mutex> gate) {
  if (install) InstallSnapshotState(*install);
  // A run of puts, deletes and txns applies in one store transaction (Writes), committed
  // before anything else applies, before their replies go and when the batch ends.
  for (const raft::Entry& e : entries) ApplyEntry(e);
  FlushWrites();
  gate.unlock();
  // The replies, on this thread: a completion only hands its answer to the front end.
  for (const auto& reply : replies_) reply();
  replies_.clear();
  ReleaseReads();
  if ((Clock::now() - last_checkpoint_ >= kCheckpointInterval ||
       applied_.load() - durable_applied_.load() >= config_.snapshot_count) &&
      !checkpoint_running_.exchange(true)) {
    last_checkpoint_ = Clock::now();
    // A checkpoint writes every dirty page: applying goes on meanwhile.
    checkpointer_.Push([this] {
      auto durable = store_->Checkpoint();
      if (durable.ok()) {
        durable_applied_ = *durable;
      } else {
        log::Error("checkpoint failed", {{"error", durable.status().ToString()}});
      }
      checkpoint_running_ = false;
    });
  }
}

void Member::ApplyConfChangeEntry(const raft::Entry& entry) {
  // Raft's own membership changed on the raft thread (HandleReady); here the cluster's
  // record of its members follows, in log order.
  auto change = raft::DecodeConfChange(entry.data);
  cairn::internal::ConfChangeContext ctx;
  std::function<void()> on_removed;
  if (change.ok() && ctx.ParseFromString(change->context)) {
    {
      std::lock_guard lock(members_mu_);
      auto it = std::find_if(members_.begin(), members_.end(),
                             [&](const MemberInfo& m) { return m.id == change->node_id; });
      switch (change->type) {
        case raft::ConfChangeType::kRemoveNode:
          if (it != members_.end()) members_.erase(it);
          if (change->node_id == id_ && on_removed_) on_removed = std::move(on_removed_);
          if (std::find(removed_.begin(), removed_.end(), change->node_id) == removed_.end()) {
            removed_.push_back(change->node_id);
          }
          break;
        case raft::ConfChangeType::kAddVoter:
        case raft::ConfChangeType::kAddLearner:
        case raft::ConfChangeType::kUpdateNode: {
          MemberInfo info = FromRecord(ctx.member());
          info.id = change->node_id;
          if (it == members_.end()) {
            info.is_learner = change->type == raft::ConfChangeType::kAddLearner;
            members_.push_back(std::move(info));
          } else {
            if (change->type != raft::ConfChangeType::kUpdateNode) {
              it->is_learner = change->type == raft::ConfChangeType::kAddLearner;
            }
            if (!info.peer_urls.empty()) it->peer_urls = std::move(info.peer_urls);
          }
          break;
        }
      }
    }
    Status s = SaveMembership();
    if (!s.ok()) log::Error("cannot save membership", {{"error", s.ToString()}});
  }
  StoreAppliedIndex(entry.index);
  applied_ = entry.index;
  if (ctx.id() != 0) {
    Completion done;
    {
      std::lock_guard lock(wait_mu_);
      auto it = waiters_.find(ctx.id());
      if (it != waiters_.end()) {
        done = std::move(it->second);
        waiters_.erase(it);
      }
    }
    if (done) done(Status::Ok(), {});
  }
  if (on_removed) {
    log::Warn("this member was removed from the cluster");
    on_removed();
  }
}

void Member::ApplyPublish(const cairn::internal::MemberRecord& record) {
  {
    std::lock_guard lock(members_mu_);
    for (MemberInfo& m : members_) {
      if (m.id != record.id()) continue;
      m.name = record.name();
      m.client_urls.assign(record.client_urls().begin(), record.client_urls().end());
    }
  }
  Status s = SaveMembership();
  if (!s.ok()) log::Error("cannot save membership", {{"error", s.ToString()}});
  if (record.id() == id_) published_ = true;
}

mvcc::Store::Batch* Member::Writes() {
  if (writes_ == nullptr) {
    auto batch = store_->BeginBatch();
    if (!batch.ok()) {
      // Nothing can apply without the store: the member cannot go on.
      log::Error("cannot write to the store; stopping", {{"error", batch.status().ToString()}});
      std::abort();
    }
    writes_ = std::move(*batch);
  }
  return writes_.get();
}

void Member::FlushWrites() {
  if (writes_ == nullptr) return;
  Status s = writes_->Commit(writes_index_);
  if (!s.ok()) {
    // A write failed after changing the store, or the commit failed: the entries of this
    // batch are neither applied nor refused, and replies promise one or the other.
    log::Error("cannot commit applied writes; stopping", {{"error", s.ToString()}});
    std::abort();
  }
  writes_.reset();
  writes_count_ = 0;
  for (std::vector<mvcc::Event>& events : writes_events_) {
    UpdateLeaseAttachments(events);
    // Every event of one write carries that write's revision.
    hub_->Notify(events.front().kv.mod_revision, events);
  }
  writes_events_.clear();
  // Published before the waiters hear of their writes (their replies go after this).
  applied_ = writes_index_;
}

void Member::StoreAppliedIndex(uint64_t index) {
  Status s = store_->SetAppliedIndex(index);
  if (!s.ok()) log::Error("cannot store applied index", {{"error", s.ToString()}});
}

void Member::UpdateLeaseAttachments(const std::vector<mvcc::Event>& events) {
  for (const mvcc::Event& e : events) {
    const int64_t before = e.prev_kv ? e.prev_kv->lease : 0;
    const int64_t after = e.type == mvcc::Event::Type::kPut ? e.kv.lease : 0;
    if (before == after) continue;
    // A detach from a lease being revoked finds it gone already: nothing to do.
    if (before != 0) lessor_->Detach(before, e.kv.key).IgnoreError();
    if (after != 0) {
      Status s = lessor_->Attach(after, e.kv.key);
      if (!s.ok()) log::Error("cannot attach key to lease", {{"error", s.ToString()}});
    }
  }
}

bool Member::LeasesExist(const etcdserverpb::TxnRequest& req) const {
  for (const auto* branch : {&req.success(), &req.failure()}) {
    for (const auto& op : *branch) {
      if (op.has_request_put() && op.request_put().lease() != 0 &&
          !op.request_put().ignore_lease() && !lessor_->Exists(op.request_put().lease())) {
        return false;
      }
      if (op.has_request_txn() && !LeasesExist(op.request_txn())) return false;
    }
  }
  return true;
}

Status Member::ApplyLeaseRevoke(int64_t id, uint64_t index, std::vector<mvcc::Event>* events) {
  auto keys = lessor_->Revoke(id);
  if (!keys.ok()) {
    StoreAppliedIndex(index);
    return keys.status();
  }
  if (keys->empty()) {
    StoreAppliedIndex(index);
    return Status::Ok();
  }
  // Every key of the lease goes in one revision.
  mvcc::TxnRequest txn;
  for (std::string& key : *keys) {
    mvcc::DeleteRangeRequest del;
    del.key = std::move(key);
    txn.success.push_back({std::move(del)});
  }
  return store_->Txn(txn, index, events).status();
}

void Member::ApplyEntry(const raft::Entry& entry) {
  if (entry.index <= store_->applied_index()) return;  // applied before a restart
  applied_term_ = entry.term;
  cairn::internal::Request req;
  const bool parsed = entry.type == raft::EntryType::kNormal && !entry.data.empty() &&
                      ParseRequest(entry.data, &req);
  const bool batched = parsed && !(nospace_ && QuotaCost(req) > 0) &&
                       (req.has_put() || req.has_delete_range() || req.has_txn());
  if (batched) return ApplyWrite(entry.index, req);
  // Everything else applies alone, after the writes before it.
  FlushWrites();
  if (entry.type == raft::EntryType::kConfChange) return ApplyConfChangeEntry(entry);
  if (!parsed) {
    if (entry.type == raft::EntryType::kNormal && !entry.data.empty()) {
      log::Error("skipping an entry that does not parse", {{"index", entry.index}});
      if (uint64_t id = RecoverRequestId(entry.data); id != 0) {
        applied_ = entry.index;
        StoreAppliedIndex(entry.index);
        Fail(id, Internal("the request could not be decoded when applied"));
        return;
      }
    }
    // The empty entry a leader opens its term with: every earlier grant and checkpoint has
    // applied, so leases may start to expire (etcd promotes its lessor at the same point).
    if (entry.type == raft::EntryType::kNormal && entry.data.empty() && leader_.load() == id_ &&
        entry.term == term_.load()) {
      lessor_->Promote(NowMs(), config_.election_timeout_ms);
    }
    StoreAppliedIndex(entry.index);
    applied_ = entry.index;
    return;
  }

  Status status;
  ApplyResult result;
  std::vector<mvcc::Event> events;
  bool compaction_applied = false;
  if (nospace_ && QuotaCost(req) > 0) {
    // etcd's capped applier: while NOSPACE is raised, nothing that adds data applies.
    status = etcd::NoSpace();
    StoreAppliedIndex(entry.index);
  } else {
    switch (req.request_case()) {
      case cairn::internal::Request::kCompaction: {
        auto r = store_->Compact(req.compaction().revision(), entry.index);
        if (r.ok()) {
          result = *r;
          compaction_applied = true;
        } else {
          status = r.status();
        }
        break;
      }
      case cairn::internal::Request::kLeaseGrant: {
        const auto& grant = req.lease_grant();
        status = lessor_->Grant(grant.id(), grant.ttl(), NowMs());
        if (status.ok()) {
          auto ttl = lessor_->TimeToLive(grant.id(), NowMs(), false);
          result = LeaseGranted{grant.id(), ttl.ok() ? ttl->granted_ttl : grant.ttl()};
        }
        StoreAppliedIndex(entry.index);
        break;
      }
      case cairn::internal::Request::kLeaseRevoke:
        status = ApplyLeaseRevoke(req.lease_revoke().id(), entry.index, &events);
        break;
      case cairn::internal::Request::kLeaseCheckpoint:
        for (const auto& cp : req.lease_checkpoint().checkpoints()) {
          Status s = lessor_->ApplyCheckpoint(cp.id(), cp.remaining_ttl(), NowMs());
          if (!s.ok()) log::Error("cannot apply lease checkpoint", {{"error", s.ToString()}});
        }
        StoreAppliedIndex(entry.index);
        break;
      case cairn::internal::Request::kPublish:
        ApplyPublish(req.publish());
        StoreAppliedIndex(entry.index);
        break;
      case cairn::internal::Request::kAlarm:
        result = ApplyAlarm(req.alarm());
        StoreAppliedIndex(entry.index);
        break;
      default:
        status = Unimplemented("request not supported yet");
        StoreAppliedIndex(entry.index);
        break;
    }
  }
  if (!events.empty()) {
    UpdateLeaseAttachments(events);
    // Every event of one write carries that write's revision.
    hub_->Notify(events.front().kv.mod_revision, events);
  }

  // Published before the waiter hears of it, so what a client sees after its write
  // acknowledges at least this index.
  applied_ = entry.index;
  Completion done = TakeWaiter(req.id());
  if (compaction_applied) {
    {
      std::lock_guard lock(compact_mu_);
      compact_pending_ = true;
      if (done && req.compaction().physical()) {
        // Answer once a compactor run that starts after this has removed what the
        // compaction made unreachable.
        compact_waiters_.push_back([done = std::move(done), result = std::move(result)](
                                       Status s) mutable { done(s, std::move(result)); });
        done = nullptr;
      }
    }
    compact_cv_.notify_one();
  }
  QueueReply(std::move(done), status, std::move(result));
}

void Member::ApplyWrite(uint64_t index, const cairn::internal::Request& req) {
  mvcc::Store::Batch* writes = Writes();
  Status status;
  ApplyResult result;
  std::vector<mvcc::Event> events;
  auto take = [&](auto r) {
    if (r.ok()) {
      result = std::move(*r);
    } else {
      status = r.status();
    }
  };
  switch (req.request_case()) {
    case cairn::internal::Request::kPut: {
      const auto& put = req.put();
      if (put.lease() != 0 && !put.ignore_lease() && !lessor_->Exists(put.lease())) {
        status = etcd::LeaseNotFound();
      } else {
        take(writes->Put(FromProto(put), &events));
      }
      break;
    }
    case cairn::internal::Request::kDeleteRange:
      take(writes->DeleteRange(FromProto(req.delete_range()), &events));
      break;
    case cairn::internal::Request::kTxn:
      if (!LeasesExist(req.txn())) {
        status = etcd::LeaseNotFound();
      } else {
        take(writes->Txn(FromProto(req.txn()), &events));
      }
      break;
    default: status = Internal("not a write"); break;
  }
  // A refused write is applied all the same: the batch's commit stores its index.
  writes_index_ = index;
  if (writes->broken()) FlushWrites();  // which stops the member
  if (!events.empty()) writes_events_.push_back(std::move(events));
  QueueReply(TakeWaiter(req.id()), status, std::move(result));
  // A member catching up applies thousands of entries at once: a transaction that large
  // would hold on to WiredTiger's cache.
  if (++writes_count_ >= kMaxBatchedWrites) FlushWrites();
}

Member::Completion Member::TakeWaiter(uint64_t id) {
  std::lock_guard lock(wait_mu_);
  auto it = waiters_.find(id);
  if (it == waiters_.end()) return nullptr;
  Completion done = std::move(it->second);
  waiters_.erase(it);
  return done;
}

void Member::QueueReply(Completion done, Status status, ApplyResult result) {
  if (!done) return;
  replies_.push_back([done = std::move(done), status, result = std::move(result)]() mutable {
    done(status, std::move(result));
  });
}

// ---------------------------------------------------------------------------------------
// Readers and compactor

void Member::RunReads(std::vector<std::function<void(Status)>> reads) {
  if (reads.empty()) return;
  // One task per reader thread, not one per read: a batch of reads costs each reader one
  // wake-up.
  const size_t chunks = std::min<size_t>(kReaders, reads.size());
  const size_t per_chunk = (reads.size() + chunks - 1) / chunks;
  for (size_t begin = 0; begin < reads.size(); begin += per_chunk) {
    const size_t end = std::min(reads.size(), begin + per_chunk);
    std::vector<std::function<void(Status)>> chunk(std::make_move_iterator(reads.begin() + begin),
                                                   std::make_move_iterator(reads.begin() + end));
    readers_.Push([chunk = std::move(chunk)] {
      for (const auto& read : chunk) read(Status::Ok());
    });
  }
}

void Member::CompactorLoop() {
  while (true) {
    // The waiters taken now belong to compactions applied before this run starts.
    std::vector<std::function<void(Status)>> waiters;
    {
      std::unique_lock lock(compact_mu_);
      compact_cv_.wait(lock, [&] { return compact_stop_ || compact_pending_; });
      if (compact_stop_) return;
      compact_pending_ = false;
      waiters.swap(compact_waiters_);
    }
    Status s = store_->RunCompaction();
    if (!s.ok()) log::Error("compaction failed", {{"error", s.ToString()}});
    for (auto& w : waiters) w(s);
  }
}

}  // namespace cairn::server
