// A minimal HTTP/1.1 server for the operator endpoints.
#include "rpc/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <future>

#include "base/log.h"
#include "server/ids.h"
#include "server/version.h"

namespace cairn::rpc {

namespace {

std::string Gauge(const std::string& name, const std::string& help, double value,
                  const std::string& type = "gauge") {
  char number[64];
  std::snprintf(number, sizeof number, "%.17g", value);
  return "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " +
         number + "\n";
}

// etcd's /health: healthy when there is a leader and a linearizable read succeeds in time.
HttpReply Health(server::Member* member) {
  HttpReply reply;
  reply.content_type = "application/json";
  auto unhealthy = [&](const std::string& reason) {
    reply.status = 503;
    reply.body = "{\"health\":\"false\",\"reason\":\"" + reason + "\"}";
    return reply;
  };
  if (member->leader() == 0) return unhealthy("RAFT NO LEADER");
  auto promise = std::make_shared<std::promise<Status>>();
  auto req = std::make_shared<etcdserverpb::RangeRequest>();
  auto resp = std::make_shared<etcdserverpb::RangeResponse>();
  req->set_key("health");
  member->Range(*req, resp.get(), [promise, req, resp](Status s) { promise->set_value(s); });
  auto future = promise->get_future();
  if (future.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
    return unhealthy("QGET ERROR:request timed out");
  }
  Status s = future.get();
  if (!s.ok()) return unhealthy("QGET ERROR:" + s.message());
  reply.body = "{\"health\":\"true\",\"reason\":\"\"}";
  return reply;
}

HttpReply Metrics(server::Member* member) {
  HttpReply reply;
  reply.content_type = "text/plain; version=0.0.4";
  etcdserverpb::StatusResponse status;
  const bool up = member->GetStatus(&status).ok();
  reply.body +=
      Gauge("etcd_server_has_leader", "Whether or not a leader exists. 1 is existence, 0 is not.",
            member->leader() != 0 ? 1 : 0);
  reply.body += Gauge("etcd_server_is_leader",
                      "Whether or not this member is a leader. 1 if is, 0 otherwise.",
                      member->leader() == member->id() ? 1 : 0);
  reply.body += Gauge("etcd_server_proposals_applied_total",
                      "The total number of consensus proposals applied.",
                      static_cast<double>(member->applied_index()));
  reply.body += Gauge("etcd_server_term", "The current raft term of this member.",
                      static_cast<double>(member->term()));
  if (up) {
    reply.body += Gauge("etcd_mvcc_db_total_size_in_bytes",
                        "Total size of the underlying database physically allocated in bytes.",
                        static_cast<double>(status.dbsize()));
    reply.body += Gauge("etcd_debugging_mvcc_current_revision", "The current revision of store.",
                        static_cast<double>(status.header().revision()));
    reply.body +=
        Gauge("etcd_server_quota_backend_bytes", "Current backend storage quota size in bytes.",
              static_cast<double>(status.dbsizequota()));
  }
  return reply;
}

void SendAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

std::string StatusText(int status) {
  switch (status) {
    case 200: return "OK";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

// Reads one request head (bounded in size and time) and answers it; then closes.
void HandleConnection(server::Member* member, int fd) {
  std::string head;
  char buf[2048];
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < 16384) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;
    head.append(buf, static_cast<size_t>(n));
  }
  // "GET /path HTTP/1.1"
  size_t sp1 = head.find(' ');
  size_t sp2 = sp1 == std::string::npos ? sp1 : head.find(' ', sp1 + 1);
  HttpReply reply;
  if (sp2 == std::string::npos) {
    reply = {405, "text/plain", "bad request\n"};
  } else if (head.compare(0, sp1, "GET") != 0 && head.compare(0, sp1, "HEAD") != 0) {
    reply = {405, "text/plain", "method not allowed\n"};
  } else {
    std::string path = head.substr(sp1 + 1, sp2 - sp1 - 1);
    path = path.substr(0, path.find('?'));
    reply = HandleHttp(member, path);
  }
  std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " " + StatusText(reply.status) +
                    "\r\nContent-Type: " + reply.content_type +
                    "\r\nContent-Length: " + std::to_string(reply.body.size()) +
                    "\r\nConnection: close\r\n\r\n";
  if (head.compare(0, 4, "HEAD") != 0) out += reply.body;
  SendAll(fd, out);
}

Result<int> Listen(const server::Url& url, int* port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(url.port);
  int rc =
      ::getaddrinfo(url.host.empty() ? nullptr : url.host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0) return Unavailable("cannot resolve " + url.text + ": " + gai_strerror(rc));
  int fd = -1;
  std::string error = "no address";
  for (addrinfo* ai = res; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, 64) != 0) {
      error = std::strerror(errno);
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(res);
  if (fd < 0) return Unavailable("cannot listen on " + url.text + ": " + error);
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                           : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  return fd;
}

}  // namespace

HttpReply HandleHttp(server::Member* member, const std::string& path) {
  if (path == "/health" || path == "/readyz" || path == "/livez") return Health(member);
  if (path == "/version") {
    return {200, "application/json",
            std::string("{\"etcdserver\":\"") + server::kEtcdApiVersion + "\",\"etcdcluster\":\"" +
                server::kEtcdClusterVersion + "\",\"cairn\":\"" + server::kCairnVersion + "\"}"};
  }
  if (path == "/metrics") return Metrics(member);
  return {404, "text/plain", "404 page not found\n"};
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(server::Member* member,
                                                      const std::vector<server::Url>& urls) {
  std::unique_ptr<HttpServer> out(new HttpServer());
  out->member_ = member;
  for (const server::Url& url : urls) {
    if (url.scheme != "http") return Unimplemented("metrics URLs must be http: " + url.text);
    int port = 0;
    CAIRN_ASSIGN_OR_RETURN(int fd, Listen(url, &port));
    out->listen_fds_.push_back(fd);
    out->ports_.push_back(port);
    log::Info("serving /health, /metrics and /version", {{"address", url.text}, {"port", port}});
  }
  if (::pipe2(out->wake_pipe_, O_CLOEXEC) != 0) return Internal("pipe failed");
  HttpServer* s = out.get();
  out->thread_ = std::thread([s] { s->Serve(); });
  return out;
}

HttpServer::~HttpServer() {
  Stop();
}

void HttpServer::Stop() {
  if (stop_.exchange(true)) return;
  if (wake_pipe_[1] >= 0) {
    char c = 0;
    [[maybe_unused]] ssize_t n = ::write(wake_pipe_[1], &c, 1);
  }
  if (thread_.joinable()) thread_.join();
  for (int fd : listen_fds_) ::close(fd);
  for (int fd : wake_pipe_) {
    if (fd >= 0) ::close(fd);
  }
}

void HttpServer::Serve() {
  std::vector<pollfd> fds;
  for (int fd : listen_fds_) fds.push_back({fd, POLLIN, 0});
  fds.push_back({wake_pipe_[0], POLLIN, 0});
  while (!stop_.load()) {
    if (::poll(fds.data(), fds.size(), -1) < 0) continue;
    for (size_t i = 0; i + 1 < fds.size(); ++i) {
      if (!(fds[i].revents & POLLIN)) continue;
      int conn = ::accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) continue;
      HandleConnection(member_, conn);
      ::close(conn);
    }
  }
}

}  // namespace cairn::rpc
