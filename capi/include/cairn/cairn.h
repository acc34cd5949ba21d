/*
 * cairn.h: the stable C ABI of Cairn, an etcd-v3-compatible replicated key-value store.
 *
 * Two families of handles:
 *   - cairn_node: a Cairn member started in this process from the options the daemon
 *     (cairnd) takes; it also serves gRPC on its client URLs, so other processes reach it.
 *   - cairn_client: etcd's client API, either over the network to a list of endpoints
 *     (with failover) or in-process to a cairn_node without going through the network.
 *
 * Conventions (the same in every function):
 *   - Functions that can fail return int: CAIRN_OK (0) or a negative CAIRN_E* code. Their
 *     last parameter `cairn_error **err` may be NULL; when it is not NULL and the call
 *     fails, *err receives an error object (code, message, whether a retry may help) that
 *     the caller frees with cairn_error_free. On success *err is set to NULL.
 *   - Out-parameters come first. What comes back through `**out` belongs to the caller and
 *     has its own free function. Every free function accepts NULL and does nothing then.
 *   - Keys, values and names go in as (const uint8_t *, size_t) and are copied. Byte views
 *     that come back (pointer + length) point into the result handle that produced them:
 *     they are not NUL-terminated and stay valid until that handle is freed.
 *     Strings (const char *) that come back are NUL-terminated, and live as long.
 *   - Option structs begin with a `version` field. Initialise them with their _INIT macro
 *     or their _init function; passing NULL means every default. A version this library
 *     does not know fails with CAIRN_EVERSION.
 *   - Blocking calls take a `cairn_cancel *cancel` (may be NULL). Triggering the token
 *     from another thread makes the call return CAIRN_ECANCELLED promptly.
 *   - Callbacks come as (cb, user_data, free_user_data). free_user_data (may be NULL) runs
 *     exactly once when the library no longer needs user_data, also when registration
 *     fails; if registration fails, cb never runs. A non-zero return from cb stops what it
 *     was registered for. Each callback says on which thread it runs; it must not block.
 *   - Revisions and lease IDs are int64_t; member and cluster IDs are uint64_t.
 *   - No function throws, aborts on bad input or keeps thread-local error state.
 */
#ifndef CAIRN_H
#define CAIRN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CAIRN_BUILDING_LIBRARY) && defined(__GNUC__)
#define CAIRN_API __attribute__((visibility("default")))
#else
#define CAIRN_API
#endif

/* ===================================================================================== */
/* Versions                                                                              */
/* ===================================================================================== */

/* The version of this header. The library's soname carries the major version
 * (libcairn.so.0); a binding compares CAIRN_VERSION_NUMBER with cairn_version_number() to
 * detect a library older than the header it was built with. */
#define CAIRN_VERSION_MAJOR 0
#define CAIRN_VERSION_MINOR 1
#define CAIRN_VERSION_PATCH 0
#define CAIRN_VERSION_STRING "0.1.0"
#define CAIRN_VERSION_NUMBER \
  (CAIRN_VERSION_MAJOR * 1000000 + CAIRN_VERSION_MINOR * 1000 + CAIRN_VERSION_PATCH)

/* The version of the library actually loaded, as CAIRN_VERSION_NUMBER is computed. */
CAIRN_API int cairn_version_number(void);
/* The same, as static text ("0.1.0"). */
CAIRN_API const char* cairn_version_string(void);

/* ===================================================================================== */
/* Errors                                                                                */
/* ===================================================================================== */

/* Codes -1 to -16 are gRPC's canonical codes, negated. Codes from -100 on are etcd's own
 * errors, which clients tell apart by their text; each also has a gRPC code
 * (cairn_error_grpc_code) as etcd sends it. Codes from -200 on are the library's own. */
enum {
  CAIRN_OK = 0,
  CAIRN_ECANCELLED = -1,        /* the call was cancelled (token, stop, watch cancel) */
  CAIRN_EUNKNOWN = -2,          /* an error without a better code */
  CAIRN_EINVAL = -3,            /* an argument is invalid (NULL, empty key, bad enum...) */
  CAIRN_ETIMEDOUT = -4,         /* the deadline passed before the call completed */
  CAIRN_ENOTFOUND = -5,         /* something named does not exist */
  CAIRN_EEXISTS = -6,           /* something to create exists already */
  CAIRN_EPERM = -7,             /* permission denied */
  CAIRN_ERESOURCE = -8,         /* a resource is exhausted (other than the quota) */
  CAIRN_EPRECONDITION = -9,     /* the system is not in the state the call needs */
  CAIRN_EABORTED = -10,         /* the call was aborted, typically by a conflict */
  CAIRN_EOUTOFRANGE = -11,      /* a value is out of range */
  CAIRN_EUNIMPLEMENTED = -12,   /* not implemented (by this library or the server) */
  CAIRN_EINTERNAL = -13,        /* an invariant broke: a bug */
  CAIRN_EUNAVAILABLE = -14,     /* no endpoint could serve the call now */
  CAIRN_EDATALOSS = -15,        /* unrecoverable data loss or corruption */
  CAIRN_EUNAUTHENTICATED = -16, /* missing or invalid credentials */

