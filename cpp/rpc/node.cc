// A member with its gRPC and HTTP servers, started and stopped as one.
#include "rpc/node.h"

#include <chrono>
#include <future>
#include <thread>
#include <utility>

#include "base/log.h"

namespace cairn::rpc {

namespace {

std::string BoundUrl(const server::Url& url, int port) {
  if (url.scheme == "unix" || url.scheme == "unixs") return url.text;
  std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  return url.scheme + "://" + host + ":" + std::to_string(port);
}

}  // namespace

Result<std::unique_ptr<Node>> Node::Start(const server::Config& config) {
  std::unique_ptr<Node> node(new Node());
  CAIRN_ASSIGN_OR_RETURN(node->member_,
                         server::Member::Start(config, std::make_unique<PeerTransport>()));
  auto peer = PeerServer::Start(node->member_.get(), config.listen_peer_urls);
  if (peer.ok()) {
    node->peer_ = std::move(*peer);
  } else if (node->member_->Members().size() > 1) {
    node->member_->Stop();
    return Status(peer.status().code(), "cannot serve peers: " + peer.status().message());
  } else {
    // A lone member hears from no peer; embedded nodes often leave the peer URL at its
    // default, which another node may hold.
    log::Warn("cannot serve peers; a single member runs without",
              {{"error", peer.status().message()}});
  }
  auto grpc = ClientServer::Start(node->member_.get(), config.listen_client_urls);
  if (!grpc.ok()) {
    node->member_->Stop();
    return Status(grpc.status().code(), "cannot serve clients: " + grpc.status().message());
  }
  node->grpc_ = std::move(*grpc);
  if (!config.listen_metrics_urls.empty()) {
    auto http = HttpServer::Start(node->member_.get(), config.listen_metrics_urls);
    if (!http.ok()) {
      node->Stop();
      return Status(http.status().code(), "cannot serve metrics: " + http.status().message());
    }
    node->http_ = std::move(*http);
  }
  const std::vector<int>& ports = node->grpc_->ports();
  for (size_t i = 0; i < config.listen_client_urls.size() && i < ports.size(); ++i) {
    node->client_urls_.push_back(BoundUrl(config.listen_client_urls[i], ports[i]));
  }
  return node;
}

Node::~Node() {
  Stop();
}

void Node::Stop() {
  std::lock_guard lock(stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  // A leader that stops hands over first, so the cluster need not wait for an election.
  if (member_) member_->HandOverLeadership();
  if (http_) http_->Stop();
  if (!grpc_) {
    if (member_) member_->Stop();
    if (peer_) peer_->Shutdown();
    return;
  }
  // gRPC's shutdown waits for every call to finish. Calls still waiting on the member after
  // the grace period are ended by stopping the member, which fails them.
  auto shutdown = std::async(std::launch::async, [this] { grpc_->Shutdown(kShutdownGraceMs); });
  if (shutdown.wait_for(std::chrono::milliseconds(kShutdownGraceMs + 1000)) !=
      std::future_status::ready) {
    log::Warn("calls outlived the shutdown grace period; stopping the member under them");
  }
  member_->Stop();
  shutdown.wait();
  if (peer_) peer_->Shutdown();
}

Status Node::WaitReady(std::chrono::milliseconds timeout, const std::function<bool()>& cancelled) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  constexpr auto kPoll = std::chrono::milliseconds(10);
  for (;;) {
    if (cancelled && cancelled()) return Cancelled("context canceled");
    if (timeout.count() >= 0 && Clock::now() >= deadline) {
      return Status(Code::kDeadlineExceeded, "node not ready before the deadline");
    }
    if (member_->leader() != 0) {
      // A linearizable read goes through a ReadIndex round and waits for the apply: when it
      // answers, the member serves clients. The state outlives this wait if it gives up.
      struct Read {
        etcdserverpb::RangeRequest req;
        etcdserverpb::RangeResponse resp;
        std::promise<Status> done;
      };
      auto read = std::make_shared<Read>();
      read->req.set_key(std::string(1, '\0'));
      read->req.set_count_only(true);
      std::future<Status> result = read->done.get_future();
      member_->Range(read->req, &read->resp, [read](Status s) { read->done.set_value(s); });
      while (result.wait_for(kPoll) != std::future_status::ready) {
        if (cancelled && cancelled()) return Cancelled("context canceled");
        if (timeout.count() >= 0 && Clock::now() >= deadline) {
          return Status(Code::kDeadlineExceeded, "node not ready before the deadline");
        }
      }
      Status s = result.get();
      if (s.ok()) return s;
      if (s.message() == "etcdserver: server stopped") return s;
    }
    std::this_thread::sleep_for(kPoll);
  }
}

}  // namespace cairn::rpc
