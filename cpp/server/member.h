// One Cairn member: raft, the raft log, the MVCC state and the threads that drive them.
// The daemon only configures and runs one; the C ABI starts the same object in-process.
//
// A write: the caller's request becomes a raft entry (proto/cairn/internal.proto) with an
// id the caller's completion waits on; the raft thread proposes it, persists each Ready in
// one synced WiredTiger transaction (group commit) and hands committed entries to the apply
// thread, which applies them in order, each in one transaction with the applied index, and
// completes the waiter. A linearizable read joins the next batched ReadIndex round, then
// runs on a reader thread once the applied index reaches the read index.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "base/status.h"
#include "cairn/internal.pb.h"
#include "etcd/etcdserverpb/rpc.pb.h"
#include "lease/lessor.h"
#include "mvcc/store.h"
#include "raft/raft.h"
#include "server/config.h"
#include "server/snapshot.h"
#include "server/transport.h"
#include "server/work_queue.h"
#include "storage/db.h"
#include "storage/log_store.h"
#include "watch/hub.h"

namespace cairn::server {

struct MemberInfo {
  uint64_t id = 0;
  std::string name;
  std::vector<std::string> peer_urls;
  std::vector<std::string> client_urls;
  bool is_learner = false;
};

// The deadline of the client call that the current thread is handing to a member, for as
// long as this object lives (rpc/ sets it around each call). A proposal still waiting for
// a leader when its caller's deadline passes is dropped, as etcd drops a proposal whose
// caller has gone: it must not commit later behind the back of a caller told it failed.
class CallDeadline {
 public:
  explicit CallDeadline(std::chrono::steady_clock::time_point deadline);
  ~CallDeadline();
  CallDeadline(const CallDeadline&) = delete;
  CallDeadline& operator=(const CallDeadline&) = delete;
  // The innermost deadline set on this thread; time_point::max() when none is.
  static std::chrono::steady_clock::time_point Current();

 private:
  std::chrono::steady_clock::time_point previous_;
};

// Thread safety: every public method may be called from any thread once Start returned.
// Completions (Done) run on the member's own threads: they must not block.
class Member final : public TransportEvents, public PeerHandler {
 public:
  // Validates `config` (as Validate does) and starts the member on it. A member of a
  // cluster of more than one needs `transport` to reach its peers; it owns it and stops it
  // in Stop.
  static Result<std::unique_ptr<Member>> Start(const Config& config,
                                               std::unique_ptr<Transport> transport = nullptr);
  // Stops as Stop() does.
  ~Member() override;
  Member(const Member&) = delete;
  Member& operator=(const Member&) = delete;

  // Stops the threads, fails outstanding calls with "etcdserver: server stopped", and
  // closes the database. Idempotent.
  void Stop();

  // KV. Requests are checked as etcd checks them (empty key, sizes, txn ops, duplicates).
  void Range(const etcdserverpb::RangeRequest& req, etcdserverpb::RangeResponse* resp, Done done);
  void Put(const etcdserverpb::PutRequest& req, etcdserverpb::PutResponse* resp, Done done);
  void DeleteRange(const etcdserverpb::DeleteRangeRequest& req,
                   etcdserverpb::DeleteRangeResponse* resp, Done done);
  void Txn(const etcdserverpb::TxnRequest& req, etcdserverpb::TxnResponse* resp, Done done);
  void Compact(const etcdserverpb::CompactionRequest& req, etcdserverpb::CompactionResponse* resp,
               Done done);