  CAIRN_ECOMPACTED = -100,         /* "etcdserver: mvcc: required revision has been compacted" */
  CAIRN_EFUTUREREV = -101,         /* "etcdserver: mvcc: required revision is a future revision" */
  CAIRN_ENOSPACE = -102,           /* "etcdserver: mvcc: database space exceeded" */
  CAIRN_ELEASENOTFOUND = -103,     /* "etcdserver: requested lease not found" */
  CAIRN_EKEYNOTFOUND = -104,       /* "etcdserver: key not found" (ignore_value/ignore_lease) */
  CAIRN_EDUPLICATEKEY = -105,      /* "etcdserver: duplicate key given in txn request" */
  CAIRN_ETOOMANYOPS = -106,        /* "etcdserver: too many operations in txn request" */
  CAIRN_ETOOLARGE = -107,          /* "etcdserver: request is too large" */
  CAIRN_EEMPTYKEY = -108,          /* "etcdserver: key is not provided" */
  CAIRN_ENOLEADER = -109,          /* "etcdserver: no leader" */
  CAIRN_ENOTLEADER = -110,         /* "etcdserver: not leader" */
  CAIRN_ESTOPPED = -111,           /* "etcdserver: server stopped" */
  CAIRN_ELEASEEXISTS = -112,       /* "etcdserver: lease already exists" */
  CAIRN_ETTLTOOLARGE = -113,       /* "etcdserver: too large lease TTL" */
  CAIRN_EELECTIONNOTLEADER = -114, /* "election: not leader" */
  CAIRN_EELECTIONNOLEADER = -115,  /* "election: no leader" */
  CAIRN_ESESSIONEXPIRED = -116,    /* "mutex: session is expired" */

  CAIRN_EVERSION = -200 /* an option struct's version is not one this library knows */
};

/* An error object: the code, etcd's (or the library's) message, and whether retrying the
 * same call may succeed. Created by the library, freed by the caller.
 * Thread safety: immutable; may be read from any thread, freed once. */
typedef struct cairn_error cairn_error;

/* Static text describing `code` ("compacted", ...); never NULL, also for unknown codes. */
CAIRN_API const char* cairn_strerror(int code);
/* The CAIRN_E* code. */
CAIRN_API int cairn_error_code(const cairn_error* err);
/* The gRPC canonical status code (0-16) the error has on etcd's wire. */
CAIRN_API int cairn_error_grpc_code(const cairn_error* err);
/* The message, exactly as etcd words it for etcd's errors; valid until the error is freed. */
CAIRN_API const char* cairn_error_message(const cairn_error* err);
/* 1 if the same call may succeed when retried later (unavailable, no leader, timeout...). */
CAIRN_API int cairn_error_retryable(const cairn_error* err);
CAIRN_API void cairn_error_free(cairn_error* err);

/* ===================================================================================== */
/* Cancellation                                                                          */
/* ===================================================================================== */

/* A cancellation token: blocking calls given it return CAIRN_ECANCELLED soon after it is
 * triggered (a Go context's Done, a Java future's cancel). One token may serve many calls
 * at once; once triggered it stays triggered.
 * Thread safety: every function may be called from any thread, concurrently; free it only
 * after every call given it has returned. */
typedef struct cairn_cancel cairn_cancel;

CAIRN_API int cairn_cancel_new(cairn_cancel** out, cairn_error** err);
CAIRN_API void cairn_cancel_trigger(cairn_cancel* cancel);
/* 1 once triggered, 0 before (and for NULL). */
CAIRN_API int cairn_cancel_is_triggered(const cairn_cancel* cancel);
CAIRN_API void cairn_cancel_free(cairn_cancel* cancel);

/* ===================================================================================== */
/* Results shared by many calls                                                          */
/* ===================================================================================== */

/* The header of a response: which cluster and member answered, at which store revision.
 * A borrowed view inside a result; lives as long as it.
 * Thread safety: read-only; readable from any thread while its result lives. */
typedef struct cairn_header cairn_header;

CAIRN_API uint64_t cairn_header_cluster_id(const cairn_header* h);
CAIRN_API uint64_t cairn_header_member_id(const cairn_header* h);
/* The store's current revision when the call was served (also for reads at an old one). */
CAIRN_API int64_t cairn_header_revision(const cairn_header* h);
CAIRN_API uint64_t cairn_header_raft_term(const cairn_header* h);

/* One key-value pair at some revision. A borrowed view inside a result; lives as long as
 * it. Thread safety: read-only; readable from any thread while its result lives. */
typedef struct cairn_kv cairn_kv;

CAIRN_API const uint8_t* cairn_kv_key(const cairn_kv* kv, size_t* len);
CAIRN_API const uint8_t* cairn_kv_value(const cairn_kv* kv, size_t* len);
CAIRN_API int64_t cairn_kv_create_revision(const cairn_kv* kv);
CAIRN_API int64_t cairn_kv_mod_revision(const cairn_kv* kv);
CAIRN_API int64_t cairn_kv_version(const cairn_kv* kv);
CAIRN_API int64_t cairn_kv_lease(const cairn_kv* kv);

/* Owned bytes (a lock's key). Thread safety: read-only; free once. */
typedef struct cairn_bytes cairn_bytes;

CAIRN_API const uint8_t* cairn_bytes_data(const cairn_bytes* b, size_t* len);
CAIRN_API void cairn_bytes_free(cairn_bytes* b);

/* ===================================================================================== */
/* Node: a member in this process                                                        */
/* ===================================================================================== */

