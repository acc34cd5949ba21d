// cairnd's configuration from flags, ETCD_* variables or a YAML file, as etcd reads its own.
#include "server/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "base/log.h"

namespace cairn::server {
namespace {

enum class Kind { kString, kUrls, kUint32, kUint64, kInt64, kBool };

// One setting: its etcd flag name (also its YAML key and, as ETCD_<NAME>, its variable).
struct Option {
  std::string_view name;
  Kind kind;
  std::string_view help;
  // Parses `value` into the config; the message says what is wrong, without the flag's name.
  Status (*set)(Config* config, std::string_view value);
};

template <typename T>
Status ParseNumber(std::string_view text, T* out) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range) return InvalidArgument("value out of range");
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return InvalidArgument("parse error");
  }
  *out = value;
  return Status::Ok();
}

// Go's strconv.ParseBool, which etcd's boolean flags use.
Status ParseBool(std::string_view text, bool* out) {
  static const std::set<std::string_view> kTrue = {"1", "t", "T", "TRUE", "true", "True"};
  static const std::set<std::string_view> kFalse = {"0", "f", "F", "FALSE", "false", "False"};
  if (kTrue.count(text))
    *out = true;
  else if (kFalse.count(text))
    *out = false;
  else
    return InvalidArgument("parse error");
  return Status::Ok();
}

Status SetUrls(std::vector<Url>* out, std::string_view value) {
  CAIRN_ASSIGN_OR_RETURN(*out, ParseUrls(value));
  return Status::Ok();
}

const std::vector<Option>& Options() {
  static const std::vector<Option> kOptions = {
      {"name", Kind::kString, "Human-readable name for this member.",
       [](Config* c, std::string_view v) {
         c->name = std::string(v);
         return Status::Ok();
       }},
      {"data-dir", Kind::kString, "Path to the data directory (default \"<name>.cairn\").",
       [](Config* c, std::string_view v) {
         c->data_dir = std::string(v);
         return Status::Ok();
       }},
      {"listen-client-urls", Kind::kUrls, "List of URLs to listen on for client traffic.",
       [](Config* c, std::string_view v) { return SetUrls(&c->listen_client_urls, v); }},
      {"advertise-client-urls", Kind::kUrls,
       "List of this member's client URLs to advertise to the rest of the cluster.",
       [](Config* c, std::string_view v) { return SetUrls(&c->advertise_client_urls, v); }},
      {"listen-peer-urls", Kind::kUrls, "List of URLs to listen on for peer traffic.",
       [](Config* c, std::string_view v) { return SetUrls(&c->listen_peer_urls, v); }},
      {"initial-advertise-peer-urls", Kind::kUrls,
       "List of this member's peer URLs to advertise to the rest of the cluster.",
       [](Config* c, std::string_view v) { return SetUrls(&c->initial_advertise_peer_urls, v); }},
      {"initial-cluster", Kind::kString,
       "Initial cluster configuration for bootstrapping (name=peer-url,...).",
       [](Config* c, std::string_view v) {
         c->initial_cluster = std::string(v);
         return Status::Ok();
       }},
      {"initial-cluster-state", Kind::kString, "Initial cluster state ('new' or 'existing').",
       [](Config* c, std::string_view v) {
         if (v != "new" && v != "existing") {
           return InvalidArgument("valid values are \"new\", \"existing\"");
         }
         c->initial_cluster_state = std::string(v);
         return Status::Ok();
       }},
      {"initial-cluster-token", Kind::kString,
       "Initial cluster token for the cluster during bootstrap.",
       [](Config* c, std::string_view v) {
         c->initial_cluster_token = std::string(v);
         return Status::Ok();
       }},
      {"heartbeat-interval", Kind::kUint32, "Time (in milliseconds) of a heartbeat interval.",
       [](Config* c, std::string_view v) { return ParseNumber(v, &c->heartbeat_interval_ms); }},
      {"election-timeout", Kind::kUint32, "Time (in milliseconds) for an election to timeout.",
       [](Config* c, std::string_view v) { return ParseNumber(v, &c->election_timeout_ms); }},
      {"snapshot-count", Kind::kUint64,
       "Number of committed transactions to trigger a snapshot to disk.",
       [](Config* c, std::string_view v) { return ParseNumber(v, &c->snapshot_count); }},
      {"quota-backend-bytes", Kind::kInt64,
       "Raise an alarm when the backend size exceeds the given quota (0 defaults to 2 GiB).",
       [](Config* c, std::string_view v) { return ParseNumber(v, &c->quota_backend_bytes); }},
      {"max-request-bytes", Kind::kUint32,
       "Maximum client request size in bytes the server will accept.",
       [](Config* c, std::string_view v) { return ParseNumber(v, &c->max_request_bytes); }},
      {"max-txn-ops", Kind::kUint32, "Maximum number of operations permitted in a transaction.",
       [](Config* c, std::string_view v) { return ParseNumber(v, &c->max_txn_ops); }},
      {"listen-metrics-urls", Kind::kUrls,
       "List of URLs to listen on for the /metrics and /health endpoints.",
       [](Config* c, std::string_view v) { return SetUrls(&c->listen_metrics_urls, v); }},
      {"experimental-watch-progress-notify-interval", Kind::kString,
       "Duration of periodic watch progress notifications (default 10m0s).",
       [](Config* c, std::string_view v) {
         CAIRN_ASSIGN_OR_RETURN(c->watch_progress_notify_interval_ms, ParseGoDurationMs(v));
         return Status::Ok();
       }},
      {"log-level", Kind::kString,
       "Configures log level: debug, info, warn, error, panic, or fatal.",
       [](Config* c, std::string_view v) {
         log::Level level;
         if (!log::ParseLevel(v, &level)) {
           return InvalidArgument("must be one of debug, info, warn, error, panic, fatal");
         }
         c->log_level = std::string(v);
         return Status::Ok();
       }},
  };
  return kOptions;
}