  // Leases. Grant and Revoke go through raft; the others are answered by the leader.
  void LeaseGrant(const etcdserverpb::LeaseGrantRequest& req,
                  etcdserverpb::LeaseGrantResponse* resp, Done done);
  void LeaseRevoke(const etcdserverpb::LeaseRevokeRequest& req,
                   etcdserverpb::LeaseRevokeResponse* resp, Done done);
  // A follower forwards these three to the leader, as etcd does. A missing lease answers
  // TTL -1 to TimeToLive and TTL 0 to a keepalive, as etcd's do.
  void LeaseTimeToLive(const etcdserverpb::LeaseTimeToLiveRequest& req,
                       etcdserverpb::LeaseTimeToLiveResponse* resp, Done done);
  void LeaseLeases(etcdserverpb::LeaseLeasesResponse* resp, Done done);
  void LeaseKeepAlive(const etcdserverpb::LeaseKeepAliveRequest& req,
                      etcdserverpb::LeaseKeepAliveResponse* resp, Done done);
  // The same, answered here as the leader (the peer service calls these for a follower).
  void LeaderLeaseTimeToLive(const etcdserverpb::LeaseTimeToLiveRequest& req,
                             etcdserverpb::LeaseTimeToLiveResponse* resp, Done done) override;
  void LeaderLeaseLeases(etcdserverpb::LeaseLeasesResponse* resp, Done done) override;
  void LeaderLeaseKeepAlive(const etcdserverpb::LeaseKeepAliveRequest& req,
                            etcdserverpb::LeaseKeepAliveResponse* resp, Done done) override;

  // Watch: a stream per Watch RPC; `wake` runs when the stream has responses to pop (see
  // watch::WakeFn). Null once stopped. Every stream must be destroyed before Stop.
  std::unique_ptr<watch::Stream> OpenWatchStream(watch::WakeFn wake);

  // Membership: proposes a single-step change whose entry carries `member` (its id is the
  // node's); `done` runs once every member's record of the cluster applied it. Raft refuses
  // a second change while one is pending ("etcdserver: leader changed" then).
  void ProposeConfChange(raft::ConfChangeType type, const cairn::internal::MemberRecord& member,
                         Done done);

  // Cluster API, with etcd's checks (server.go's may* functions) and errors. Promote asks
  // the leader whether the learner caught up; MemberList with linearizable waits for a
  // read index first.
  void MemberAdd(const etcdserverpb::MemberAddRequest& req, etcdserverpb::MemberAddResponse* resp,
                 Done done);
  void MemberRemove(const etcdserverpb::MemberRemoveRequest& req,
                    etcdserverpb::MemberRemoveResponse* resp, Done done);
  void MemberUpdate(const etcdserverpb::MemberUpdateRequest& req,
                    etcdserverpb::MemberUpdateResponse* resp, Done done);
  void MemberPromote(const etcdserverpb::MemberPromoteRequest& req,
                     etcdserverpb::MemberPromoteResponse* resp, Done done);
  void MemberList(const etcdserverpb::MemberListRequest& req,
                  etcdserverpb::MemberListResponse* resp, Done done);
  // On the leader: hands leadership to `req.targetid()`; done once it leads.
  void MoveLeader(const etcdserverpb::MoveLeaderRequest& req, Done done);
  // On the leader with other voters: hands leadership to the most caught-up voter and
  // waits for it (at most the request timeout), so that a graceful stop does not leave
  // the cluster to wait out an election. Call before Stop.
  void HandOverLeadership();
  // Runs once when this member applied its own removal (the daemon then exits, as etcd).
  void SetOnRemoved(std::function<void()> on_removed);
  Status LearnerReady(uint64_t id) override;

  // etcd's alarms. NOSPACE is raised when a write would grow the database past
  // --quota-backend-bytes; while it is raised, every member refuses what adds data (puts,
  // txns with puts, lease grants) with etcd's NoSpace, and reads, deletes and compactions go
  // on. GET answers after a read index; ACTIVATE and DEACTIVATE go through raft.
  void Alarm(const etcdserverpb::AlarmRequest& req, etcdserverpb::AlarmResponse* resp, Done done);

  // Maintenance and cluster (answered locally).
  Status GetStatus(etcdserverpb::StatusResponse* resp);
  Status HashKV(const etcdserverpb::HashKVRequest& req, etcdserverpb::HashKVResponse* resp);
  Status Hash(etcdserverpb::HashResponse* resp);
  std::vector<MemberInfo> Members() const;
  // The membership as the peer service hands it to a member that joins.
  RemoteCluster ClusterView() const override;
  // Returns free space in the database files to the file system, online.
  Status Defragment();
  // A consistent snapshot of the database (see server/snapshot.h). The member must outlive
  // the reader.
  Result<std::unique_ptr<SnapshotReader>> OpenSnapshot();