/* The configuration of a node, set by etcd's (and cairnd's) flag names, without dashes:
 * "name", "data-dir", "listen-client-urls", "advertise-client-urls", "listen-peer-urls",
 * "initial-advertise-peer-urls", "initial-cluster", "initial-cluster-state",
 * "heartbeat-interval", "election-timeout", "quota-backend-bytes", "config-file", ...
 * (`cairnd --help` lists them). Values are written as on cairnd's command line. Nothing is
 * checked until cairn_node_start, which checks as cairnd does and fails with cairnd's
 * message. Unlike cairnd, ETCD_* environment variables are not read.
 * Thread safety: not thread-safe; use from one thread at a time. */
typedef struct cairn_node_config cairn_node_config;

CAIRN_API int cairn_node_config_new(cairn_node_config** out, cairn_error** err);
/* Sets flag `flag` (e.g. "data-dir") to `value`; a later set of the same flag wins. */
CAIRN_API int cairn_node_config_set(cairn_node_config* config, const char* flag, const char* value,
                                    cairn_error** err);
CAIRN_API void cairn_node_config_free(cairn_node_config* config);

/* A running member: raft, storage, the gRPC server on its client URLs, and the HTTP
 * endpoints on its metrics URLs, as cairnd runs them.
 * Thread safety: every function may be called from any thread, concurrently, except
 * cairn_node_free, which must be the last call on the handle. */
typedef struct cairn_node cairn_node;

/* Starts a member as cairnd would with the same flags. Returns when it serves its client
 * URLs (which may be before it has a leader: see cairn_node_wait_ready). A client URL with
 * port 0 gets a free port, reported by cairn_node_client_url. */
CAIRN_API int cairn_node_start(cairn_node** out, const cairn_node_config* config,
                               cairn_error** err);
/* Waits until the member knows a leader and serves linearizable reads, at most
 * `timeout_ms` (< 0: no limit; CAIRN_ETIMEDOUT when it passes). */
CAIRN_API int cairn_node_wait_ready(cairn_node* node, int64_t timeout_ms, cairn_cancel* cancel,
                                    cairn_error** err);
/* The member's ID, and its cluster's. */
CAIRN_API uint64_t cairn_node_id(const cairn_node* node);
CAIRN_API uint64_t cairn_node_cluster_id(const cairn_node* node);
/* The URLs the member serves clients on, with the ports actually bound
 * ("http://127.0.0.1:40123"); valid until the node is freed. NULL when i is out of range. */
CAIRN_API size_t cairn_node_client_url_count(const cairn_node* node);
CAIRN_API const char* cairn_node_client_url(const cairn_node* node, size_t i);

/* Stops gracefully: stops accepting calls, gives those in flight a grace period, ends the
 * watches, keep-alives, locks and observations of its in-process clients (their callbacks
 * get CAIRN_ESTOPPED), then stops the member and closes its storage. Idempotent. After it,
 * calls through the node and its in-process clients fail with CAIRN_ESTOPPED. */
CAIRN_API int cairn_node_stop(cairn_node* node, cairn_error** err);
/* Stops (as cairn_node_stop) and frees the node. In-process clients of it may be freed
 * before or after. */
CAIRN_API void cairn_node_free(cairn_node* node);

/* ===================================================================================== */
/* Client                                                                                */
/* ===================================================================================== */

typedef struct cairn_client_options {
  int version; /* CAIRN_CLIENT_OPTIONS_VERSION */
  /* How long cairn_client_connect waits for a first endpoint to answer; 0: it does not
   * wait (the first call connects). Default 5000. */
  int64_t dial_timeout_ms;
  /* The deadline of each call, beyond which it fails with CAIRN_ETIMEDOUT; 0: none (waits
   * for leases, locks, campaigns are then bounded only by their cancel token). Default 0. */
  int64_t request_timeout_ms;
  /* Non-zero: every call carries etcd's "hasleader" metadata and fails fast with
   * CAIRN_ENOLEADER while the member has no leader. Default 0. */
  int require_leader;
} cairn_client_options;

#define CAIRN_CLIENT_OPTIONS_VERSION 1
#define CAIRN_CLIENT_OPTIONS_INIT \
  { CAIRN_CLIENT_OPTIONS_VERSION, 5000, 0, 0 }
CAIRN_API int cairn_client_options_init(cairn_client_options* opts, int version);

/* A client of a cluster: etcd's KV, Watch, Lease, Lock, Election, Cluster and Maintenance
 * APIs. Over the network, it holds one connection per endpoint and moves to another
 * endpoint when one is unavailable (reads always; writes only when they cannot have been
 * applied). In-process (cairn_node_client), calls go to the member directly.
 * Thread safety: every function may be called from any thread, concurrently, except
 * cairn_client_free, which must be the last call on the handle. Watches, keep-alives and
 * observations made from a client keep what they need alive: they may be freed before or
 * after it. */
typedef struct cairn_client cairn_client;

/* Connects to `endpoints` ("host:port" or "http://host:port"), `count` of them; with a
 * dial timeout, waits until one of them accepts a connection. */
CAIRN_API int cairn_client_connect(cairn_client** out, const char* const* endpoints, size_t count,
                                   const cairn_client_options* opts, cairn_cancel* cancel,
                                   cairn_error** err);
/* A client of `node` in this process that skips the network (dial_timeout_ms is unused). */
CAIRN_API int cairn_node_client(cairn_client** out, cairn_node* node,
                                const cairn_client_options* opts, cairn_error** err);
/* Closes the client: cancels its watches, keep-alives and observations (their callbacks
 * end, their free_user_data run) and frees it. */
CAIRN_API void cairn_client_free(cairn_client* client);

/* ----- KV ----------------------------------------------------------------------------- */

