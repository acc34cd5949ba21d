// cairnd reads flags, ETCD_* variables and config files as etcd does, with etcd's defaults
// and error texts, and refuses what it does not support instead of ignoring it.
#include "server/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace cairn::server {
namespace {

using Args = std::vector<std::string>;

Result<CommandLine> Parse(const Args& args, const Args& env = {}) {
  return ParseCommandLine(args, env);
}

std::string ErrorOf(const Args& args, const Args& env = {}) {
  auto r = Parse(args, env);
  EXPECT_FALSE(r.ok()) << "expected an error";
  return r.ok() ? "" : r.status().message();
}

class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    path_ = std::filesystem::temp_directory_path() / ("cairn-config-" + std::to_string(::getpid()) +
                                                      "-" + std::to_string(counter_++) + ".yaml");
    std::ofstream(path_) << text;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

TEST(ConfigTest, DefaultsAreEtcds) {
  auto r = Parse({});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Config& c = r->config;
  EXPECT_EQ(c.name, "default");
  EXPECT_EQ(c.EffectiveDataDir(), "default.cairn");
  ASSERT_EQ(c.listen_client_urls.size(), 1u);
  EXPECT_EQ(c.listen_client_urls[0].host, "localhost");
  EXPECT_EQ(c.listen_client_urls[0].port, 2379);
  EXPECT_EQ(c.advertise_client_urls[0].text, "http://localhost:2379");
  EXPECT_EQ(c.listen_peer_urls[0].port, 2380);
  EXPECT_EQ(c.initial_cluster, "default=http://localhost:2380");
  EXPECT_EQ(c.initial_cluster_state, "new");
  EXPECT_EQ(c.initial_cluster_token, "etcd-cluster");
  EXPECT_EQ(c.heartbeat_interval_ms, 100u);
  EXPECT_EQ(c.election_timeout_ms, 1000u);
  EXPECT_EQ(c.snapshot_count, 10000u);
  EXPECT_EQ(c.EffectiveQuotaBackendBytes(), int64_t{2} << 30);
  EXPECT_EQ(c.max_request_bytes, 1572864u);
  EXPECT_EQ(c.max_txn_ops, 128u);
  EXPECT_TRUE(c.listen_metrics_urls.empty());
  EXPECT_EQ(c.log_level, "info");
}

TEST(ConfigTest, FlagsTakeEveryGoSyntax) {
  auto r = Parse({"--name=n1", "-data-dir", "/tmp/d", "--listen-client-urls",
                  "http://127.0.0.1:1,http://[::1]:2", "-max-txn-ops=7", "--initial-cluster",
                  "n1=http://127.0.0.1:3", "--snapshot-count", "5"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->config.name, "n1");
  EXPECT_EQ(r->config.EffectiveDataDir(), "/tmp/d");
  ASSERT_EQ(r->config.listen_client_urls.size(), 2u);
  EXPECT_EQ(r->config.listen_client_urls[1].host, "::1");
  EXPECT_EQ(r->config.listen_client_urls[1].port, 2);
  EXPECT_EQ(r->config.max_txn_ops, 7u);
  EXPECT_EQ(r->config.snapshot_count, 5u);
}

TEST(ConfigTest, InitialClusterDefaultsToTheMembersOwnNameAndPeerUrls) {
  auto r = Parse({"--name", "a", "--initial-advertise-peer-urls", "http://10.0.0.1:2380"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->config.initial_cluster, "a=http://10.0.0.1:2380");
}

TEST(ConfigTest, InitialClusterListsMembersWithAllTheirUrls) {
  Config c;
  c.initial_cluster = "a=http://h1:1,b=http://h2:2,a=http://h3:3";
  auto members = c.InitialClusterMembers();
  ASSERT_TRUE(members.ok());
  ASSERT_EQ(members->size(), 2u);
  EXPECT_EQ((*members)[0].name, "a");
  EXPECT_EQ((*members)[0].peer_urls.size(), 2u);
  EXPECT_EQ((*members)[1].peer_urls[0].host, "h2");
}

TEST(ConfigTest, UnknownFlagsAreRefusedByName) {
  EXPECT_EQ(ErrorOf({"--nmae", "x"}), "unknown flag --nmae (cairnd --help lists the flags)");
  EXPECT_EQ(ErrorOf({"--cert-file", "c.pem"}),
            "--cert-file is an etcd setting that Cairn does not support yet");
  EXPECT_EQ(ErrorOf({"--experimental-corrupt-check-time=1m"}),
            "--experimental-corrupt-check-time is an etcd setting that Cairn does not support yet");
  EXPECT_EQ(ErrorOf({"--experimental-foo=1"}),
            "--experimental-foo is an etcd setting that Cairn does not support yet");
  EXPECT_EQ(ErrorOf({"stray"}), "'stray' is not a valid flag");
  EXPECT_EQ(ErrorOf({"---name"}), "bad flag syntax: ---name");
  EXPECT_EQ(ErrorOf({"--name"}), "flag needs an argument: -name");
}

TEST(ConfigTest, SettingsCairnHonoursByConstructionAreAcceptedOnlyWithThoseValues) {
  EXPECT_TRUE(Parse({"--logger", "zap", "--pre-vote", "--enable-v2=false"}).ok());
  EXPECT_EQ(ErrorOf({"--enable-v2"}), "--enable-v2=true: Cairn supports only false");
  EXPECT_EQ(ErrorOf({"--logger=capnslog"}), "--logger=capnslog: Cairn supports only zap");
}

TEST(ConfigTest, BadValuesGetGoFlagErrors) {
  EXPECT_EQ(ErrorOf({"--heartbeat-interval", "abc"}),
            "invalid value \"abc\" for flag -heartbeat-interval: parse error");
  EXPECT_EQ(ErrorOf({"--max-txn-ops=-1"}),
            "invalid value \"-1\" for flag -max-txn-ops: parse error");
  EXPECT_EQ(ErrorOf({"--listen-client-urls", "ftp://x:1"}),
            "invalid value \"ftp://x:1\" for flag -listen-client-urls: URL scheme must be http, "
            "https, unix, or unixs: ftp://x:1");
  EXPECT_EQ(ErrorOf({"--listen-peer-urls", "http://host"}),
            "invalid value \"http://host\" for flag -listen-peer-urls: URL address does not have "
            "the form \"host:port\": http://host");
  EXPECT_EQ(ErrorOf({"--advertise-client-urls", "http://h:1/path"}),
            "invalid value \"http://h:1/path\" for flag -advertise-client-urls: URL must not "
            "contain a path: http://h:1/path");
  EXPECT_EQ(ErrorOf({"--initial-cluster-state", "old"}),
            "invalid value \"old\" for flag -initial-cluster-state: valid values are \"new\", "
            "\"existing\"");
  EXPECT_EQ(ErrorOf({"--log-level", "loud"}),
            "invalid value \"loud\" for flag -log-level: must be one of debug, info, warn, error, "
            "panic, fatal");
}

TEST(ConfigTest, ValidationUsesEtcdsMessages) {
  EXPECT_EQ(ErrorOf({"--heartbeat-interval", "300"}),
            "--election-timeout[1000ms] should be at least as 5 times as "
            "--heartbeat-interval[300ms]");
  EXPECT_EQ(ErrorOf({"--election-timeout", "60000"}),
            "--election-timeout[60000ms] is too long, and should be set less than 50000ms");
  EXPECT_EQ(ErrorOf({"--name", "x", "--initial-cluster", "y=http://h:1"}),
            "couldn't find local name \"x\" in the initial cluster configuration");
}

TEST(ConfigTest, EnvironmentFillsFlagsNotGiven) {
  auto r = Parse({"--name", "a", "--initial-cluster", "a=http://h:1"},
                 {"ETCD_MAX_TXN_OPS=9", "ETCD_DATA_DIR=/x", "ETCD_LOG_LEVEL=", "PATH=/bin"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->config.max_txn_ops, 9u);
  EXPECT_EQ(r->config.data_dir, "/x");
  EXPECT_EQ(r->config.log_level, "info");  // empty variables are ignored, as etcd does
  EXPECT_TRUE(r->warnings.empty());
}

TEST(ConfigTest, EnvironmentShadowedByAFlagIsAnError) {
  EXPECT_EQ(ErrorOf({"--name", "a"}, {"ETCD_NAME=b"}),
            "conflicting environment variable \"ETCD_NAME\" is shadowed by corresponding "
            "command-line flag (either unset environment variable or disable flag)");
}

TEST(ConfigTest, BadOrUnknownEnvironment) {
  EXPECT_EQ(ErrorOf({}, {"ETCD_SNAPSHOT_COUNT=lots"}),
            "invalid value \"lots\" for ETCD_SNAPSHOT_COUNT: parse error");
  auto r = Parse({}, {"ETCD_UNHEARD_OF=1"});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_EQ(r->warnings[0], "unrecognized environment variable ETCD_UNHEARD_OF=1");
}

TEST(ConfigTest, ConfigFileDecidesAloneAndIgnoresFlagsAndEnvironment) {
  TempFile file(
      "name: m1\n"
      "data-dir: /var/lib/m1\n"
      "listen-client-urls: http://127.0.0.1:5001\n"
      "initial-cluster: m1=http://127.0.0.1:5002\n"
      "initial-advertise-peer-urls: http://127.0.0.1:5002\n"
      "heartbeat-interval: 50\n"
      "election-timeout: 500\n"
      "quota-backend-bytes: 4294967296\n"
      "client-transport-security:\n"
      "  cert-file: ''\n"
      "  client-cert-auth: false\n"
      "enable-v2: false\n"
      "strict-reconfig-check: false\n"
      "made-up-key: 1\n");
  auto r = Parse({"--config-file", file.path(), "--max-txn-ops", "3"}, {"ETCD_SNAPSHOT_COUNT=4"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Config& c = r->config;
  EXPECT_EQ(c.name, "m1");
  EXPECT_EQ(c.data_dir, "/var/lib/m1");
  EXPECT_EQ(c.listen_client_urls[0].port, 5001);
  EXPECT_EQ(c.heartbeat_interval_ms, 50u);
  EXPECT_EQ(c.quota_backend_bytes, int64_t{4294967296});
  EXPECT_EQ(c.max_txn_ops, 128u);       // the flag is ignored
  EXPECT_EQ(c.snapshot_count, 10000u);  // so is the variable
  EXPECT_EQ(r->config_file, file.path());
  ASSERT_EQ(r->warnings.size(), 2u);
  EXPECT_EQ(r->warnings[0], "config file key made-up-key is not an etcd setting; ignored");
}

TEST(ConfigTest, ConfigFileFromTheEnvironment) {
  TempFile file("name: fromenv\ninitial-cluster: fromenv=http://localhost:2380\n");
  auto r = Parse({}, {"ETCD_CONFIG_FILE=" + file.path()});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->config.name, "fromenv");
}

TEST(ConfigTest, ConfigFileAskingForWhatCairnLacksIsRefused) {
  TempFile tls("client-transport-security:\n  cert-file: /etc/c.pem\n");
  EXPECT_EQ(ErrorOf({"--config-file", tls.path()}),
            "config file key client-transport-security is an etcd setting that Cairn does not "
            "support yet");
  TempFile compaction("auto-compaction-retention: 1h\n");
  EXPECT_EQ(ErrorOf({"--config-file", compaction.path()}),
            "config file key auto-compaction-retention is an etcd setting that Cairn does not "
            "support yet");
  TempFile bad_value("heartbeat-interval: fast\n");
  EXPECT_EQ(ErrorOf({"--config-file", bad_value.path()}),
            "config file: invalid value \"fast\" for heartbeat-interval: parse error");
  TempFile list("listen-client-urls: [a, b]\n");
  EXPECT_EQ(ErrorOf({"--config-file", list.path()}),
            "config file: listen-client-urls must be a single value");
  TempFile not_yaml("name: [unclosed\n");
  EXPECT_EQ(ErrorOf({"--config-file", not_yaml.path()}).rfind("config file: ", 0), 0u);
  EXPECT_EQ(ErrorOf({"--config-file", "/nonexistent/cairn.yaml"}),
            "cannot read config file \"/nonexistent/cairn.yaml\"");
}

TEST(ConfigTest, HelpAndVersionStopBeforeValidation) {
  auto help = Parse({"--heartbeat-interval", "1", "-h"});
  ASSERT_TRUE(help.ok());
  EXPECT_TRUE(help->show_help);
  EXPECT_NE(Usage().find("--listen-client-urls"), std::string::npos);
  auto version = Parse({"--version"});
  ASSERT_TRUE(version.ok());
  EXPECT_TRUE(version->show_version);
}

TEST(ConfigTest, WatchProgressNotifyIntervalTakesGoDurations) {
  auto r = Parse({"--experimental-watch-progress-notify-interval", "500ms"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->config.watch_progress_notify_interval_ms, 500);
  EXPECT_EQ(Parse({})->config.watch_progress_notify_interval_ms, 600000);  // etcd's 10m
  EXPECT_EQ(*ParseGoDurationMs("1m30s"), 90000);
  EXPECT_EQ(*ParseGoDurationMs("1.5h"), 5400000);
  EXPECT_EQ(*ParseGoDurationMs("2500us"), 2);
  auto env = Parse({}, {"ETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL=2s"});
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_EQ(env->config.watch_progress_notify_interval_ms, 2000);
  EXPECT_EQ(ErrorOf({"--experimental-watch-progress-notify-interval=soon"}),
            "invalid value \"soon\" for flag -experimental-watch-progress-notify-interval: time: "
            "invalid duration \"soon\"");
  EXPECT_EQ(ParseGoDurationMs("5x").status().message(), "time: invalid duration \"5x\"");
  EXPECT_EQ(ErrorOf({"--experimental-watch-progress-notify-interval=0"}),
            "--experimental-watch-progress-notify-interval must be >0 (set to 0ms)");
}

}  // namespace
}  // namespace cairn::server