  // The header every response carries, at the store's current revision.
  void FillHeader(etcdserverpb::ResponseHeader* header) const;

  // Peers: a raft message received from another member of this cluster. Never blocks.
  void Step(raft::Message message) override;
  void StepBatch(std::vector<raft::Message> messages) override;
  Result<std::unique_ptr<SnapshotSink>> ReceiveSnapshot(raft::Message message,
                                                        uint64_t total_bytes) override;
  // TransportEvents.
  void ReportUnreachable(uint64_t id) override;
  void ReportSnapshot(uint64_t id, bool ok) override;
  void ReportRemoved() override;
  bool IsRemovedMember(uint64_t id) const override { return IsRemoved(id); }
  // "etcdserver: rpc not supported for learner" on a learner: it serves only serializable
  // ranges and Status, as in etcd.
  Status CheckNotLearner() const;
  bool is_learner() const { return is_learner_.load(); }

  uint64_t id() const { return id_; }
  uint64_t cluster_id() const override { return cluster_id_; }
  uint64_t leader() const { return leader_.load(); }
  uint64_t term() const { return term_.load(); }
  uint64_t applied_index() const { return applied_.load(); }
  // The oldest index the raft log still holds (it is compacted below checkpoints).
  uint64_t raft_log_first_index() const { return log_first_index_.load(); }
  const Config& config() const { return config_; }

 private:
  // What applying an entry produced, handed to the proposer's completion.
  struct LeaseGranted {
    int64_t id = 0;
    int64_t ttl = 0;
  };
  using ApplyResult =
      std::variant<std::monostate, mvcc::PutResponse, mvcc::DeleteRangeResponse, mvcc::TxnResponse,
                   mvcc::CompactResponse, LeaseGranted, etcdserverpb::AlarmResponse>;
  using Completion = std::function<void(Status, ApplyResult)>;

  struct Proposal {
    std::string data;
    uint64_t id = 0;
    std::chrono::steady_clock::time_point deadline;
    std::optional<raft::ConfChange> conf_change;  // set: a membership change, not data
  };
  struct ReadBatch {
    std::vector<std::function<void(Status)>> reads;  // run once the read index is applied
    std::chrono::steady_clock::time_point sent;
    std::chrono::steady_clock::time_point deadline;
  };

  Member(const Config& config, std::unique_ptr<Transport> transport);
  Status Open();
  // Decides id, cluster id and membership: from the data directory when it has them,
  // else from --initial-cluster (and, to join, from the running cluster).
  Status Bootstrap(raft::ConfState* conf, bool fresh_log);
  Status SaveMembership();
  void SetMembersLocked(std::vector<MemberInfo> members);

  // Client-side helpers.
  void Propose(cairn::internal::Request req, Completion done);
  void LinearizableRead(std::function<void(Status)> read);
  void Fail(uint64_t id, const Status& status);
  void FillHeader(etcdserverpb::ResponseHeader* header, int64_t revision) const;
  bool IsRemoved(uint64_t id) const;
  // The strict reconfiguration check (cluster_api.cc).
  int ConnectedVoters(std::chrono::steady_clock::time_point since) const;
  Status MayAddMember(const std::vector<MemberInfo>& members, bool learner) const;
  Status MayRemoveMember(const std::vector<MemberInfo>& members, const MemberInfo& removed) const;
  void TransferLeadership(uint64_t transferee, std::chrono::steady_clock::time_point deadline,
                          Done done);
  void DriveTransfers(std::chrono::steady_clock::time_point now);  // raft thread
  // Runs `task` on the raft thread (or, once it stopped, on the thread that stops the
  // member) and waits for it: for what only raft knows, such as the leader's view of
  // every member's log.
  template <typename T>
  T OnRaftThread(std::function<T()> task);
  Status LearnerReadyNow(uint64_t id);  // raft thread
  Status ReadRange(const etcdserverpb::RangeRequest& req, etcdserverpb::RangeResponse* resp);
  Status ReadTxn(const mvcc::TxnRequest& req, etcdserverpb::TxnResponse* resp);