enum { CAIRN_SORT_NONE = 0, CAIRN_SORT_ASCEND = 1, CAIRN_SORT_DESCEND = 2 };
enum {
  CAIRN_SORT_BY_KEY = 0,
  CAIRN_SORT_BY_VERSION = 1,
  CAIRN_SORT_BY_CREATE = 2,
  CAIRN_SORT_BY_MOD = 3,
  CAIRN_SORT_BY_VALUE = 4
};

/* Which keys a range, delete or watch covers besides `key` itself. At most one of
 * range_end, prefix and from_key may be given (CAIRN_EINVAL otherwise). */
typedef struct cairn_range_options {
  int version;              /* CAIRN_RANGE_OPTIONS_VERSION */
  const uint8_t* range_end; /* keys in [key, range_end); NULL: not given */
  size_t range_end_len;
  int prefix;       /* non-zero: every key that starts with key */
  int from_key;     /* non-zero: every key >= key */
  int64_t revision; /* read at this revision; 0: the current one */
  int64_t limit;    /* at most this many keys; 0: no limit */
  int sort_order;   /* CAIRN_SORT_NONE, _ASCEND, _DESCEND */
  int sort_target;  /* CAIRN_SORT_BY_* */
  int serializable; /* non-zero: the local member's state, without a raft round */
  int keys_only;
  int count_only;
  int64_t min_mod_revision; /* 0: no bound; likewise below */
  int64_t max_mod_revision;
  int64_t min_create_revision;
  int64_t max_create_revision;
} cairn_range_options;

#define CAIRN_RANGE_OPTIONS_VERSION 1
#define CAIRN_RANGE_OPTIONS_INIT \
  { CAIRN_RANGE_OPTIONS_VERSION, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }
CAIRN_API int cairn_range_options_init(cairn_range_options* opts, int version);

/* The result of a range (get).
 * Thread safety: read-only; readable from any thread, freed once. */
typedef struct cairn_range_result cairn_range_result;

CAIRN_API const cairn_header* cairn_range_result_header(const cairn_range_result* r);
/* The keys returned (none with count_only). */
CAIRN_API size_t cairn_range_result_kv_count(const cairn_range_result* r);
CAIRN_API const cairn_kv* cairn_range_result_kv(const cairn_range_result* r, size_t i);
/* 1 when the limit cut the result. */
CAIRN_API int cairn_range_result_more(const cairn_range_result* r);
/* Every key in the range at that revision, regardless of limit. */
CAIRN_API int64_t cairn_range_result_count(const cairn_range_result* r);
CAIRN_API void cairn_range_result_free(cairn_range_result* r);

/* The value of one key (linearizable, at the current revision): a range of one key. */
CAIRN_API int cairn_kv_get(cairn_range_result** out, cairn_client* client, const uint8_t* key,
                           size_t key_len, cairn_cancel* cancel, cairn_error** err);
/* A range with every option of etcd's Range. */
CAIRN_API int cairn_kv_range(cairn_range_result** out, cairn_client* client, const uint8_t* key,
                             size_t key_len, const cairn_range_options* opts, cairn_cancel* cancel,
                             cairn_error** err);

typedef struct cairn_put_options {
  int version;      /* CAIRN_PUT_OPTIONS_VERSION */
  int64_t lease;    /* attach the key to this lease; 0: none */
  int prev_kv;      /* non-zero: return the previous key-value */
  int ignore_value; /* non-zero: keep the current value (the key must exist) */
  int ignore_lease; /* non-zero: keep the current lease (the key must exist) */
} cairn_put_options;

#define CAIRN_PUT_OPTIONS_VERSION 1
#define CAIRN_PUT_OPTIONS_INIT \
  { CAIRN_PUT_OPTIONS_VERSION, 0, 0, 0, 0 }
CAIRN_API int cairn_put_options_init(cairn_put_options* opts, int version);

/* The result of a put. Thread safety: read-only; readable from any thread, freed once. */
typedef struct cairn_put_result cairn_put_result;

CAIRN_API const cairn_header* cairn_put_result_header(const cairn_put_result* r);
/* The previous key-value, with prev_kv and when the key existed; NULL otherwise. */
CAIRN_API const cairn_kv* cairn_put_result_prev_kv(const cairn_put_result* r);
CAIRN_API void cairn_put_result_free(cairn_put_result* r);

/* Puts `value` at `key`. `out` may be NULL when the result is not wanted. */
CAIRN_API int cairn_kv_put(cairn_put_result** out, cairn_client* client, const uint8_t* key,
                           size_t key_len, const uint8_t* value, size_t value_len,
                           const cairn_put_options* opts, cairn_cancel* cancel, cairn_error** err);

typedef struct cairn_delete_options {
  int version;              /* CAIRN_DELETE_OPTIONS_VERSION */
  const uint8_t* range_end; /* as in cairn_range_options */
  size_t range_end_len;
  int prefix;
  int from_key;
  int prev_kv; /* non-zero: return the deleted key-values */
} cairn_delete_options;

#define CAIRN_DELETE_OPTIONS_VERSION 1
#define CAIRN_DELETE_OPTIONS_INIT \
  { CAIRN_DELETE_OPTIONS_VERSION, NULL, 0, 0, 0, 0 }
CAIRN_API int cairn_delete_options_init(cairn_delete_options* opts, int version);

/* The result of a delete. Thread safety: read-only; readable from any thread, freed once. */
typedef struct cairn_delete_result cairn_delete_result;