const Option* FindOption(std::string_view name) {
  for (const Option& o : Options()) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

// etcd settings that Cairn honours by construction: accepted with the values that describe
// what Cairn does anyway, refused with any other.
const std::map<std::string_view, std::set<std::string_view>>& FixedSettings() {
  static const std::map<std::string_view, std::set<std::string_view>> kFixed = {
      {"logger", {"zap"}},
      {"log-outputs", {"default", "stderr"}},
      {"enable-v2", {"false"}},
      {"pre-vote", {"true"}},
  };
  return kFixed;
}

// etcd 3.5's other flags (and config keys): known, not supported by Cairn yet. Naming them
// lets the error say so rather than call an etcd flag unknown.
bool IsEtcdFlagNotSupported(std::string_view name) {
  static const std::set<std::string_view> kEtcdFlags = {
      "auth-token",
      "auth-token-ttl",
      "auto-compaction-mode",
      "auto-compaction-retention",
      "auto-tls",
      "backend-batch-interval",
      "backend-batch-limit",
      "backend-bbolt-freelist-type",
      "bcrypt-cost",
      "cert-file",
      "cipher-suites",
      "client-cert-allowed-hostname",
      "client-cert-auth",
      "client-cert-file",
      "client-crl-file",
      "client-key-file",
      "cors",
      "discovery",
      "discovery-fallback",
      "discovery-proxy",
      "discovery-srv",
      "discovery-srv-name",
      "enable-grpc-gateway",
      "enable-log-rotation",
      "enable-pprof",
      "experimental-compact-hash-check-enabled",
      "experimental-corrupt-check-time",
      "experimental-enable-distributed-tracing",
      "experimental-enable-lease-checkpoint",
      "experimental-initial-corrupt-check",
      "experimental-warning-apply-duration",
      "force-new-cluster",
      "grpc-keepalive-interval",
      "grpc-keepalive-min-time",
      "grpc-keepalive-timeout",
      "host-whitelist",
      "initial-election-tick-advance",
      "key-file",
      "listen-client-http-urls",
      "log-rotation-config-json",
      "max-concurrent-streams",
      "max-snapshots",
      "max-wals",
      "metrics",
      "peer-auto-tls",
      "peer-cert-allowed-cn",
      "peer-cert-allowed-hostname",
      "peer-cert-file",
      "peer-client-cert-auth",
      "peer-client-cert-file",
      "peer-client-key-file",
      "peer-crl-file",
      "peer-key-file",
      "peer-trusted-ca-file",
      "proxy",
      "self-signed-cert-validity",
      "socket-reuse-address",
      "socket-reuse-port",
      "strict-reconfig-check",
      "tls-max-version",
      "tls-min-version",
      "trusted-ca-file",
      "unsafe-no-fsync",
      "v2-deprecation",
      "wal-dir",
  };
  return kEtcdFlags.count(name) > 0 || name.rfind("experimental-", 0) == 0;
}

std::string EnvName(std::string_view flag) {
  std::string out = "ETCD_";
  for (char ch : flag) out.push_back(ch == '-' ? '_' : static_cast<char>(std::toupper(ch)));
  return out;
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  out += s;
  out += "\"";
  return out;
}

Status FlagError(std::string_view flag, std::string_view value, const Status& why) {
  return InvalidArgument("invalid value " + Quote(value) + " for flag -" + std::string(flag) +
                         ": " + why.message());
}

Status NotSupported(std::string_view name, std::string_view how) {
  return InvalidArgument(std::string(how) + std::string(name) +
                         " is an etcd setting that Cairn does not support yet");
}

// Applies a setting that is not one of Options(): a fixed one, or an error naming it.
Status ApplyOther(std::string_view name, std::string_view value, std::string_view how) {
  auto fixed = FixedSettings().find(name);
  if (fixed != FixedSettings().end()) {
    if (fixed->second.count(value)) return Status::Ok();
    return InvalidArgument(std::string(how) + std::string(name) + "=" + std::string(value) +
                           ": Cairn supports only " + std::string(*fixed->second.begin()));
  }
  if (IsEtcdFlagNotSupported(name)) return NotSupported(name, how);
  return InvalidArgument("unknown flag " + std::string(how) + std::string(name) +
                         " (cairnd --help lists the flags)");
}

bool IsTransportSecurityKey(std::string_view key) {
  return key == "client-transport-security" || key == "peer-transport-security";
}

bool IsZeroValue(const YAML::Node& node) {
  if (node.IsNull()) return true;
  if (node.IsScalar()) {
    const std::string& s = node.Scalar();
    return s.empty() || s == "0" || s == "false" || s == "null" || s == "~";
  }
  if (node.IsMap() || node.IsSequence()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (!IsZeroValue(node.IsMap() ? it->second : *it)) return false;
    }
    return true;
  }
  return false;
}

