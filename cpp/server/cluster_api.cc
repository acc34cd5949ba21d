// The Cluster API (member add, remove, update, promote, list) and leader transfer of one
// member, with etcd's checks (server.go's may* functions and membership's validation of a
// configuration change) and etcd's errors. The changes themselves are raft conf change
// entries (Member::ProposeConfChange); raft allows one pending at a time.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <future>
#include <memory>
#include <set>
#include <string>

#include "base/etcd_errors.h"
#include "base/log.h"
#include "server/ids.h"
#include "server/member.h"

namespace cairn::server {
namespace {

using Clock = std::chrono::steady_clock;

// A learner may be promoted once its log reaches this share of the leader's (etcd's
// readyPercent).
constexpr double kLearnerReadyShare = 0.9;
// etcd allows one learner at a time (maxLearners).
constexpr int kMaxLearners = 1;
// etcd's HealthInterval: a peer counts as connected once its connection has been up this
// long without a break.
constexpr auto kHealthInterval = std::chrono::seconds(5);

void ToProto(const MemberInfo& m, etcdserverpb::Member* out) {
  out->set_id(m.id);
  out->set_name(m.name);
  for (const auto& u : m.peer_urls) out->add_peerurls(u);
  for (const auto& u : m.client_urls) out->add_clienturls(u);
  out->set_islearner(m.is_learner);
}

template <typename Resp>
void FillMembers(const std::vector<MemberInfo>& members, Resp* resp) {
  std::vector<MemberInfo> sorted = members;
  // etcd lists members by id.
  std::sort(sorted.begin(), sorted.end(),
            [](const MemberInfo& a, const MemberInfo& b) { return a.id < b.id; });
  for (const MemberInfo& m : sorted) ToProto(m, resp->add_members());
}

const MemberInfo* Find(const std::vector<MemberInfo>& members, uint64_t id) {
  for (const MemberInfo& m : members) {
    if (m.id == id) return &m;
  }
  return nullptr;
}

// A member has started once it published its name (etcd's IsStarted).
bool Started(const MemberInfo& m) {
  return !m.name.empty();
}

// etcd's RaftCluster.IsReadyToAddVotingMember: the started voters stay a quorum of the
// cluster that the new voter makes.
bool ReadyToAddVoter(const std::vector<MemberInfo>& members) {
  int n = 1, started = 0;
  for (const MemberInfo& m : members) {
    if (m.is_learner) continue;
    ++n;
    if (Started(m)) ++started;
  }
  if (started == 1 && n == 2) return true;  // a second member for a one-member cluster
  return started >= n / 2 + 1;
}

// etcd's IsReadyToRemoveVotingMember: the started voters left are a quorum of those left.
bool ReadyToRemoveVoter(const std::vector<MemberInfo>& members, uint64_t id) {
  int n = 0, started = 0;
  for (const MemberInfo& m : members) {
    if (m.is_learner || m.id == id) continue;
    ++n;
    if (Started(m)) ++started;
  }
  return started >= n / 2 + 1;
}

// etcd's IsReadyToPromoteMember: the learner counts as a started voter.
bool ReadyToPromote(const std::vector<MemberInfo>& members) {
  int n = 1, started = 1;
  for (const MemberInfo& m : members) {
    if (m.is_learner) continue;
    ++n;
    if (Started(m)) ++started;
  }
  return started >= n / 2 + 1;
}

bool PeerUrlTaken(const std::vector<MemberInfo>& members, const std::vector<std::string>& urls,
                  uint64_t except) {
  for (const MemberInfo& m : members) {
    if (m.id == except) continue;
    for (const std::string& u : m.peer_urls) {
      if (std::find(urls.begin(), urls.end(), u) != urls.end()) return true;
    }
  }
  return false;
}

// etcd's cluster service header: no revision.
void FillClusterHeader(const Member& member, etcdserverpb::ResponseHeader* header) {
  header->set_cluster_id(member.cluster_id());
  header->set_member_id(member.id());
  header->set_raft_term(member.term());
}

// A completion that fills a successful answer with the header and the members after the
// change.
template <typename Resp>
Done AnswerWithMembers(const Member* member, Resp* resp, Done done) {
  return [member, resp, done = std::move(done)](Status s) {
    if (s.ok()) {
      FillClusterHeader(*member, resp->mutable_header());
      FillMembers(member->Members(), resp);
    }
    done(s);
  };
}

cairn::internal::MemberRecord ToRecord(const MemberInfo& m) {
  cairn::internal::MemberRecord r;
  r.set_id(m.id);
  r.set_name(m.name);
  for (const auto& u : m.peer_urls) r.add_peer_urls(u);
  for (const auto& u : m.client_urls) r.add_client_urls(u);
  r.set_is_learner(m.is_learner);
  return r;
}

}  // namespace

int Member::ConnectedVoters(Clock::time_point since) const {
  int connected = 0;
  for (const MemberInfo& m : Members()) {
    if (m.is_learner) continue;
    if (m.id == id_) {
      ++connected;
      continue;
    }
    auto active = transport_ ? transport_->ActiveSince(m.id) : std::nullopt;
    if (active && *active <= since) ++connected;
  }
  return connected;
}

// etcd's mayAddMember (with --strict-reconfig-check, its default): every voter has been
// connected to this member for a while, so the change cannot leave a quorum that is down.
Status Member::MayAddMember(const std::vector<MemberInfo>& members, bool learner) const {
  if (!learner && !ReadyToAddVoter(members)) return etcd::MemberNotEnoughStarted();
  const int voters = static_cast<int>(std::count_if(
      members.begin(), members.end(), [](const MemberInfo& m) { return !m.is_learner; }));
  if (ConnectedVoters(Clock::now() - kHealthInterval) != voters) {
    log::Warn("rejecting member add request; not connected to every voter long enough");
    return etcd::Unhealthy();
  }
  return Status::Ok();
}

// etcd's mayRemoveMember: a learner goes freely; a voter that is down too (it is not part
// of the active quorum); any other only if the voters connected without it stay a quorum.
Status Member::MayRemoveMember(const std::vector<MemberInfo>& members,
                               const MemberInfo& removed) const {
  if (removed.is_learner) return Status::Ok();
  if (!ReadyToRemoveVoter(members, removed.id)) return etcd::MemberNotEnoughStarted();
  if (removed.id != id_ && !(transport_ && transport_->ActiveSince(removed.id))) {
    return Status::Ok();
  }
  const int voters = static_cast<int>(std::count_if(
      members.begin(), members.end(), [](const MemberInfo& m) { return !m.is_learner; }));
  const int active = ConnectedVoters(Clock::now() - kHealthInterval);
  if (active - 1 < 1 + (voters - 1) / 2) {
    log::Warn(
        "rejecting member remove request; the remaining connected voters would not be a "
        "quorum",
        {{"active-peers", active}});
    return etcd::Unhealthy();
  }
  return Status::Ok();
}

bool Member::IsRemoved(uint64_t id) const {
  std::lock_guard lock(members_mu_);
  return std::find(removed_.begin(), removed_.end(), id) != removed_.end();
}

void Member::ReportRemoved() {
  std::function<void()> on_removed;
  {
    std::lock_guard lock(members_mu_);
    on_removed = std::move(on_removed_);
    on_removed_ = nullptr;
  }
  // Once is enough: every peer may say so.
  if (!on_removed) return;
  log::Warn("the member has been permanently removed from the cluster; stopping",
            {{"member-id", IdToHex(id_)}});
  on_removed();
}

void Member::SetOnRemoved(std::function<void()> on_removed) {
  std::lock_guard lock(members_mu_);
  on_removed_ = std::move(on_removed);
}

void Member::MemberList(const etcdserverpb::MemberListRequest& req,
                        etcdserverpb::MemberListResponse* resp, Done done) {
  Done answer = AnswerWithMembers(this, resp, std::move(done));
  if (!req.linearizable()) return answer(Status::Ok());
  LinearizableRead(std::move(answer));
}

void Member::MemberAdd(const etcdserverpb::MemberAddRequest& req,
                       etcdserverpb::MemberAddResponse* resp, Done done) {
  std::vector<Url> urls;
  for (const std::string& text : req.peerurls()) {
    auto url = ParseUrl(text);
    if (!url.ok()) return done(etcd::MemberBadURLs());
    urls.push_back(*url);
  }
  if (urls.empty()) return done(etcd::MemberBadURLs());
  const std::vector<MemberInfo> members = Members();
  if (Status s = MayAddMember(members, req.islearner()); !s.ok()) return done(s);

  MemberInfo added;
  // As etcd: the URLs and the time, so that a member added again gets a new id.
  added.id = ComputeMemberId(urls, std::to_string(std::time(nullptr)));
  for (const Url& u : urls) added.peer_urls.push_back(u.text);
  added.is_learner = req.islearner();
  if (Find(members, added.id) != nullptr || IsRemoved(added.id)) return done(etcd::MemberExist());
  if (PeerUrlTaken(members, added.peer_urls, 0)) return done(etcd::PeerURLExist());
  if (added.is_learner && std::count_if(members.begin(), members.end(), [](const MemberInfo& m) {
                            return m.is_learner;
                          }) >= kMaxLearners) {
    return done(etcd::TooManyLearners());
  }
  ToProto(added, resp->mutable_member());
  ProposeConfChange(
      added.is_learner ? raft::ConfChangeType::kAddLearner : raft::ConfChangeType::kAddVoter,
      ToRecord(added), AnswerWithMembers(this, resp, std::move(done)));
}

void Member::MemberRemove(const etcdserverpb::MemberRemoveRequest& req,
                          etcdserverpb::MemberRemoveResponse* resp, Done done) {
  const std::vector<MemberInfo> members = Members();
  const MemberInfo* m = Find(members, req.id());
  // etcd answers "member not found" for an id removed before, too.
  if (m == nullptr) return done(etcd::MemberNotFound());
  if (Status s = MayRemoveMember(members, *m); !s.ok()) return done(s);
  ProposeConfChange(raft::ConfChangeType::kRemoveNode, ToRecord(*m),
                    AnswerWithMembers(this, resp, std::move(done)));
}

void Member::MemberUpdate(const etcdserverpb::MemberUpdateRequest& req,
                          etcdserverpb::MemberUpdateResponse* resp, Done done) {
  const std::vector<MemberInfo> members = Members();
  const MemberInfo* m = Find(members, req.id());
  if (m == nullptr) return done(etcd::MemberNotFound());
  MemberInfo updated = *m;
  updated.peer_urls.assign(req.peerurls().begin(), req.peerurls().end());
  if (PeerUrlTaken(members, updated.peer_urls, updated.id)) return done(etcd::PeerURLExist());
  ProposeConfChange(raft::ConfChangeType::kUpdateNode, ToRecord(updated),
                    AnswerWithMembers(this, resp, std::move(done)));
}

template <typename T>
T Member::OnRaftThread(std::function<T()> task) {
  auto result = std::make_shared<std::promise<T>>();
  std::future<T> future = result->get_future();
  std::function<void()> run = [task = std::move(task), result] { result->set_value(task()); };
  {
    std::lock_guard lock(raft_mu_);
    // Once stopping, nobody takes tasks: run it here (it sees stopped_ and touches nothing).
    if (!raft_stop_) {
      raft_tasks_.push_back(std::move(run));
      run = nullptr;
    }
  }
  if (run) {
    run();
  } else {
    raft_cv_.notify_one();
  }
  return future.get();
}

Status Member::LearnerReady(uint64_t id) {
  return OnRaftThread<Status>([this, id] { return LearnerReadyNow(id); });
}

Status Member::LearnerReadyNow(uint64_t id) {
  if (stopped_) return etcd::Stopped();
  const raft::RaftStatus st = node_->GetStatus();
  if (st.progress.empty() || leader_.load() != id_) return etcd::NotLeader();
  auto learner = st.progress.find(id);
  auto leader = st.progress.find(id_);
  // Unknown to raft: the membership check that follows answers (as etcd's does).
  if (learner == st.progress.end() || leader == st.progress.end()) return Status::Ok();
  if (static_cast<double>(learner->second.match) <
      static_cast<double>(leader->second.match) * kLearnerReadyShare) {
    return etcd::LearnerNotReady();
  }
  return Status::Ok();
}

void Member::MemberPromote(const etcdserverpb::MemberPromoteRequest& req,
                           etcdserverpb::MemberPromoteResponse* resp, Done done) {
  // Only the leader knows how far the learner got: a follower asks it, as etcd does.
  const uint64_t lead = leader_.load();
  if (lead == 0) return done(etcd::NoLeader());
  auto promote = [this, id = req.id(), resp, done](Status ready) {
    if (!ready.ok()) return done(ready);
    const std::vector<MemberInfo> members = Members();
    const MemberInfo* m = Find(members, id);
    if (m == nullptr) return done(etcd::MemberNotFound());
    if (!m->is_learner) return done(etcd::MemberNotLearner());
    if (!ReadyToPromote(members)) return done(etcd::MemberNotEnoughStarted());
    MemberInfo promoted = *m;
    promoted.is_learner = false;
    ProposeConfChange(raft::ConfChangeType::kAddVoter, ToRecord(promoted),
                      AnswerWithMembers(this, resp, done));
  };
  if (lead == id_ || !transport_) return promote(LearnerReady(req.id()));
  transport_->LearnerReady(lead, req.id(), std::move(promote));
}

void Member::MoveLeader(const etcdserverpb::MoveLeaderRequest& req, Done done) {
  if (leader_.load() != id_) return done(etcd::NotLeader());
  const std::vector<MemberInfo> members = Members();
  const MemberInfo* m = Find(members, req.targetid());
  if (m == nullptr || m->is_learner) return done(etcd::BadLeaderTransferee());
  TransferLeadership(req.targetid(), Clock::now() + request_timeout_, std::move(done));
}

void Member::TransferLeadership(uint64_t transferee, Clock::time_point deadline, Done done) {
  std::lock_guard lock(raft_mu_);
  if (raft_stop_) return done(etcd::Stopped());
  transfers_.push_back({transferee, deadline, std::move(done), false});
  transfer_asked_ = true;
  raft_cv_.notify_one();
}

void Member::HandOverLeadership() {
  if (leader_.load() != id_ || IsRemoved(id_)) return;
  // The voter whose log is longest takes over soonest (etcd picks the longest connected).
  const std::vector<MemberInfo> members = Members();
  const uint64_t best = OnRaftThread<uint64_t>([this, &members] {
    uint64_t chosen = 0, chosen_match = 0;
    if (stopped_) return chosen;
    for (const auto& [id, p] : node_->GetStatus().progress) {
      const MemberInfo* m = Find(members, id);
      if (id == id_ || m == nullptr || m->is_learner) continue;
      if (chosen == 0 || p.match > chosen_match) chosen = id, chosen_match = p.match;
    }
    return chosen;
  });
  if (best == 0) return;  // no other voter
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;
  Status outcome;
  TransferLeadership(best, Clock::now() + request_timeout_, [&](Status s) {
    std::lock_guard lock(mu);
    outcome = s;
    finished = true;
    cv.notify_one();
  });
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return finished; });
  if (outcome.ok()) {
    log::Info("handed leadership over before stopping", {{"to", IdToHex(best)}});
  } else {
    log::Warn("leadership hand-over failed",
              {{"to", IdToHex(best)}, {"error", outcome.ToString()}});
  }
}

// Raft thread: starts transfers asked for, and completes those whose transferee leads (or
// whose time is up).
void Member::DriveTransfers(Clock::time_point now) {
  std::vector<Transfer> finished;
  {
    std::lock_guard lock(raft_mu_);
    transfer_asked_ = false;
    for (auto it = transfers_.begin(); it != transfers_.end();) {
      if (!it->started) {
        node_->TransferLeader(it->transferee);
        it->started = true;
      }
      if (leader_.load() == it->transferee || it->deadline <= now) {
        finished.push_back(std::move(*it));
        it = transfers_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (Transfer& t : finished) {
    t.done(leader_.load() == t.transferee ? Status::Ok() : etcd::TimeoutLeaderTransfer());
  }
}

}  // namespace cairn::server