CAIRN_API const cairn_header* cairn_delete_result_header(const cairn_delete_result* r);
CAIRN_API int64_t cairn_delete_result_deleted(const cairn_delete_result* r);
/* The deleted key-values, with prev_kv. */
CAIRN_API size_t cairn_delete_result_prev_kv_count(const cairn_delete_result* r);
CAIRN_API const cairn_kv* cairn_delete_result_prev_kv(const cairn_delete_result* r, size_t i);
CAIRN_API void cairn_delete_result_free(cairn_delete_result* r);

/* Deletes `key` (or the range the options give). `out` may be NULL. */
CAIRN_API int cairn_kv_delete(cairn_delete_result** out, cairn_client* client, const uint8_t* key,
                              size_t key_len, const cairn_delete_options* opts,
                              cairn_cancel* cancel, cairn_error** err);

/* Compacts the history below `revision`; non-zero `physical` waits until the space is
 * reclaimed. CAIRN_ECOMPACTED at or below the compacted revision, CAIRN_EFUTUREREV above
 * the current one. */
CAIRN_API int cairn_kv_compact(cairn_client* client, int64_t revision, int physical,
                               cairn_cancel* cancel, cairn_error** err);

/* ----- Transactions ------------------------------------------------------------------- */

enum { CAIRN_CMP_EQUAL = 0, CAIRN_CMP_GREATER = 1, CAIRN_CMP_LESS = 2, CAIRN_CMP_NOT_EQUAL = 3 };
enum {
  CAIRN_CMP_VERSION = 0,
  CAIRN_CMP_CREATE = 1,
  CAIRN_CMP_MOD = 2,
  CAIRN_CMP_VALUE = 3,
  CAIRN_CMP_LEASE = 4
};
/* The branch an operation goes to. */
enum { CAIRN_TXN_ELSE = 0, CAIRN_TXN_THEN = 1 };

/* A transaction being built: compares (all must hold), then the operations of the "then"
 * branch (when they hold) or of the "else" branch. Building copies every argument; a
 * failed builder call changes nothing. A txn may be committed several times, and nested
 * into another (copied).
 * Thread safety: not thread-safe; build from one thread at a time. Committing reads it. */
typedef struct cairn_txn cairn_txn;

CAIRN_API int cairn_txn_new(cairn_txn** out, cairn_error** err);
CAIRN_API void cairn_txn_free(cairn_txn* txn);
/* Compares `key`'s version, create revision, mod revision or lease (`target`, one of
 * CAIRN_CMP_VERSION, _CREATE, _MOD, _LEASE) with `number`, by `op` (CAIRN_CMP_EQUAL...).
 * A missing key has 0 for each. */
CAIRN_API int cairn_txn_compare_number(cairn_txn* txn, const uint8_t* key, size_t key_len,
                                       int target, int op, int64_t number, cairn_error** err);
/* Compares `key`'s value with `value`, by `op`. A missing key makes it false. */
CAIRN_API int cairn_txn_compare_value(cairn_txn* txn, const uint8_t* key, size_t key_len, int op,
                                      const uint8_t* value, size_t value_len, cairn_error** err);
/* As the two above, over the keys in [key, range_end) (etcd's Compare.range_end; "\0": every
 * key >= key; range_end_len 0: the one key): it holds when every key in the range satisfies
 * it. An empty range compares as a missing key. */
CAIRN_API int cairn_txn_compare_range_number(cairn_txn* txn, const uint8_t* key, size_t key_len,
                                             const uint8_t* range_end, size_t range_end_len,
                                             int target, int op, int64_t number, cairn_error** err);
CAIRN_API int cairn_txn_compare_range_value(cairn_txn* txn, const uint8_t* key, size_t key_len,
                                            const uint8_t* range_end, size_t range_end_len, int op,
                                            const uint8_t* value, size_t value_len,
                                            cairn_error** err);
/* Operations on `branch` (CAIRN_TXN_THEN or CAIRN_TXN_ELSE); options as for the calls of
 * the same names (NULL: defaults). */
CAIRN_API int cairn_txn_range(cairn_txn* txn, int branch, const uint8_t* key, size_t key_len,
                              const cairn_range_options* opts, cairn_error** err);
CAIRN_API int cairn_txn_put(cairn_txn* txn, int branch, const uint8_t* key, size_t key_len,
                            const uint8_t* value, size_t value_len, const cairn_put_options* opts,
                            cairn_error** err);
CAIRN_API int cairn_txn_delete(cairn_txn* txn, int branch, const uint8_t* key, size_t key_len,
                               const cairn_delete_options* opts, cairn_error** err);
/* A nested transaction (a copy of `nested` as it is now). */
CAIRN_API int cairn_txn_txn(cairn_txn* txn, int branch, const cairn_txn* nested, cairn_error** err);

/* The result of a transaction: which branch ran and one response per operation of it.
 * Thread safety: read-only; readable from any thread, freed once. */
typedef struct cairn_txn_result cairn_txn_result;

enum { CAIRN_OP_RANGE = 1, CAIRN_OP_PUT = 2, CAIRN_OP_DELETE = 3, CAIRN_OP_TXN = 4 };

CAIRN_API const cairn_header* cairn_txn_result_header(const cairn_txn_result* r);
/* 1 when the compares held (the "then" branch ran). */
CAIRN_API int cairn_txn_result_succeeded(const cairn_txn_result* r);
CAIRN_API size_t cairn_txn_result_op_count(const cairn_txn_result* r);
/* CAIRN_OP_* of response i; 0 when i is out of range. */
CAIRN_API int cairn_txn_result_op_type(const cairn_txn_result* r, size_t i);
/* Response i as a borrowed result (lives as long as `r`; never freed by itself); NULL when
 * response i is of another type. */
