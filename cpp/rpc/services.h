// The server on a member's client URLs: etcd's client API (rpc/h2/client_services.h) over
// Cairn's own HTTP/2 gRPC server (rpc/h2/server.h).
#pragma once

#include <memory>
#include <vector>

#include "base/status.h"
#include "rpc/h2/server.h"
#include "server/config.h"
#include "server/member.h"

namespace cairn::rpc {

// Makes `server` listen on every URL (http and unix schemes; https and unixs are refused
// until TLS exists). The ports bound, in the order of the URLs (0 for a unix socket).
Result<std::vector<int>> ListenOn(h2::Server* server, const std::vector<server::Url>& urls);

// Thread safety: Start and Shutdown from one thread.
class ClientServer {
 public:
  // Listens on every URL (http and unix schemes; https is refused until TLS exists) and
  // serves the member. Messages up to max-request-bytes plus gRPC's overhead are accepted,
  // as etcd does; larger requests are refused by the member with etcd's error.
  static Result<std::unique_ptr<ClientServer>> Start(server::Member* member,
                                                     const std::vector<server::Url>& urls);
  ~ClientServer();
  // Stops accepting calls and waits up to `grace_ms` for those in flight; then ends them.
  void Shutdown(int grace_ms);
  // The ports actually bound, in the order of the URLs (useful when a URL asked for port 0).
  const std::vector<int>& ports() const { return ports_; }

 private:
  ClientServer() = default;
  std::unique_ptr<h2::Server> server_;
  std::vector<int> ports_;
};

}  // namespace cairn::rpc