Status ApplyConfigYamlOrThrow(std::string_view yaml, Config* config,
                              std::vector<std::string>* warnings) {
  YAML::Node root = YAML::Load(std::string(yaml));
  if (root.IsNull()) return Status::Ok();
  if (!root.IsMap()) return InvalidArgument("config file: expected a map of settings");
  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string key = it->first.as<std::string>();
    const YAML::Node value = it->second;  // a copy: the iterator hands out temporaries
    if (IsTransportSecurityKey(key)) {
      // Serving plain text where TLS was asked for would be a silent security hole.
      if (!IsZeroValue(value)) return NotSupported(key, "config file key ");
      continue;
    }
    if (const Option* o = FindOption(key)) {
      if (value.IsNull()) continue;
      if (!value.IsScalar()) {
        return InvalidArgument("config file: " + key + " must be a single value");
      }
      Status s = o->set(config, value.Scalar());
      if (!s.ok()) {
        return InvalidArgument("config file: invalid value " + Quote(value.Scalar()) + " for " +
                               key + ": " + s.message());
      }
      continue;
    }
    if (FixedSettings().count(key) || IsEtcdFlagNotSupported(key)) {
      if (IsZeroValue(value)) continue;  // asks for nothing
      if (!value.IsScalar()) return NotSupported(key, "config file key ");
      CAIRN_RETURN_IF_ERROR(ApplyOther(key, value.Scalar(), "config file key "));
      continue;
    }
    // etcd ignores keys it does not know; Cairn says so.
    warnings->push_back("config file key " + key + " is not an etcd setting; ignored");
  }
  return Status::Ok();
}

}  // namespace