CAIRN_API const cairn_range_result* cairn_txn_result_op_range(const cairn_txn_result* r, size_t i);
CAIRN_API const cairn_put_result* cairn_txn_result_op_put(const cairn_txn_result* r, size_t i);
CAIRN_API const cairn_delete_result* cairn_txn_result_op_delete(const cairn_txn_result* r,
                                                                size_t i);
CAIRN_API const cairn_txn_result* cairn_txn_result_op_txn(const cairn_txn_result* r, size_t i);
CAIRN_API void cairn_txn_result_free(cairn_txn_result* r);

CAIRN_API int cairn_txn_commit(cairn_txn_result** out, cairn_client* client, const cairn_txn* txn,
                               cairn_cancel* cancel, cairn_error** err);

/* ----- Watch -------------------------------------------------------------------------- */

typedef struct cairn_watch_options {
  int version;              /* CAIRN_WATCH_OPTIONS_VERSION */
  const uint8_t* range_end; /* as in cairn_range_options */
  size_t range_end_len;
  int prefix;
  int from_key;
  int64_t start_revision; /* the first revision to report; 0: from now on */
  int prev_kv;            /* non-zero: events carry the previous key-value */
  int filter_put;         /* non-zero: no put events */
  int filter_delete;      /* non-zero: no delete events */
  int progress_notify;    /* non-zero: empty batches report progress when idle */
  int fragment;           /* non-zero: the server may split large batches */
} cairn_watch_options;

#define CAIRN_WATCH_OPTIONS_VERSION 1
#define CAIRN_WATCH_OPTIONS_INIT \
  { CAIRN_WATCH_OPTIONS_VERSION, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0 }
CAIRN_API int cairn_watch_options_init(cairn_watch_options* opts, int version);

enum { CAIRN_EVENT_PUT = 0, CAIRN_EVENT_DELETE = 1 };

/* One event of a batch: a borrowed view, valid during the callback only.
 * Thread safety: read it on the callback's thread, during the callback. */
typedef struct cairn_event cairn_event;

CAIRN_API int cairn_event_type(const cairn_event* e); /* CAIRN_EVENT_PUT or _DELETE */
CAIRN_API const cairn_kv* cairn_event_kv(const cairn_event* e);
/* The previous key-value with prev_kv (NULL when there was none). */
CAIRN_API const cairn_kv* cairn_event_prev_kv(const cairn_event* e);

/* A batch of events the server sent at once: a borrowed view, valid during the callback.
 * A batch without events and not final reports progress: every event up to the header's
 * revision was delivered. The final batch (cairn_watch_batch_final) is the last callback.
 * Thread safety: read it on the callback's thread, during the callback. */
typedef struct cairn_watch_batch cairn_watch_batch;

CAIRN_API const cairn_header* cairn_watch_batch_header(const cairn_watch_batch* b);
CAIRN_API size_t cairn_watch_batch_event_count(const cairn_watch_batch* b);
CAIRN_API const cairn_event* cairn_watch_batch_event(const cairn_watch_batch* b, size_t i);
/* 1 on the last batch: the watch ended (cancelled by the server or the library, its start
 * revision compacted, its client closed or its node stopped). */
CAIRN_API int cairn_watch_batch_final(const cairn_watch_batch* b);
/* On the final batch: why it ended: CAIRN_ECOMPACTED (then see compact_revision),
 * CAIRN_ECANCELLED, CAIRN_ESTOPPED, CAIRN_EUNAVAILABLE...; CAIRN_OK otherwise. */
CAIRN_API int cairn_watch_batch_error(const cairn_watch_batch* b);
/* With CAIRN_ECOMPACTED: the compacted revision (watch again from above it). */
CAIRN_API int64_t cairn_watch_batch_compact_revision(const cairn_watch_batch* b);

/* Runs for each batch, in revision order, one call at a time for one watch, on a thread
 * of the library. Return 0 to go on, non-zero to cancel the watch (no callback follows;
 * the final batch is not delivered then). It must not block, nor free its watch. */
typedef int (*cairn_watch_cb)(const cairn_watch_batch* batch, void* user_data);
typedef void (*cairn_free_fn)(void* user_data);

/* A watch on a key or range. Thread safety: every function may be called from any thread
 * but the watch's own callback, except cairn_watch_free, which must be the last call. */
typedef struct cairn_watch cairn_watch;

/* Creates a watch and returns once the server confirmed it; its batches then go to `cb`.
 * The watch ends with a final batch when the server ends it. */
CAIRN_API int cairn_watch_start(cairn_watch** out, cairn_client* client, const uint8_t* key,
                                size_t key_len, const cairn_watch_options* opts, cairn_watch_cb cb,
                                void* user_data, cairn_free_fn free_user_data, cairn_cancel* cancel,
                                cairn_error** err);
/* The watch's ID on its stream. */
CAIRN_API int64_t cairn_watch_id(const cairn_watch* w);
/* Asks the server for a progress batch (an empty batch at the current revision). */
CAIRN_API int cairn_watch_request_progress(cairn_watch* w, cairn_error** err);
/* Cancels the watch. When it returns, no callback is running or will run, and
 * free_user_data has run. Idempotent. */
CAIRN_API int cairn_watch_cancel(cairn_watch* w, cairn_error** err);
/* Cancels (as cairn_watch_cancel) and frees. */
CAIRN_API void cairn_watch_free(cairn_watch* w);