  // Raft thread. A raft turn takes what the inbox holds, steps raft and handles its
  // Readies; one thread at a time runs it (raft_busy_): the raft thread, or a caller of
  // Propose standing in for it (see there). "Raft thread" below means whoever runs the turn.
  void RaftLoop();
  bool RaftInboxLocked() const;                       // raft_mu_ held: the inbox holds work
  void RaftTurn(std::unique_lock<std::mutex>& lock);  // raft_mu_ held on entry and on return
  void HandleReady(raft::Ready rd);
  // `may_apply_here`: the raft thread has no log write after this call that applying one
  // entry here would hold up (see ApplyHere).
  void ApplyCommitted(std::vector<raft::Entry> entries, bool may_apply_here);
  bool ApplyHere(std::vector<raft::Entry>& entries);
  void FollowConfChange(const raft::Entry& entry);
  void RetryReads(std::chrono::steady_clock::time_point now);
  void MaybeCompactLog();
  // On the leader: proposes revokes of expired leases and due checkpoints.
  void ProposeLeaseHousekeeping();
  void ProposeInternal(cairn::internal::Request req);
  // NoSpace (and a NOSPACE alarm proposed) when `cost` more bytes would outgrow the quota.
  Status CheckQuota(int64_t cost);
  // The database's size, read from the files at most every 500 ms.
  int64_t CachedDatabaseSize();
  // A protobuf record in the meta table: false when there is none, DataLoss naming `what`
  // when it does not parse.
  Result<bool> ReadMetaRecord(std::string_view key, std::string_view what,
                              google::protobuf::MessageLite* record);
  Status WriteMetaRecord(std::string_view key, const google::protobuf::MessageLite& record);
  Status LoadAlarms();
  Status SaveAlarms(const std::vector<etcdserverpb::AlarmMember>& alarms);
  etcdserverpb::AlarmResponse ApplyAlarm(const etcdserverpb::AlarmRequest& req);
  std::vector<etcdserverpb::AlarmMember> Alarms() const;
  void SendMessages(std::vector<raft::Message> messages);
  void SendSnapshotMessage(raft::Message message);
  // Installing a received snapshot, staged on disk (synced) as it arrived. The raft thread
  // records it in the raft log and queues it among the committed entries; the apply thread
  // copies the state in one transaction while readers go on with the old one, then
  // switches (commit and reload) under close_mu_. A crash in between is finished at start.
  void BeginInstall(const raft::Snapshot& snapshot);          // raft thread
  void ForgetUnclaimedSnapshot(uint64_t index);               // raft thread
  void InstallSnapshotState(const raft::Snapshot& snapshot);  // apply thread
  Status RecoverStagedSnapshot();                             // Open
  static Result<uint64_t> StagedIndex(const std::string& staged);
  // Replaces the state tables with the staged ones, keeping this member's identity; takes
  // `switch_lock` (if given) just before committing.
  Status CopyStagedState(const std::string& staged,
                         std::unique_lock<std::shared_mutex>* switch_lock,
                         cairn::internal::Membership* installed);
  void MaybePublish(std::chrono::steady_clock::time_point now);