Config::Config() {
  listen_client_urls = {*ParseUrl("http://localhost:2379")};
  advertise_client_urls = listen_client_urls;
  listen_peer_urls = {*ParseUrl("http://localhost:2380")};
  initial_advertise_peer_urls = listen_peer_urls;
}

Result<Url> ParseUrl(std::string_view text) {
  Url url;
  url.text = std::string(text);
  auto sep = text.find("://");
  if (sep == std::string_view::npos) {
    return InvalidArgument("URL scheme must be http, https, unix, or unixs: " + url.text);
  }
  url.scheme = std::string(text.substr(0, sep));
  if (url.scheme != "http" && url.scheme != "https" && url.scheme != "unix" &&
      url.scheme != "unixs") {
    return InvalidArgument("URL scheme must be http, https, unix, or unixs: " + url.text);
  }
  std::string_view rest = text.substr(sep + 3);
  if (url.scheme == "unix" || url.scheme == "unixs") {
    if (rest.empty()) return InvalidArgument("URL has no socket path: " + url.text);
    url.host = std::string(rest);
    return url;
  }
  auto slash = rest.find('/');
  if (slash != std::string_view::npos && slash + 1 < rest.size()) {
    return InvalidArgument("URL must not contain a path: " + url.text);
  }
  if (slash != std::string_view::npos) rest = rest.substr(0, slash);
  std::string_view host, port;
  if (!rest.empty() && rest.front() == '[') {  // [v6]:port
    auto close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      return InvalidArgument("URL address does not have the form \"host:port\": " + url.text);
    }
    host = rest.substr(1, close - 1);
    port = rest.substr(close + 2);
  } else {
    auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) {
      return InvalidArgument("URL address does not have the form \"host:port\": " + url.text);
    }
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  uint32_t port_number = 0;
  if (!ParseNumber(port, &port_number).ok() || port_number > 65535) {
    return InvalidArgument("URL has an invalid port: " + url.text);
  }
  url.host = std::string(host);
  url.port = static_cast<uint16_t>(port_number);
  return url;
}

Result<int64_t> ParseGoDurationMs(std::string_view text) {
  // Milliseconds per unit; the longer of two units sharing a first letter comes first.
  static const std::pair<std::string_view, double> kUnits[] = {
      {"ms", 1},    {"ns", 1e-6}, {"us", 1e-3}, {"\xC2\xB5s", 1e-3},
      {"h", 3.6e6}, {"m", 6e4},   {"s", 1e3}};
  const std::string original(text);  // Go's message quotes the whole input
  auto bad = [&original] { return InvalidArgument("time: invalid duration " + Quote(original)); };
  if (text == "0") return int64_t{0};
  if (!text.empty() && text[0] == '+') text.remove_prefix(1);
  if (text.empty() || text[0] == '-') return bad();
  double total_ms = 0;
  while (!text.empty()) {
    size_t digits = 0;
    while (digits < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[digits])) || text[digits] == '.')) {
      ++digits;
    }
    double number = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + digits, number);
    if (digits == 0 || ec != std::errc() || end != text.data() + digits) return bad();
    text.remove_prefix(digits);
    bool matched = false;
    for (const auto& [unit, factor] : kUnits) {
      if (text.substr(0, unit.size()) != unit) continue;
      total_ms += number * factor;
      text.remove_prefix(unit.size());
      matched = true;
      break;
    }
    if (!matched) return bad();
  }
  return static_cast<int64_t>(total_ms);
}

Result<std::vector<Url>> ParseUrls(std::string_view text) {
  std::vector<Url> urls;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    CAIRN_ASSIGN_OR_RETURN(Url url, ParseUrl(text.substr(start, comma - start)));
    urls.push_back(std::move(url));
    start = comma + 1;
  }
  return urls;
}