/* ----- Leases ------------------------------------------------------------------------- */

/* Grants a lease of `ttl` seconds; `id` 0 lets the server choose. *id_out and *ttl_out
 * (either may be NULL) receive the lease and the TTL granted. */
CAIRN_API int cairn_lease_grant(int64_t* id_out, int64_t* ttl_out, cairn_client* client,
                                int64_t ttl, int64_t id, cairn_cancel* cancel, cairn_error** err);
/* Revokes a lease, deleting its keys. CAIRN_ELEASENOTFOUND when there is none. */
CAIRN_API int cairn_lease_revoke(cairn_client* client, int64_t id, cairn_cancel* cancel,
                                 cairn_error** err);

/* The state of a lease. Thread safety: read-only; readable from any thread, freed once. */
typedef struct cairn_lease_info cairn_lease_info;

CAIRN_API const cairn_header* cairn_lease_info_header(const cairn_lease_info* l);
CAIRN_API int64_t cairn_lease_info_id(const cairn_lease_info* l);
/* The seconds left; -1 when the lease does not exist (not an error, as in etcd). */
CAIRN_API int64_t cairn_lease_info_ttl(const cairn_lease_info* l);
CAIRN_API int64_t cairn_lease_info_granted_ttl(const cairn_lease_info* l);
/* The keys attached, when asked for. */
CAIRN_API size_t cairn_lease_info_key_count(const cairn_lease_info* l);
CAIRN_API const uint8_t* cairn_lease_info_key(const cairn_lease_info* l, size_t i, size_t* len);
CAIRN_API void cairn_lease_info_free(cairn_lease_info* l);

CAIRN_API int cairn_lease_time_to_live(cairn_lease_info** out, cairn_client* client, int64_t id,
                                       int with_keys, cairn_cancel* cancel, cairn_error** err);

/* The IDs of every lease. Thread safety: read-only; readable from any thread, freed once. */
typedef struct cairn_lease_list cairn_lease_list;

CAIRN_API size_t cairn_lease_list_count(const cairn_lease_list* l);
CAIRN_API int64_t cairn_lease_list_id(const cairn_lease_list* l, size_t i);
CAIRN_API void cairn_lease_list_free(cairn_lease_list* l);

CAIRN_API int cairn_lease_leases(cairn_lease_list** out, cairn_client* client, cairn_cancel* cancel,
                                 cairn_error** err);

/* Runs after each keep-alive answer with the TTL the lease has again, on a thread of the
 * library, one call at a time. `ttl` 0 (or less) means the lease is gone: the keep-alive
 * ends after this call. Return non-zero to stop the keep-alive. */
typedef int (*cairn_keepalive_cb)(int64_t lease, int64_t ttl, void* user_data);

/* Keeps a lease alive, renewing it every third of its TTL, until freed, until the lease is
 * gone, or until the callback asks to stop.
 * Thread safety: every function may be called from any thread but its own callback,
 * except cairn_keepalive_free, which must be the last call. */
typedef struct cairn_keepalive cairn_keepalive;

/* Sends a first keep-alive and returns with its answer (CAIRN_ELEASENOTFOUND when the
 * lease does not exist); the library renews it from then on. `cb` may be NULL. */
CAIRN_API int cairn_lease_keepalive_start(cairn_keepalive** out, cairn_client* client, int64_t id,
                                          cairn_keepalive_cb cb, void* user_data,
                                          cairn_free_fn free_user_data, cairn_cancel* cancel,
                                          cairn_error** err);
/* The TTL of the last answer. */
CAIRN_API int64_t cairn_keepalive_ttl(const cairn_keepalive* k);
/* Stops renewing (the lease lives on until its TTL passes). When it returns, no callback
 * is running or will run, and free_user_data has run. */
CAIRN_API void cairn_keepalive_free(cairn_keepalive* k);

/* ----- Lock --------------------------------------------------------------------------- */

/* Acquires the lock `name`, waiting while another holds it; the lock is held as long as
 * lease `lease` lives (0: the server grants one of 60 s, left to expire as etcd does).
 * *key_out receives the key that holds the lock, for cairn_lock_release. */
CAIRN_API int cairn_lock_acquire(cairn_bytes** key_out, cairn_client* client, const uint8_t* name,
                                 size_t name_len, int64_t lease, cairn_cancel* cancel,
                                 cairn_error** err);
/* Releases the lock held by `key`. */
CAIRN_API int cairn_lock_release(cairn_client* client, const uint8_t* key, size_t key_len,
                                 cairn_cancel* cancel, cairn_error** err);

/* ----- Election ----------------------------------------------------------------------- */

/* Who leads an election: the key a campaign won with. Copied from a campaign's result.
 * Thread safety: read-only; readable from any thread, freed once. */
typedef struct cairn_leader_key cairn_leader_key;

CAIRN_API const uint8_t* cairn_leader_key_name(const cairn_leader_key* l, size_t* len);
CAIRN_API const uint8_t* cairn_leader_key_key(const cairn_leader_key* l, size_t* len);
CAIRN_API int64_t cairn_leader_key_revision(const cairn_leader_key* l);
CAIRN_API int64_t cairn_leader_key_lease(const cairn_leader_key* l);
CAIRN_API void cairn_leader_key_free(cairn_leader_key* l);

/* Campaigns in election `name` with `value`, waiting until it leads; leadership lasts as
 * long as lease `lease` (which must exist). */
