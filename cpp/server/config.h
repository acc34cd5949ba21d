// A member's configuration, and the parser that reads it as etcd reads its own: from flags,
// ETCD_* environment variables, or a YAML config file with the flags' names as keys.
// The daemon and the C ABI start members from the same Config.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace cairn::server {

struct Url {
  std::string scheme;  // http, https, unix or unixs
  std::string host;    // a name or address, IPv6 without brackets; a path for unix
  uint16_t port = 0;
  std::string text;  // as given

  friend bool operator==(const Url&, const Url&) = default;
};

// Parses one URL as etcd does: scheme http, https, unix or unixs; host:port; no path.
Result<Url> ParseUrl(std::string_view text);
// Parses a Go duration ("500ms", "1m30s", "2h"; units ns, us, µs, ms, s, m, h) into
// milliseconds, rounded down. Negative durations are refused.
Result<int64_t> ParseGoDurationMs(std::string_view text);
// Parses a comma-separated list of URLs; at least one.
Result<std::vector<Url>> ParseUrls(std::string_view text);

struct ClusterMember {
  std::string name;
  std::vector<Url> peer_urls;
};

struct Config {
  std::string name = "default";
  std::string data_dir;  // empty: "<name>.cairn" in the working directory
  std::vector<Url> listen_client_urls;
  std::vector<Url> advertise_client_urls;
  std::vector<Url> listen_peer_urls;
  std::vector<Url> initial_advertise_peer_urls;
  std::string initial_cluster;  // empty: "<name>=<initial advertise peer urls>"
  std::string initial_cluster_state = "new";
  std::string initial_cluster_token = "etcd-cluster";
  uint32_t heartbeat_interval_ms = 100;
  uint32_t election_timeout_ms = 1000;
  uint64_t snapshot_count = 10000;
  int64_t quota_backend_bytes = 0;  // 0: the default, 2 GiB
  uint32_t max_request_bytes = 1536 * 1024;
  uint32_t max_txn_ops = 128;
  std::vector<Url> listen_metrics_urls;
  std::string log_level = "info";
  // etcd's --experimental-watch-progress-notify-interval.
  int64_t watch_progress_notify_interval_ms = 10 * 60 * 1000;

  Config();

  static constexpr int64_t kDefaultQuotaBackendBytes = int64_t{2} << 30;
  int64_t EffectiveQuotaBackendBytes() const {
    return quota_backend_bytes > 0 ? quota_backend_bytes : kDefaultQuotaBackendBytes;
  }
  std::string EffectiveDataDir() const { return data_dir.empty() ? name + ".cairn" : data_dir; }
  // The members of --initial-cluster, in order of first appearance.
  Result<std::vector<ClusterMember>> InitialClusterMembers() const;
};

// What parsing a command line produced: a config to run, or a request for help or version.
struct CommandLine {
  Config config;
  bool show_help = false;
  bool show_version = false;
  std::string config_file;  // the file the config came from, if any
  // Things the operator should know but that do not stop the start (logged by the caller).
  std::vector<std::string> warnings;
};

// Parses cairnd's arguments (without argv[0]) and the environment ("KEY=value" entries), as
// etcd does: flags in Go's syntax (-f, --f, --f=v, --f v; a bare boolean flag is true);
// ETCD_<FLAG> variables for flags not given; with --config-file (or ETCD_CONFIG_FILE) the
// file alone decides and other flags and variables are ignored. The result is validated.
Result<CommandLine> ParseCommandLine(const std::vector<std::string>& args,
                                     const std::vector<std::string>& environment);

// Applies a YAML config file's text to `config` (keys are the flag names; TLS settings nest
// under client-transport-security and peer-transport-security). Keys Cairn does not know
// are reported in `warnings`, as etcd ignores them.
Status ApplyConfigYaml(std::string_view yaml, Config* config, std::vector<std::string>* warnings);

// Checks a complete config and fills in what derives from other settings.
Status Validate(Config* config);

// The usage text of `cairnd --help`.
std::string Usage();

}  // namespace cairn::server