Result<std::vector<ClusterMember>> Config::InitialClusterMembers() const {
  std::vector<ClusterMember> members;
  std::string_view text = initial_cluster;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(start, comma - start);
    auto eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return InvalidArgument("--initial-cluster " + Quote(initial_cluster) +
                             ": expected name=peer-url pairs separated by commas");
    }
    std::string member(item.substr(0, eq));
    CAIRN_ASSIGN_OR_RETURN(Url url, ParseUrl(item.substr(eq + 1)));
    auto found = std::find_if(members.begin(), members.end(),
                              [&](const ClusterMember& m) { return m.name == member; });
    if (found == members.end()) {
      members.push_back({member, {}});
      found = members.end() - 1;
    }
    found->peer_urls.push_back(std::move(url));
    start = comma + 1;
  }
  return members;
}

Status Validate(Config* config) {
  if (config->name.empty()) return InvalidArgument("--name must not be empty");
  if (config->heartbeat_interval_ms == 0) {
    return InvalidArgument("--heartbeat-interval must be >0 (set to 0ms)");
  }
  if (config->election_timeout_ms == 0) {
    return InvalidArgument("--election-timeout must be >0 (set to 0ms)");
  }
  if (uint64_t{config->election_timeout_ms} < 5 * uint64_t{config->heartbeat_interval_ms}) {
    return InvalidArgument("--election-timeout[" + std::to_string(config->election_timeout_ms) +
                           "ms] should be at least as 5 times as --heartbeat-interval[" +
                           std::to_string(config->heartbeat_interval_ms) + "ms]");
  }
  if (config->election_timeout_ms > 50000) {
    return InvalidArgument("--election-timeout[" + std::to_string(config->election_timeout_ms) +
                           "ms] is too long, and should be set less than 50000ms");
  }
  if (config->quota_backend_bytes < 0) {
    return InvalidArgument("--quota-backend-bytes must not be negative");
  }
  if (config->max_request_bytes == 0) return InvalidArgument("--max-request-bytes must be >0");
  if (config->max_txn_ops == 0) return InvalidArgument("--max-txn-ops must be >0");
  if (config->watch_progress_notify_interval_ms <= 0) {
    return InvalidArgument("--experimental-watch-progress-notify-interval must be >0 (set to " +
                           std::to_string(config->watch_progress_notify_interval_ms) + "ms)");
  }
  if (config->initial_cluster.empty()) {
    for (const Url& url : config->initial_advertise_peer_urls) {
      if (!config->initial_cluster.empty()) config->initial_cluster += ",";
      config->initial_cluster += config->name + "=" + url.text;
    }
  }
  CAIRN_ASSIGN_OR_RETURN(auto members, config->InitialClusterMembers());
  if (std::none_of(members.begin(), members.end(),
                   [&](const ClusterMember& m) { return m.name == config->name; })) {
    return InvalidArgument("couldn't find local name " + Quote(config->name) +
                           " in the initial cluster configuration");
  }
  return Status::Ok();
}

Status ApplyConfigYaml(std::string_view yaml, Config* config, std::vector<std::string>* warnings) {
  try {
    return ApplyConfigYamlOrThrow(yaml, config, warnings);
  } catch (const YAML::Exception& e) {
    return InvalidArgument(std::string("config file: ") + e.what());
  }
}