CAIRN_API int cairn_election_campaign(cairn_leader_key** out, cairn_client* client,
                                      const uint8_t* name, size_t name_len, int64_t lease,
                                      const uint8_t* value, size_t value_len, cairn_cancel* cancel,
                                      cairn_error** err);
/* Sets a new value as leader; CAIRN_EELECTIONNOTLEADER when `leader` no longer leads. */
CAIRN_API int cairn_election_proclaim(cairn_client* client, const cairn_leader_key* leader,
                                      const uint8_t* value, size_t value_len, cairn_cancel* cancel,
                                      cairn_error** err);
/* Gives up leadership. */
CAIRN_API int cairn_election_resign(cairn_client* client, const cairn_leader_key* leader,
                                    cairn_cancel* cancel, cairn_error** err);

/* The current leader's key-value. Thread safety: read-only; readable from any thread,
 * freed once. */
typedef struct cairn_leader cairn_leader;

CAIRN_API const cairn_header* cairn_leader_header(const cairn_leader* l);
CAIRN_API const cairn_kv* cairn_leader_kv(const cairn_leader* l);
CAIRN_API void cairn_leader_free(cairn_leader* l);

/* The leader of `name`; CAIRN_EELECTIONNOLEADER when there is none. */
CAIRN_API int cairn_election_leader(cairn_leader** out, cairn_client* client, const uint8_t* name,
                                    size_t name_len, cairn_cancel* cancel, cairn_error** err);

/* Runs with the leader's key-value (valid during the call) each time a leader or its value
 * changes; on a thread of the library, one call at a time. When the observation ends,
 * it runs a last time with `leader` NULL and `error` saying why (CAIRN_OK when the server
 * ended it, CAIRN_ESTOPPED, CAIRN_EUNAVAILABLE...). Return non-zero to stop observing (no
 * call follows). */
typedef int (*cairn_observe_cb)(const cairn_kv* leader, int error, void* user_data);

/* An observation of an election.
 * Thread safety: every function may be called from any thread but its own callback,
 * except cairn_observe_free, which must be the last call. */
typedef struct cairn_observe cairn_observe;

/* Starts observing `name`. Returns at once; the first leader (if any) comes through `cb`. */
CAIRN_API int cairn_election_observe(cairn_observe** out, cairn_client* client, const uint8_t* name,
                                     size_t name_len, cairn_observe_cb cb, void* user_data,
                                     cairn_free_fn free_user_data, cairn_error** err);
/* Stops observing. When it returns, no callback is running or will run, and
 * free_user_data has run. */
CAIRN_API void cairn_observe_free(cairn_observe* o);

/* ----- Cluster and maintenance -------------------------------------------------------- */

/* The members of the cluster. Thread safety: read-only; readable from any thread, freed
 * once. Strings live as long as the list. */
typedef struct cairn_member_list cairn_member_list;

CAIRN_API const cairn_header* cairn_member_list_header(const cairn_member_list* l);
CAIRN_API size_t cairn_member_list_count(const cairn_member_list* l);
CAIRN_API uint64_t cairn_member_list_id(const cairn_member_list* l, size_t i);
/* "" for a member that has not started yet; NULL when i is out of range. */
CAIRN_API const char* cairn_member_list_name(const cairn_member_list* l, size_t i);
CAIRN_API int cairn_member_list_is_learner(const cairn_member_list* l, size_t i);
CAIRN_API size_t cairn_member_list_peer_url_count(const cairn_member_list* l, size_t i);
CAIRN_API const char* cairn_member_list_peer_url(const cairn_member_list* l, size_t i, size_t j);
CAIRN_API size_t cairn_member_list_client_url_count(const cairn_member_list* l, size_t i);
CAIRN_API const char* cairn_member_list_client_url(const cairn_member_list* l, size_t i, size_t j);
CAIRN_API void cairn_member_list_free(cairn_member_list* l);

CAIRN_API int cairn_cluster_member_list(cairn_member_list** out, cairn_client* client,
                                        cairn_cancel* cancel, cairn_error** err);

/* The status of the member that answered. Thread safety: read-only; readable from any
 * thread, freed once. */
typedef struct cairn_status cairn_status;

CAIRN_API const cairn_header* cairn_status_header(const cairn_status* s);
/* The etcd API level the member implements ("3.5.x"). */
CAIRN_API const char* cairn_status_version(const cairn_status* s);
CAIRN_API int64_t cairn_status_db_size(const cairn_status* s);
CAIRN_API int64_t cairn_status_db_size_in_use(const cairn_status* s);
CAIRN_API uint64_t cairn_status_leader(const cairn_status* s);
CAIRN_API uint64_t cairn_status_raft_index(const cairn_status* s);
CAIRN_API uint64_t cairn_status_raft_term(const cairn_status* s);
CAIRN_API uint64_t cairn_status_raft_applied_index(const cairn_status* s);
CAIRN_API int cairn_status_is_learner(const cairn_status* s);
CAIRN_API size_t cairn_status_error_count(const cairn_status* s);
CAIRN_API const char* cairn_status_error(const cairn_status* s, size_t i);
CAIRN_API void cairn_status_free(cairn_status* s);

/* The status of the member the client talks to (in-process: its node). */
CAIRN_API int cairn_maintenance_status(cairn_status** out, cairn_client* client,
                                       cairn_cancel* cancel, cairn_error** err);
/* The status of `node`, without a client. */
CAIRN_API int cairn_node_status(cairn_status** out, cairn_node* node, cairn_error** err);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* CAIRN_H */
