// cairnd: runs one Cairn member, configured as etcd is, until SIGTERM or SIGINT.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <future>
#include <string>
#include <vector>

#include "base/log.h"
#include "rpc/http_server.h"
#include "rpc/services.h"
#include "server/config.h"
#include "server/member.h"
#include "server/version.h"

extern char** environ;

namespace {

constexpr int kShutdownGraceMs = 2000;

int Run(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);

  auto parsed = cairn::server::ParseCommandLine(args, env);
  if (!parsed.ok()) {
    std::fprintf(stderr, "cairnd: %s\n", parsed.status().message().c_str());
    return 2;
  }
  if (parsed->show_help) {
    std::fputs(cairn::server::Usage().c_str(), stdout);
    return 0;
  }
  if (parsed->show_version) {
    std::printf("cairnd Version: %s\netcd API Version: %s\n", cairn::server::kCairnVersion,
                cairn::server::kEtcdApiVersion);
    return 0;
  }
  const cairn::server::Config& config = parsed->config;
  cairn::log::Level level;
  if (cairn::log::ParseLevel(config.log_level, &level)) cairn::log::SetLevel(level);
  for (const std::string& w : parsed->warnings) cairn::log::Warn(w);
  if (!parsed->config_file.empty()) {
    cairn::log::Info("loaded server configuration", {{"path", parsed->config_file}});
  }

  // Signals are taken by sigwait below; every thread started from here inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto member = cairn::server::Member::Start(config);
  if (!member.ok()) {
    cairn::log::Error("cannot start member", {{"error", member.status().message()}});
    return 1;
  }
  auto grpc_server = cairn::rpc::ClientServer::Start(member->get(), config.listen_client_urls);
  if (!grpc_server.ok()) {
    cairn::log::Error("cannot serve clients", {{"error", grpc_server.status().message()}});
    return 1;
  }
  std::unique_ptr<cairn::rpc::HttpServer> http;
  if (!config.listen_metrics_urls.empty()) {
    auto h = cairn::rpc::HttpServer::Start(member->get(), config.listen_metrics_urls);
    if (!h.ok()) {
      cairn::log::Error("cannot serve metrics", {{"error", h.status().message()}});
      return 1;
    }
    http = std::move(*h);
  }
  cairn::log::Info("ready to serve client requests", {{"name", config.name}});

  int sig = 0;
  sigwait(&signals, &sig);
  cairn::log::Info("received signal; shutting down", {{"signal", sig == SIGTERM ? "TERM" : "INT"}});
  if (http) http->Stop();
  // gRPC's shutdown waits for every call to finish. Calls still waiting on the member after
  // the grace period are ended by stopping the member, which fails them.
  auto shutdown =
      std::async(std::launch::async, [&] { (*grpc_server)->Shutdown(kShutdownGraceMs); });
  if (shutdown.wait_for(std::chrono::milliseconds(kShutdownGraceMs + 1000)) !=
      std::future_status::ready) {
    cairn::log::Warn("calls outlived the shutdown grace period; stopping the member under them");
  }
  (*member)->Stop();
  shutdown.wait();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return Run(argc, argv);
}