Result<CommandLine> ParseCommandLine(const std::vector<std::string>& args,
                                     const std::vector<std::string>& environment) {
  CommandLine out;
  std::set<std::string> given;  // option names set by flags
  bool other_flags = false;

  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--") {
      if (i + 1 < args.size()) return InvalidArgument(Quote(args[i + 1]) + " is not a valid flag");
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      return InvalidArgument("'" + std::string(arg) + "' is not a valid flag");
    }
    std::string_view body = arg.substr(arg[1] == '-' ? 2 : 1);
    if (body.empty() || body[0] == '-' || body[0] == '=') {
      return InvalidArgument("bad flag syntax: " + std::string(arg));
    }
    std::string_view name = body, value;
    bool has_value = false;
    if (auto eq = body.find('='); eq != std::string_view::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      has_value = true;
    }
    auto take_value = [&]() -> Status {
      if (has_value) return Status::Ok();
      if (i + 1 >= args.size()) {
        return InvalidArgument("flag needs an argument: -" + std::string(name));
      }
      value = args[++i];
      has_value = true;
      return Status::Ok();
    };
    auto bool_value = [&](bool* b) -> Status {
      *b = true;
      if (has_value && !ParseBool(value, b).ok()) {
        return InvalidArgument("invalid boolean value " + Quote(value) + " for -" +
                               std::string(name) + ": parse error");
      }
      return Status::Ok();
    };

    if (name == "h" || name == "help") {
      CAIRN_RETURN_IF_ERROR(bool_value(&out.show_help));
    } else if (name == "version") {
      CAIRN_RETURN_IF_ERROR(bool_value(&out.show_version));
    } else if (name == "config-file") {
      CAIRN_RETURN_IF_ERROR(take_value());
      out.config_file = std::string(value);
    } else if (const Option* o = FindOption(name)) {
      CAIRN_RETURN_IF_ERROR(take_value());
      Status s = o->set(&out.config, value);
      if (!s.ok()) return FlagError(name, value, s);
      given.insert(std::string(name));
      other_flags = true;
    } else {
      if (FixedSettings().count(name)) {
        if (name == "pre-vote" || name == "enable-v2") {  // Go boolean flags
          bool b = false;
          CAIRN_RETURN_IF_ERROR(bool_value(&b));
          value = b ? "true" : "false";
        } else {
          CAIRN_RETURN_IF_ERROR(take_value());
        }
      }
      CAIRN_RETURN_IF_ERROR(ApplyOther(name, value, "--"));
      other_flags = true;
    }
  }
  if (out.show_help || out.show_version) return out;

  std::map<std::string, std::string, std::less<>> env;
  for (const std::string& entry : environment) {
    auto eq = entry.find('=');
    if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  if (out.config_file.empty()) {
    if (auto it = env.find("ETCD_CONFIG_FILE"); it != env.end()) out.config_file = it->second;
  }

  if (!out.config_file.empty()) {
    std::ifstream in(out.config_file);
    if (!in) return InvalidArgument("cannot read config file " + Quote(out.config_file));
    std::stringstream text;
    text << in.rdbuf();
    out.config = Config();
    CAIRN_RETURN_IF_ERROR(ApplyConfigYaml(text.str(), &out.config, &out.warnings));
    if (other_flags) {
      out.warnings.push_back(
          "a config file is given: other command line flags and ETCD_* environment variables "
          "are ignored");
    }
  } else {
    std::set<std::string> used;
    for (const Option& o : Options()) {
      std::string key = EnvName(o.name);
      auto it = env.find(key);
      if (it == env.end()) continue;
      used.insert(key);
      if (given.count(std::string(o.name))) {
        return InvalidArgument("conflicting environment variable " + Quote(key) +
                               " is shadowed by corresponding command-line flag (either unset "
                               "environment variable or disable flag)");
      }
      if (it->second.empty()) continue;
      Status s = o.set(&out.config, it->second);
      if (!s.ok()) {
        return InvalidArgument("invalid value " + Quote(it->second) + " for " + key + ": " +
                               s.message());
      }
    }
    for (const auto& [key, value] : env) {
      if (key.rfind("ETCD_", 0) != 0 || used.count(key) || key == "ETCD_CONFIG_FILE") continue;
      out.warnings.push_back("unrecognized environment variable " + key + "=" + value);
    }
  }

  CAIRN_RETURN_IF_ERROR(Validate(&out.config));
  return out;
}

std::string Usage() {
  std::string out =
      "Usage: cairnd [flags]\n"
      "Starts a Cairn member. Flags are etcd's; each may also be given as an ETCD_<FLAG>\n"
      "environment variable, or as a key of the YAML file named by --config-file (which then\n"
      "decides alone).\n\n";
  for (const Option& o : Options()) {
    out += "  --" + std::string(o.name) + "\n      " + std::string(o.help) + "\n";
  }
  out +=
      "  --config-file\n      Path to the server configuration file.\n"
      "  --version\n      Print the version and exit.\n";
  return out;
}

}  // namespace cairn::server
