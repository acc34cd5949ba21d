// The client URLs' server: rpc/h2 with every client service of rpc/h2/client_services.
#include "rpc/services.h"

#include <absl/synchronization/mutex.h>

#include <mutex>

#include "base/log.h"
#include "rpc/h2/client_services.h"

namespace cairn::rpc {

namespace {

// etcd's allowance on top of --max-request-bytes for gRPC's own framing.
constexpr size_t kGrpcOverheadBytes = 512 * 1024;

}  // namespace

Result<std::vector<int>> ListenOn(h2::Server* server, const std::vector<server::Url>& urls) {
  std::vector<int> ports;
  for (const server::Url& url : urls) {
    if (url.scheme == "https" || url.scheme == "unixs") {
      return Unimplemented("TLS is not supported yet: " + url.text);
    }
    if (url.scheme == "unix") {
      CAIRN_RETURN_IF_ERROR(server->ListenUnix(url.host));
      ports.push_back(0);
    } else {
      auto port = server->ListenTcp(url.host, url.port);
      if (!port.ok())
        return Unavailable("cannot listen on " + url.text + ": " + port.status().message());
      ports.push_back(*port);
    }
  }
  return ports;
}

Result<std::unique_ptr<ClientServer>> ClientServer::Start(server::Member* member,
                                                          const std::vector<server::Url>& urls) {
  // Debian builds Abseil without NDEBUG, which leaves deadlock detection on in every
  // absl::Mutex that gRPC (the peer transport) takes: a lock graph update on each lock.
  // Cairn's own locks do not use absl.
  static std::once_flag absl_debug_off;
  std::call_once(absl_debug_off,
                 [] { absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore); });
  std::unique_ptr<ClientServer> out(new ClientServer());
  h2::Options options;
  options.max_receive_message_bytes = member->config().max_request_bytes + kGrpcOverheadBytes;
  out->server_ = std::make_unique<h2::Server>(options);
  h2::AddClientServices(out->server_.get(), member);
  CAIRN_ASSIGN_OR_RETURN(out->ports_, ListenOn(out->server_.get(), urls));
  CAIRN_RETURN_IF_ERROR(out->server_->Start());
  for (size_t i = 0; i < urls.size(); ++i) {
    log::Info("serving client traffic", {{"address", urls[i].text}, {"port", out->ports_[i]}});
  }
  return out;
}

ClientServer::~ClientServer() {
  Shutdown(0);
}

void ClientServer::Shutdown(int grace_ms) {
  if (!server_) return;
  server_->Shutdown(std::chrono::milliseconds(grace_ms));
  server_.reset();
}

}  // namespace cairn::rpc