  // Apply thread.
  void ApplyLoop();
  // Applies one batch (after installing `install`, if any) with apply_gate_ held by `gate`,
  // then runs its replies, releases the reads it unblocks and starts a checkpoint when due.
  void ApplyBatch(std::vector<raft::Entry> entries, std::optional<raft::Snapshot> install,
                  std::unique_lock<std::mutex> gate);
  void ApplyEntry(const raft::Entry& entry);
  // Keeps lease attachments in step with the keys a write changed.
  void UpdateLeaseAttachments(const std::vector<mvcc::Event>& events);
  // Whether every lease the puts of `req` name exists (etcd checks before applying).
  bool LeasesExist(const etcdserverpb::TxnRequest& req) const;
  void ApplyConfChangeEntry(const raft::Entry& entry);
  void ApplyPublish(const cairn::internal::MemberRecord& record);
  Status ApplyLeaseRevoke(int64_t id, uint64_t index, std::vector<mvcc::Event>* events);
  void StoreAppliedIndex(uint64_t index);
  // The batch that puts, deletes and txns apply in, opened by the first of a run (see
  // ApplyLoop); FlushWrites commits it, then tells watchers and readers.
  mvcc::Store::Batch* Writes();
  void FlushWrites();
  // A put, delete or txn, applied in the current batch.
  void ApplyWrite(uint64_t index, const cairn::internal::Request& req);
  // The completion waiting for request `id` (null when its caller is not on this member).
  Completion TakeWaiter(uint64_t id);
  // Queues `done` to run once the batch's writes are committed.
  void QueueReply(Completion done, Status status, ApplyResult result);
  void OnReadIndex(uint64_t index, ReadBatch batch);
  void ReleaseReads();
  // Runs `fn` as a read at the raft log's commit index (OnReadIndex): once everything
  // committed so far is applied here. A leader answers lease calls only then: a client may
  // have been told of a grant by a follower that applied it before the leader did (etcd
  // waits likewise).
  void AfterCommittedApplied(std::function<void(Status)> fn);
  // The lease calls answered from this member's lessor.
  Status AnswerLeaseTimeToLive(const etcdserverpb::LeaseTimeToLiveRequest& req,
                               etcdserverpb::LeaseTimeToLiveResponse* resp);
  Status AnswerLeaseLeases(etcdserverpb::LeaseLeasesResponse* resp);
  Status AnswerLeaseKeepAlive(const etcdserverpb::LeaseKeepAliveRequest& req,
                              etcdserverpb::LeaseKeepAliveResponse* resp);

  // Reader and compactor threads.
  // Runs linearizable reads whose read index is applied, spread over the reader threads.
  void RunReads(std::vector<std::function<void(Status)>> reads);
  void CompactorLoop();

  const Config config_;
  std::unique_ptr<Transport> transport_;  // null: no peers (a single member in tests)
  uint64_t id_ = 0;
  uint64_t cluster_id_ = 0;
  mutable std::mutex members_mu_;
  std::vector<MemberInfo> members_;   // guarded by members_mu_
  std::vector<uint64_t> removed_;     // guarded by members_mu_
  std::function<void()> on_removed_;  // guarded by members_mu_
  std::atomic<bool> is_learner_{false};
  lease::LessorOptions lease_options_;
  // Held by the apply thread while it applies a batch, so a snapshot sees whole entries.
  std::mutex apply_gate_;
  std::atomic<uint64_t> applied_term_{0};
  // A snapshot received and unpacked, waiting for raft to hand it back in a Ready.
  std::mutex snap_mu_;
  bool receiving_ = false;       // guarded by snap_mu_
  uint64_t staged_index_ = 0;    // guarded by snap_mu_
  bool staged_claimed_ = false;  // guarded by snap_mu_; raft took it (BeginInstall)
  // Set by the raft thread when it queues an install, cleared by the apply thread once the
  // new lessor is in place: until then the raft thread leaves lessor_ alone.
  std::atomic<bool> installing_{false};
  std::string staged_dir_;  // guarded by snap_mu_
  std::atomic<bool> published_{false};
  std::chrono::steady_clock::time_point next_publish_;  // raft thread only
  std::chrono::milliseconds tick_;
  std::chrono::milliseconds request_timeout_;

  // Held shared while a caller's thread uses the store, exclusive while Stop closes it.
  mutable std::shared_mutex close_mu_;
  std::unique_ptr<storage::Db> db_;
  std::unique_ptr<storage::LogStore> log_store_;  // raft thread only
  std::unique_ptr<mvcc::Store> store_;
  std::unique_ptr<lease::Lessor> lessor_;
  std::unique_ptr<watch::Hub> hub_;
  std::unique_ptr<raft::RawNode> node_;  // raft thread only

  std::atomic<uint64_t> leader_{0};
  std::atomic<uint64_t> term_{0};
  std::atomic<uint64_t> committed_{0};  // the raft log's commit index, as raft last told
  std::atomic<uint64_t> applied_{0};
  // The applied index the last checkpoint made durable: the raft log may go below it.
  std::atomic<uint64_t> durable_applied_{0};
  std::atomic<uint64_t> log_first_index_{0};
  std::atomic<uint64_t> next_request_id_{0};
  std::atomic<bool> stopped_{false};

