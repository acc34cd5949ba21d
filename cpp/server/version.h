// Cairn's own version and the etcd levels it reports to clients, in one place.
#pragma once

namespace cairn::server {

// Cairn's release (also CMake's project version); /version and `cairnd --version` show it.
inline constexpr const char* kCairnVersion = "0.1.0";
// The etcd API level Cairn implements: Status.version and /version's etcdserver. Clients such
// as kube-apiserver gate features on it.
inline constexpr const char* kEtcdApiVersion = "3.5.35";
// The cluster and storage levels etcd reports beside it (/version's etcdcluster, and the
// snapshot's storage version).
inline constexpr const char* kEtcdClusterVersion = "3.5.0";

}  // namespace cairn::server
