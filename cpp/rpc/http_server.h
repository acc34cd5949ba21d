// /health, /version and /metrics over plain HTTP/1.1 on --listen-metrics-urls, with etcd's
// response formats, so the probes and scrapers pointed at etcd work unchanged.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "server/member.h"

namespace cairn::rpc {

// The body and status of an endpoint; exposed for tests.
struct HttpReply {
  int status = 200;
  std::string content_type;
  std::string body;
};
HttpReply HandleHttp(server::Member* member, const std::string& path);

// Thread safety: Start and Stop from one thread. One thread serves every connection in
// turn: these endpoints are probed, not loaded.
class HttpServer {
 public:
  static Result<std::unique_ptr<HttpServer>> Start(server::Member* member,
                                                   const std::vector<server::Url>& urls);
  ~HttpServer();
  void Stop();
  const std::vector<int>& ports() const { return ports_; }

 private:
  HttpServer() = default;
  void Serve();

  server::Member* member_ = nullptr;
  std::vector<int> listen_fds_;
  std::vector<int> ports_;
  int wake_pipe_[2] = {-1, -1};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace cairn::rpc