  // Inbox of the raft thread.
  std::mutex raft_mu_;
  std::condition_variable raft_cv_;
  bool raft_stop_ = false;  // guarded by raft_mu_
  bool raft_busy_ = false;  // guarded by raft_mu_; a thread is running a raft turn
  // Guarded by raft_mu_: the raft thread waits for a caller's turn to end.
  bool raft_waiting_ = false;
  // Guarded by raft_mu_, as the last turn left it: this member leads a raft group of one.
  bool raft_alone_ = false;
  // Guarded by raft_mu_: how many proposals the last turn that took any took.
  size_t last_turn_proposals_ = 0;
  std::chrono::steady_clock::time_point next_tick_;  // guarded by raft_mu_
  struct Transfer {
    uint64_t transferee = 0;
    std::chrono::steady_clock::time_point deadline;
    Done done;
    bool started = false;
  };
  std::vector<Transfer> transfers_;  // guarded by raft_mu_; leader transfers under way
  bool transfer_asked_ = false;      // guarded by raft_mu_; one not started yet
  std::vector<std::function<void()>> raft_tasks_;            // guarded by raft_mu_
  std::vector<Proposal> proposals_;                          // guarded by raft_mu_
  std::vector<std::function<void(Status)>> reads_;           // guarded by raft_mu_
  std::vector<raft::Message> incoming_;                      // guarded by raft_mu_
  std::vector<uint64_t> unreachable_;                        // guarded by raft_mu_
  std::vector<std::pair<uint64_t, bool>> snapshot_reports_;  // guarded by raft_mu_
  // Raft thread's own.
  std::deque<Proposal> waiting_for_leader_;
  std::map<uint64_t, ReadBatch> reads_in_flight_;  // by ReadIndex context
  uint64_t read_seq_ = 0;

  // Waiters for proposed entries, by request id.
  std::mutex wait_mu_;
  std::map<uint64_t, Completion> waiters_;  // guarded by wait_mu_

  mutable std::mutex alarms_mu_;
  std::vector<etcdserverpb::AlarmMember> alarms_;  // guarded by alarms_mu_; in raise order
  std::atomic<bool> nospace_{false};               // a NOSPACE alarm is raised
  std::atomic<int64_t> db_size_{0};
  std::atomic<int64_t> db_size_read_ms_{-1};

  // Inbox of the apply thread.
  std::mutex apply_mu_;
  std::condition_variable apply_cv_;
  bool apply_stop_ = false;  // guarded by apply_mu_
  bool applying_ = false;    // guarded by apply_mu_; a batch is being applied (by either thread)
  std::deque<std::vector<raft::Entry>> apply_queue_;  // guarded by apply_mu_
  std::deque<raft::Snapshot> installs_;  // guarded by apply_mu_; one per empty batch queued
  std::multimap<uint64_t, ReadBatch> reads_waiting_;  // guarded by apply_mu_; by index

  static constexpr int kReaders = 2;
  WorkQueue readers_{"cairn-read", kReaders};   // linearizable reads, once their index applied
  WorkQueue checkpointer_{"cairn-checkpt", 1};  // checkpoints, off the apply thread
  std::atomic<bool> checkpoint_running_{false};
  std::vector<std::function<void()>> replies_;  // apply thread only: this batch's completions
  // Apply thread only: the writes applied but not committed yet, the last entry among
  // them, and their events (one list per entry that changed something).
  static constexpr int kMaxBatchedWrites = 256;
  std::unique_ptr<mvcc::Store::Batch> writes_;
  uint64_t writes_index_ = 0;
  int writes_count_ = 0;
  std::vector<std::vector<mvcc::Event>> writes_events_;

  // Compactor: removes what applied compactions made unreachable.
  std::mutex compact_mu_;
  std::condition_variable compact_cv_;
  bool compact_stop_ = false;                                 // guarded by compact_mu_
  bool compact_pending_ = false;                              // guarded by compact_mu_
  std::vector<std::function<void(Status)>> compact_waiters_;  // guarded by compact_mu_

  std::chrono::steady_clock::time_point last_checkpoint_;  // apply thread only

  std::thread raft_thread_;
  std::thread apply_thread_;
  std::thread compactor_thread_;
};

}  // namespace cairn::server
