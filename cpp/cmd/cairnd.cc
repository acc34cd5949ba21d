// cairnd: runs one Cairn member, configured as etcd is, until SIGTERM or SIGINT.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "base/log.h"
#include "rpc/node.h"
#include "server/config.h"
#include "server/version.h"

extern char** environ;

namespace {

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

  auto node = cairn::rpc::Node::Start(config);
  if (!node.ok()) {
    cairn::log::Error("cannot start member", {{"error", node.status().message()}});
    return 1;
  }
  cairn::log::Info("ready to serve client requests", {{"name", config.name}});
  // A member removed from its cluster has nothing left to serve: it stops as on SIGTERM.
  (*node)->member()->SetOnRemoved([] { kill(getpid(), SIGTERM); });

  int sig = 0;
  sigwait(&signals, &sig);
  cairn::log::Info("received signal; shutting down", {{"signal", sig == SIGTERM ? "TERM" : "INT"}});
  (*node)->Stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return Run(argc, argv);
}
