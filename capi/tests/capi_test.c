/* The C ABI from C: every function, its error paths and its ownership rules, against a node
 * started in this process, once through its in-process client and once over the network.
 * Run under AddressSanitizer and LeakSanitizer: a leaked result or a double free fails it. */
#define _POSIX_C_SOURCE 200809L
#include <cairn/cairn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int failures = 0;

#define CHECK(cond)                                                      \
  do {                                                                   \
    if (!(cond)) {                                                       \
      fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                        \
    }                                                                    \
  } while (0)

/* Expects `call` to return `code`; frees the error object it gave. */
#define EXPECT_CODE(code, call)                                                                \
  do {                                                                                         \
    cairn_error* e_ = NULL;                                                                    \
    int rc_ = (call);                                                                          \
    if (rc_ != (code)) {                                                                       \
      fprintf(stderr, "%s:%d: %s returned %d (%s), want %d\n", __FILE__, __LINE__, #call, rc_, \
              e_ ? cairn_error_message(e_) : "", (code));                                      \
      failures++;                                                                              \
    }                                                                                          \
    if (rc_ != 0) CHECK(e_ == NULL || cairn_error_code(e_) == rc_);                            \
    cairn_error_free(e_);                                                                      \
  } while (0)
#define OK(call) EXPECT_CODE(CAIRN_OK, call)
/* `call` must name the cairn_error *e_ declared by the macro. */
#define ERR (&e_)

#define B(s) ((const uint8_t*)(s))
#define L(s) strlen(s)

static void sleep_ms(long ms) {
  struct timespec t;
  t.tv_sec = ms / 1000;
  t.tv_nsec = (ms % 1000) * 1000000L;
  nanosleep(&t, NULL);
}

static int bytes_eq(const uint8_t* p, size_t n, const char* s) {
  return n == strlen(s) && (n == 0 || memcmp(p, s, n) == 0);
}

/* ---- Callback recorders ---------------------------------------------------------------- */

typedef struct {
  pthread_mutex_t mu;
  int batches;
  int events;
  int progress;
  int finals;
  int final_error;
  int64_t compact_revision;
  char last_key[64];
  char last_prev_value[64];
  int frees;
  int stop_after; /* return non-zero from the callback after this many batches (0: never) */
} recorder;

static void recorder_init(recorder* r) {
  memset(r, 0, sizeof(*r));
  pthread_mutex_init(&r->mu, NULL);
}
static void recorder_destroy(recorder* r) {
  pthread_mutex_destroy(&r->mu);
}
static int recorder_get(recorder* r, const int* field) {
  int v;
  pthread_mutex_lock(&r->mu);
  v = *field;
  pthread_mutex_unlock(&r->mu);
  return v;
}
/* Waits up to 10 s for *field >= want. */
static int recorder_wait(recorder* r, const int* field, int want) {
  int i;
  for (i = 0; i < 1000; i++) {
    if (recorder_get(r, field) >= want) return 1;
    sleep_ms(10);
  }
  return 0;
}
static void recorder_free(void* ud) {
  recorder* r = (recorder*)ud;
  pthread_mutex_lock(&r->mu);
  r->frees++;
  pthread_mutex_unlock(&r->mu);
}

static int on_watch(const cairn_watch_batch* b, void* ud) {
  recorder* r = (recorder*)ud;
  size_t i, n = cairn_watch_batch_event_count(b);
  int stop;
  pthread_mutex_lock(&r->mu);
  r->batches++;
  if (cairn_watch_batch_final(b)) {
    r->finals++;
    r->final_error = cairn_watch_batch_error(b);
    r->compact_revision = cairn_watch_batch_compact_revision(b);
  } else if (n == 0) {
    r->progress++;
    CHECK(cairn_header_revision(cairn_watch_batch_header(b)) > 0);
  }
  for (i = 0; i < n; i++) {
    const cairn_event* e = cairn_watch_batch_event(b, i);
    const cairn_kv* kv = cairn_event_kv(e);
    const cairn_kv* prev = cairn_event_prev_kv(e);
    size_t len;
    const uint8_t* key = cairn_kv_key(kv, &len);
    r->events++;
    CHECK(cairn_event_type(e) == CAIRN_EVENT_PUT || cairn_event_type(e) == CAIRN_EVENT_DELETE);
    if (len < sizeof(r->last_key)) {
      memcpy(r->last_key, key, len);
      r->last_key[len] = 0;
    }
    if (prev != NULL) {
      const uint8_t* v = cairn_kv_value(prev, &len);
      if (len < sizeof(r->last_prev_value)) {
        memcpy(r->last_prev_value, v, len);
        r->last_prev_value[len] = 0;
      }
    }
  }
  CHECK(cairn_watch_batch_event(b, n) == NULL);
  stop = r->stop_after > 0 && r->batches >= r->stop_after;
  pthread_mutex_unlock(&r->mu);
  return stop;
}

static int on_keepalive(int64_t lease, int64_t ttl, void* ud) {
  recorder* r = (recorder*)ud;
  (void)lease;
  (void)ttl;
  pthread_mutex_lock(&r->mu);
  r->batches++;
  pthread_mutex_unlock(&r->mu);
  return 0;
}

static int on_observe(const cairn_kv* leader, int error, void* ud) {
  recorder* r = (recorder*)ud;
  pthread_mutex_lock(&r->mu);
  if (leader == NULL) {
    r->finals++;
    r->final_error = error;
  } else {
    size_t len;
    const uint8_t* v = cairn_kv_value(leader, &len);
    r->batches++;
    if (len < sizeof(r->last_prev_value)) {
      memcpy(r->last_prev_value, v, len);
      r->last_prev_value[len] = 0;
    }
  }
  pthread_mutex_unlock(&r->mu);
  return 0;
}

static void* trigger_later(void* arg) {
  sleep_ms(300);
  cairn_cancel_trigger((cairn_cancel*)arg);
  return NULL;
}

/* ---- Pieces that need no node ---------------------------------------------------------- */

static void test_without_node(void) {
  cairn_cancel* cancel = NULL;
  cairn_node_config* cfg = NULL;
  cairn_node* node = NULL;
  cairn_txn* txn = NULL;
  cairn_range_options ro;
  cairn_put_options po;
  cairn_delete_options dopt;
  cairn_watch_options wo;
  cairn_client_options co;
  int code;

  CHECK(cairn_version_number() == CAIRN_VERSION_NUMBER);
  CHECK(strcmp(cairn_version_string(), CAIRN_VERSION_STRING) == 0);
  for (code = -250; code <= 0; code++) CHECK(cairn_strerror(code) != NULL);
  CHECK(strcmp(cairn_strerror(CAIRN_ECOMPACTED), "required revision has been compacted") == 0);
  CHECK(strcmp(cairn_strerror(12345), "unknown error code") == 0);
  CHECK(cairn_error_code(NULL) == CAIRN_OK && cairn_error_retryable(NULL) == 0);
  CHECK(cairn_error_grpc_code(NULL) == 0 && strcmp(cairn_error_message(NULL), "") == 0);

  /* Every free function takes NULL. */
  cairn_error_free(NULL);
  cairn_cancel_free(NULL);
  cairn_bytes_free(NULL);
  cairn_node_config_free(NULL);
  cairn_node_free(NULL);
  cairn_client_free(NULL);
  cairn_range_result_free(NULL);
  cairn_put_result_free(NULL);
  cairn_delete_result_free(NULL);
  cairn_txn_free(NULL);
  cairn_txn_result_free(NULL);
  cairn_watch_free(NULL);
  cairn_lease_info_free(NULL);
  cairn_lease_list_free(NULL);
  cairn_keepalive_free(NULL);
  cairn_leader_key_free(NULL);
  cairn_leader_free(NULL);
  cairn_observe_free(NULL);
  cairn_member_list_free(NULL);
  cairn_status_free(NULL);

  /* Cancellation tokens. */
  EXPECT_CODE(CAIRN_EINVAL, cairn_cancel_new(NULL, ERR));
  OK(cairn_cancel_new(&cancel, ERR));
  CHECK(cairn_cancel_is_triggered(cancel) == 0);
  cairn_cancel_trigger(cancel);
  cairn_cancel_trigger(cancel);
  CHECK(cairn_cancel_is_triggered(cancel) == 1);
  cairn_cancel_trigger(NULL);
  CHECK(cairn_cancel_is_triggered(NULL) == 0);
  cairn_cancel_free(cancel);

  /* Option structs: the right version initialises, another is refused. */
  CHECK(cairn_range_options_init(&ro, CAIRN_RANGE_OPTIONS_VERSION) == CAIRN_OK);
  CHECK(ro.version == CAIRN_RANGE_OPTIONS_VERSION && ro.limit == 0);
  CHECK(cairn_range_options_init(&ro, 99) == CAIRN_EVERSION);
  CHECK(cairn_range_options_init(NULL, CAIRN_RANGE_OPTIONS_VERSION) == CAIRN_EINVAL);
  CHECK(cairn_put_options_init(&po, CAIRN_PUT_OPTIONS_VERSION) == CAIRN_OK);
  CHECK(cairn_put_options_init(&po, 2) == CAIRN_EVERSION);
  CHECK(cairn_put_options_init(NULL, 1) == CAIRN_EINVAL);
  CHECK(cairn_delete_options_init(&dopt, CAIRN_DELETE_OPTIONS_VERSION) == CAIRN_OK);
  CHECK(cairn_delete_options_init(&dopt, 0) == CAIRN_EVERSION);
  CHECK(cairn_delete_options_init(NULL, 1) == CAIRN_EINVAL);
  CHECK(cairn_watch_options_init(&wo, CAIRN_WATCH_OPTIONS_VERSION) == CAIRN_OK);
  CHECK(cairn_watch_options_init(&wo, 7) == CAIRN_EVERSION);
  CHECK(cairn_watch_options_init(NULL, 1) == CAIRN_EINVAL);
  CHECK(cairn_client_options_init(&co, CAIRN_CLIENT_OPTIONS_VERSION) == CAIRN_OK);
  CHECK(co.dial_timeout_ms == 5000);
  CHECK(cairn_client_options_init(&co, 3) == CAIRN_EVERSION);
  CHECK(cairn_client_options_init(NULL, 1) == CAIRN_EINVAL);

  /* Node configuration: flags are checked when the node starts, as cairnd checks them. */
  EXPECT_CODE(CAIRN_EINVAL, cairn_node_config_new(NULL, ERR));
  OK(cairn_node_config_new(&cfg, ERR));
  EXPECT_CODE(CAIRN_EINVAL, cairn_node_config_set(cfg, NULL, "x", ERR));
  EXPECT_CODE(CAIRN_EINVAL, cairn_node_config_set(cfg, "name", NULL, ERR));
  EXPECT_CODE(CAIRN_EINVAL, cairn_node_config_set(NULL, "name", "x", ERR));
  EXPECT_CODE(CAIRN_EINVAL, cairn_node_config_set(cfg, "", "x", ERR));
  EXPECT_CODE(CAIRN_EINVAL, cairn_node_config_set(cfg, "a=b", "x", ERR));
  OK(cairn_node_config_set(cfg, "no-such-flag", "1", ERR));
  {
    cairn_error* e = NULL;
    CHECK(cairn_node_start(&node, cfg, &e) == CAIRN_EINVAL);
    CHECK(node == NULL);
    CHECK(e != NULL && strstr(cairn_error_message(e), "no-such-flag") != NULL);
    cairn_error_free(e);
  }
  EXPECT_CODE(CAIRN_EINVAL, cairn_node_start(NULL, cfg, ERR));
  EXPECT_CODE(CAIRN_EINVAL, cairn_node_start(&node, NULL, ERR));
  cairn_node_config_free(cfg);

  /* Node and client functions refuse NULL handles. */
  EXPECT_CODE(CAIRN_EINVAL, cairn_node_wait_ready(NULL, 10, NULL, ERR));
  EXPECT_CODE(CAIRN_EINVAL, cairn_node_stop(NULL, ERR));
  EXPECT_CODE(CAIRN_EINVAL, cairn_node_status(NULL, NULL, ERR));
  EXPECT_CODE(CAIRN_EINVAL, cairn_node_client(NULL, NULL, NULL, ERR));
  CHECK(cairn_node_id(NULL) == 0 && cairn_node_cluster_id(NULL) == 0);
  CHECK(cairn_node_client_url_count(NULL) == 0 && cairn_node_client_url(NULL, 0) == NULL);
  EXPECT_CODE(CAIRN_EINVAL, cairn_kv_get(NULL, NULL, B("k"), 1, NULL, ERR));
  EXPECT_CODE(CAIRN_EINVAL, cairn_kv_put(NULL, NULL, B("k"), 1, B("v"), 1, NULL, NULL, ERR));
  EXPECT_CODE(CAIRN_EINVAL, cairn_kv_compact(NULL, 1, 0, NULL, ERR));
  EXPECT_CODE(CAIRN_EINVAL, cairn_lease_revoke(NULL, 1, NULL, ERR));
  EXPECT_CODE(CAIRN_EINVAL, cairn_watch_cancel(NULL, ERR));
  EXPECT_CODE(CAIRN_EINVAL, cairn_watch_request_progress(NULL, ERR));

  /* Accessors take NULL results. */
  CHECK(cairn_range_result_kv_count(NULL) == 0 && cairn_range_result_kv(NULL, 0) == NULL);
  CHECK(cairn_range_result_header(NULL) == NULL && cairn_header_revision(NULL) == 0);
  CHECK(cairn_kv_key(NULL, NULL) == NULL && cairn_kv_version(NULL) == 0);
  CHECK(cairn_txn_result_op_type(NULL, 0) == 0 && cairn_txn_result_op_range(NULL, 0) == NULL);
  CHECK(cairn_status_version(NULL) == NULL && cairn_member_list_name(NULL, 0) == NULL);
  CHECK(cairn_lease_info_ttl(NULL) == -1 && cairn_lease_list_count(NULL) == 0);
  CHECK(cairn_watch_id(NULL) == -1 && cairn_keepalive_ttl(NULL) == 0);

  /* The txn builder: bad arguments change nothing. */
  OK(cairn_txn_new(&txn, ERR));
  EXPECT_CODE(CAIRN_EINVAL, cairn_txn_new(NULL, ERR));
  EXPECT_CODE(CAIRN_EINVAL,
              cairn_txn_compare_number(txn, B("k"), 1, CAIRN_CMP_VALUE, CAIRN_CMP_EQUAL, 0, ERR));
  EXPECT_CODE(CAIRN_EINVAL, cairn_txn_compare_number(txn, B("k"), 1, CAIRN_CMP_MOD, 17, 0, ERR));
  EXPECT_CODE(CAIRN_EINVAL,
              cairn_txn_compare_value(NULL, B("k"), 1, CAIRN_CMP_EQUAL, B("v"), 1, ERR));
  EXPECT_CODE(CAIRN_EINVAL, cairn_txn_compare_range_number(txn, B("k"), 1, NULL, 2, CAIRN_CMP_MOD,
                                                           CAIRN_CMP_EQUAL, 0, ERR));
  EXPECT_CODE(CAIRN_EINVAL,
              cairn_txn_compare_range_number(txn, B("k"), 1, B("l"), 1, CAIRN_CMP_VALUE,
                                             CAIRN_CMP_EQUAL, 0, ERR));
  EXPECT_CODE(CAIRN_EINVAL, cairn_txn_compare_range_value(txn, B("k"), 1, NULL, 2, CAIRN_CMP_EQUAL,
                                                          B("v"), 1, ERR));
  EXPECT_CODE(CAIRN_EINVAL,
              cairn_txn_compare_range_value(txn, B("k"), 1, B("l"), 1, 9, B("v"), 1, ERR));
  EXPECT_CODE(CAIRN_EINVAL, cairn_txn_put(txn, 5, B("k"), 1, B("v"), 1, NULL, ERR));
  EXPECT_CODE(CAIRN_EINVAL, cairn_txn_put(txn, CAIRN_TXN_THEN, NULL, 3, B("v"), 1, NULL, ERR));
  po.version = 42;
  EXPECT_CODE(CAIRN_EVERSION, cairn_txn_put(txn, CAIRN_TXN_THEN, B("k"), 1, B("v"), 1, &po, ERR));
  EXPECT_CODE(CAIRN_EINVAL, cairn_txn_txn(txn, CAIRN_TXN_THEN, NULL, ERR));
  cairn_txn_free(txn);
}

/* ---- Everything a client does ---------------------------------------------------------- */

static void exercise(cairn_client* c, const char* p /* key prefix */) {
  char k1[64], k2[64], k3[64], name[64];
  cairn_put_result* put = NULL;
  cairn_range_result* range = NULL;
  cairn_delete_result* del = NULL;
  cairn_txn *txn = NULL, *nested = NULL;
  cairn_txn_result* tr = NULL;
  cairn_range_options ro = CAIRN_RANGE_OPTIONS_INIT;
  cairn_put_options po = CAIRN_PUT_OPTIONS_INIT;
  cairn_delete_options dopt = CAIRN_DELETE_OPTIONS_INIT;
  cairn_watch_options wo = CAIRN_WATCH_OPTIONS_INIT;
  cairn_watch* w = NULL;
  cairn_cancel* cancel = NULL;
  recorder rec, rec2;
  int64_t rev1, rev2, lease = 0, ttl = 0;
  size_t len;
  const uint8_t* data;

  snprintf(k1, sizeof k1, "%s/a", p);
  snprintf(k2, sizeof k2, "%s/b", p);
  snprintf(k3, sizeof k3, "%s/c", p);

  /* Put and get. */
  OK(cairn_kv_put(&put, c, B(k1), L(k1), B("v1"), 2, NULL, NULL, ERR));
  CHECK(put != NULL && cairn_put_result_prev_kv(put) == NULL);
  rev1 = cairn_header_revision(cairn_put_result_header(put));
  CHECK(rev1 > 0);
  CHECK(cairn_header_cluster_id(cairn_put_result_header(put)) != 0);
  CHECK(cairn_header_member_id(cairn_put_result_header(put)) != 0);
  CHECK(cairn_header_raft_term(cairn_put_result_header(put)) > 0);
  cairn_put_result_free(put);
  po.prev_kv = 1;
  OK(cairn_kv_put(&put, c, B(k1), L(k1), B("v2"), 2, &po, NULL, ERR));
  data = cairn_kv_value(cairn_put_result_prev_kv(put), &len);
  CHECK(bytes_eq(data, len, "v1"));
  cairn_put_result_free(put);
  OK(cairn_kv_put(NULL, c, B(k2), L(k2), B("vb"), 2, NULL, NULL, ERR)); /* result not wanted */
  OK(cairn_kv_put(NULL, c, B(k3), L(k3), NULL, 0, NULL, NULL, ERR));    /* empty value */

  OK(cairn_kv_get(&range, c, B(k1), L(k1), NULL, ERR));
  CHECK(cairn_range_result_kv_count(range) == 1 && cairn_range_result_count(range) == 1);
  CHECK(cairn_range_result_more(range) == 0);
  {
    const cairn_kv* kv = cairn_range_result_kv(range, 0);
    data = cairn_kv_key(kv, &len);
    CHECK(bytes_eq(data, len, k1));
    data = cairn_kv_value(kv, &len);
    CHECK(bytes_eq(data, len, "v2"));
    CHECK(cairn_kv_version(kv) == 2 && cairn_kv_create_revision(kv) == rev1);
    CHECK(cairn_kv_mod_revision(kv) > rev1 && cairn_kv_lease(kv) == 0);
    CHECK(cairn_range_result_kv(range, 1) == NULL);
  }
  cairn_range_result_free(range);
  OK(cairn_kv_get(&range, c, B("no/such/key"), 11, NULL, ERR));
  CHECK(cairn_range_result_kv_count(range) == 0 && cairn_range_result_count(range) == 0);
  cairn_range_result_free(range);

  /* Range: prefix, limit, sort; count ignores the limit. */
  ro.prefix = 1;
  ro.limit = 1;
  ro.sort_order = CAIRN_SORT_DESCEND;
  {
    char pre[64];
    snprintf(pre, sizeof pre, "%s/", p);
    OK(cairn_kv_range(&range, c, B(pre), L(pre), &ro, NULL, ERR));
    CHECK(cairn_range_result_kv_count(range) == 1 && cairn_range_result_count(range) == 3);
    CHECK(cairn_range_result_more(range) == 1);
    data = cairn_kv_key(cairn_range_result_kv(range, 0), &len);
    CHECK(bytes_eq(data, len, k3));
    cairn_range_result_free(range);
    ro.limit = 0;
    ro.count_only = 1;
    OK(cairn_kv_range(&range, c, B(pre), L(pre), &ro, NULL, ERR));
    CHECK(cairn_range_result_kv_count(range) == 0 && cairn_range_result_count(range) == 3);
    cairn_range_result_free(range);
    ro.count_only = 0;
    ro.prefix = 0;
    ro.range_end = B(k3);
    ro.range_end_len = L(k3);
    ro.keys_only = 1;
    ro.sort_order = CAIRN_SORT_ASCEND;
    OK(cairn_kv_range(&range, c, B(k1), L(k1), &ro, NULL, ERR));
    CHECK(cairn_range_result_kv_count(range) == 2);
    cairn_kv_value(cairn_range_result_kv(range, 0), &len);
    CHECK(len == 0);
    cairn_range_result_free(range);
    ro.keys_only = 0;
    ro.range_end = NULL;
    ro.range_end_len = 0;
    ro.revision = rev1; /* k1 as it was */
    ro.serializable = 1;
    OK(cairn_kv_range(&range, c, B(k1), L(k1), &ro, NULL, ERR));
    data = cairn_kv_value(cairn_range_result_kv(range, 0), &len);
    CHECK(bytes_eq(data, len, "v1"));
    cairn_range_result_free(range);
  }
  /* Range errors. */
  ro = (cairn_range_options)CAIRN_RANGE_OPTIONS_INIT;
  ro.prefix = 1;
  ro.from_key = 1;
  EXPECT_CODE(CAIRN_EINVAL, cairn_kv_range(&range, c, B(k1), L(k1), &ro, NULL, ERR));
  ro = (cairn_range_options)CAIRN_RANGE_OPTIONS_INIT;
  ro.version = 99;
  EXPECT_CODE(CAIRN_EVERSION, cairn_kv_range(&range, c, B(k1), L(k1), &ro, NULL, ERR));
  CHECK(range == NULL);
  ro = (cairn_range_options)CAIRN_RANGE_OPTIONS_INIT;
  ro.revision = rev1 + 1000000;
  EXPECT_CODE(CAIRN_EFUTUREREV, cairn_kv_range(&range, c, B(k1), L(k1), &ro, NULL, ERR));
  EXPECT_CODE(CAIRN_EINVAL, cairn_kv_get(&range, c, NULL, 4, NULL, ERR));
  EXPECT_CODE(CAIRN_EINVAL, cairn_kv_get(NULL, c, B(k1), L(k1), NULL, ERR));

  /* Put errors carry etcd's code and text. */
  {
    cairn_error* e = NULL;
    CHECK(cairn_kv_put(NULL, c, B(""), 0, B("v"), 1, NULL, NULL, &e) == CAIRN_EEMPTYKEY);
    CHECK(e != NULL && strcmp(cairn_error_message(e), "etcdserver: key is not provided") == 0);
    CHECK(cairn_error_grpc_code(e) == 3 && cairn_error_retryable(e) == 0);
    cairn_error_free(e);
  }
  po = (cairn_put_options)CAIRN_PUT_OPTIONS_INIT;
  po.ignore_value = 1;
  EXPECT_CODE(CAIRN_EKEYNOTFOUND,
              cairn_kv_put(NULL, c, B("no/such/key"), 11, NULL, 0, &po, NULL, ERR));
  po = (cairn_put_options)CAIRN_PUT_OPTIONS_INIT;
  po.lease = 0x12345;
  EXPECT_CODE(CAIRN_ELEASENOTFOUND, cairn_kv_put(NULL, c, B(k1), L(k1), B("x"), 1, &po, NULL, ERR));
  po.version = 0;
  EXPECT_CODE(CAIRN_EVERSION, cairn_kv_put(NULL, c, B(k1), L(k1), B("x"), 1, &po, NULL, ERR));
  EXPECT_CODE(CAIRN_EINVAL, cairn_kv_put(NULL, c, B(k1), L(k1), NULL, 1, NULL, NULL, ERR));

  /* Cancellation: a triggered token fails the call at once. */
  OK(cairn_cancel_new(&cancel, ERR));
  cairn_cancel_trigger(cancel);
  EXPECT_CODE(CAIRN_ECANCELLED, cairn_kv_get(&range, c, B(k1), L(k1), cancel, ERR));
  cairn_cancel_free(cancel);

  /* Txn: the kube-apiserver update, then the else branch, nested txns, duplicates. */
  OK(cairn_kv_get(&range, c, B(k1), L(k1), NULL, ERR));
  rev2 = cairn_kv_mod_revision(cairn_range_result_kv(range, 0));
  cairn_range_result_free(range);
  OK(cairn_txn_new(&txn, ERR));
  OK(cairn_txn_compare_number(txn, B(k1), L(k1), CAIRN_CMP_MOD, CAIRN_CMP_EQUAL, rev2, ERR));
  OK(cairn_txn_compare_value(txn, B(k1), L(k1), CAIRN_CMP_EQUAL, B("v2"), 2, ERR));
  OK(cairn_txn_put(txn, CAIRN_TXN_THEN, B(k1), L(k1), B("v3"), 2, NULL, ERR));
  OK(cairn_txn_range(txn, CAIRN_TXN_ELSE, B(k1), L(k1), NULL, ERR));
  OK(cairn_txn_new(&nested, ERR));
  OK(cairn_txn_compare_number(nested, B(k2), L(k2), CAIRN_CMP_VERSION, CAIRN_CMP_GREATER, 0, ERR));
  OK(cairn_txn_delete(nested, CAIRN_TXN_THEN, B(k2), L(k2), NULL, ERR));
  OK(cairn_txn_txn(txn, CAIRN_TXN_THEN, nested, ERR));
  cairn_txn_free(nested); /* the txn holds its own copy */
  OK(cairn_txn_commit(&tr, c, txn, NULL, ERR));
  CHECK(cairn_txn_result_succeeded(tr) == 1 && cairn_txn_result_op_count(tr) == 2);
  CHECK(cairn_txn_result_op_type(tr, 0) == CAIRN_OP_PUT && cairn_txn_result_op_put(tr, 0) != NULL);
  CHECK(cairn_txn_result_op_range(tr, 0) == NULL && cairn_txn_result_op_type(tr, 2) == 0);
  CHECK(cairn_txn_result_op_type(tr, 1) == CAIRN_OP_TXN);
  {
    const cairn_txn_result* inner = cairn_txn_result_op_txn(tr, 1);
    CHECK(inner != NULL && cairn_txn_result_succeeded(inner) == 1);
    CHECK(cairn_txn_result_op_type(inner, 0) == CAIRN_OP_DELETE);
    CHECK(cairn_delete_result_deleted(cairn_txn_result_op_delete(inner, 0)) == 1);
  }
  CHECK(cairn_header_revision(cairn_txn_result_header(tr)) > rev2);
  cairn_txn_result_free(tr);
  OK(cairn_txn_commit(&tr, c, txn, NULL, ERR)); /* again: mod revision moved, else runs */
  CHECK(cairn_txn_result_succeeded(tr) == 0 && cairn_txn_result_op_count(tr) == 1);
  {
    const cairn_range_result* r = cairn_txn_result_op_range(tr, 0);
    data = cairn_kv_value(cairn_range_result_kv(r, 0), &len);
    CHECK(bytes_eq(data, len, "v3"));
    CHECK(cairn_txn_result_op_put(tr, 0) == NULL && cairn_txn_result_op_delete(tr, 0) == NULL);
    CHECK(cairn_txn_result_op_txn(tr, 0) == NULL);
  }
  cairn_txn_result_free(tr);
  OK(cairn_txn_txn(txn, CAIRN_TXN_ELSE, txn, ERR)); /* nesting itself copies it */
  cairn_txn_free(txn);
  OK(cairn_txn_new(&txn, ERR));
  OK(cairn_txn_put(txn, CAIRN_TXN_THEN, B(k1), L(k1), B("x"), 1, NULL, ERR));
  OK(cairn_txn_delete(txn, CAIRN_TXN_THEN, B(k1), L(k1), NULL, ERR));
  EXPECT_CODE(CAIRN_EDUPLICATEKEY, cairn_txn_commit(&tr, c, txn, NULL, ERR));
  CHECK(tr == NULL);
  EXPECT_CODE(CAIRN_EINVAL, cairn_txn_commit(&tr, c, NULL, NULL, ERR));
  cairn_txn_free(txn);

  /* Compares over a range (etcd's Compare.range_end): every key of it must satisfy them; an
   * empty range compares as a missing key (0, and false for a value). */
  {
    char ka[64], kb[64], from[64], to[64], none_from[64], none_to[64];
    snprintf(ka, sizeof ka, "%s/cmp/a", p);
    snprintf(kb, sizeof kb, "%s/cmp/b", p);
    snprintf(from, sizeof from, "%s/cmp/", p);
    snprintf(to, sizeof to, "%s/cmp0", p);
    snprintf(none_from, sizeof none_from, "%s/cmp/x", p);
    snprintf(none_to, sizeof none_to, "%s/cmp/y", p);
    OK(cairn_kv_put(NULL, c, B(ka), L(ka), B("1"), 1, NULL, NULL, ERR));
    OK(cairn_kv_put(NULL, c, B(kb), L(kb), B("1"), 1, NULL, NULL, ERR));
    OK(cairn_txn_new(&txn, ERR));
    OK(cairn_txn_compare_range_value(txn, B(from), L(from), B(to), L(to), CAIRN_CMP_EQUAL, B("1"),
                                     1, ERR));
    OK(cairn_txn_compare_range_number(txn, B(from), L(from), B(to), L(to), CAIRN_CMP_VERSION,
                                      CAIRN_CMP_EQUAL, 1, ERR));
    OK(cairn_txn_compare_range_number(txn, B(none_from), L(none_from), B(none_to), L(none_to),
                                      CAIRN_CMP_MOD, CAIRN_CMP_EQUAL, 0, ERR));
    OK(cairn_txn_commit(&tr, c, txn, NULL, ERR));
    CHECK(cairn_txn_result_succeeded(tr) == 1);
    cairn_txn_result_free(tr);
    /* One key of the range no longer matches: the same txn fails. */
    OK(cairn_kv_put(NULL, c, B(kb), L(kb), B("2"), 1, NULL, NULL, ERR));
    OK(cairn_txn_commit(&tr, c, txn, NULL, ERR));
    CHECK(cairn_txn_result_succeeded(tr) == 0);
    cairn_txn_result_free(tr);
    cairn_txn_free(txn);
    /* Without range_end it is the one key (range_end_len 0); a value over an empty range is
     * false. */
    OK(cairn_txn_new(&txn, ERR));
    OK(cairn_txn_compare_range_value(txn, B(ka), L(ka), NULL, 0, CAIRN_CMP_EQUAL, B("1"), 1, ERR));
    OK(cairn_txn_commit(&tr, c, txn, NULL, ERR));
    CHECK(cairn_txn_result_succeeded(tr) == 1);
    cairn_txn_result_free(tr);
    OK(cairn_txn_compare_range_value(txn, B(none_from), L(none_from), B(none_to), L(none_to),
                                     CAIRN_CMP_NOT_EQUAL, B("1"), 1, ERR));
    OK(cairn_txn_commit(&tr, c, txn, NULL, ERR));
    CHECK(cairn_txn_result_succeeded(tr) == 0);
    cairn_txn_result_free(tr);
    cairn_txn_free(txn);
    {
      cairn_delete_options all = CAIRN_DELETE_OPTIONS_INIT;
      all.range_end = B(to);
      all.range_end_len = L(to);
      OK(cairn_kv_delete(NULL, c, B(from), L(from), &all, NULL, ERR));
    }
  }

  /* Delete with prev_kv; a range delete. */
  dopt.prev_kv = 1;
  OK(cairn_kv_delete(&del, c, B(k3), L(k3), &dopt, NULL, ERR));
  CHECK(cairn_delete_result_deleted(del) == 1 && cairn_delete_result_prev_kv_count(del) == 1);
  data = cairn_kv_key(cairn_delete_result_prev_kv(del, 0), &len);
  CHECK(bytes_eq(data, len, k3));
  CHECK(cairn_delete_result_prev_kv(del, 1) == NULL);
  CHECK(cairn_header_revision(cairn_delete_result_header(del)) > 0);
  cairn_delete_result_free(del);
  OK(cairn_kv_delete(NULL, c, B("no/such/key"), 11, NULL, NULL, ERR));
  dopt = (cairn_delete_options)CAIRN_DELETE_OPTIONS_INIT;
  dopt.version = 5;
  EXPECT_CODE(CAIRN_EVERSION, cairn_kv_delete(&del, c, B(k1), L(k1), &dopt, NULL, ERR));

  /* Watch: a prefix with prev_kv sees puts, in one or more batches. */
  recorder_init(&rec);
  wo.prefix = 1;
  wo.prev_kv = 1;
  {
    char pre[64];
    snprintf(pre, sizeof pre, "%s/", p);
    OK(cairn_watch_start(&w, c, B(pre), L(pre), &wo, on_watch, &rec, recorder_free, NULL, ERR));
  }
  CHECK(cairn_watch_id(w) >= 0);
  OK(cairn_kv_put(NULL, c, B(k1), L(k1), B("v4"), 2, NULL, NULL, ERR));
  OK(cairn_kv_put(NULL, c, B(k2), L(k2), B("v5"), 2, NULL, NULL, ERR));
  CHECK(recorder_wait(&rec, &rec.events, 2));
  pthread_mutex_lock(&rec.mu);
  CHECK(strcmp(rec.last_key, k2) == 0);
  CHECK(strcmp(rec.last_prev_value, "v3") == 0); /* k1's previous value came with its event */
  pthread_mutex_unlock(&rec.mu);
  OK(cairn_watch_request_progress(w, ERR));
  CHECK(recorder_wait(&rec, &rec.progress, 1));
  OK(cairn_watch_cancel(w, ERR));
  CHECK(recorder_get(&rec, &rec.frees) == 1);
  OK(cairn_watch_cancel(w, ERR)); /* idempotent: user data freed once */
  CHECK(recorder_get(&rec, &rec.frees) == 1);
  {
    int before = recorder_get(&rec, &rec.batches);
    OK(cairn_kv_put(NULL, c, B(k1), L(k1), B("v6"), 2, NULL, NULL, ERR));
    sleep_ms(100);
    CHECK(recorder_get(&rec, &rec.batches) == before); /* nothing after cancel */
  }
  cairn_watch_free(w);
  CHECK(recorder_get(&rec, &rec.frees) == 1);
  recorder_destroy(&rec);

  /* A failed registration never calls back, and frees the user data once. */
  recorder_init(&rec);
  EXPECT_CODE(CAIRN_EINVAL,
              cairn_watch_start(&w, c, B(k1), L(k1), NULL, NULL, &rec, recorder_free, NULL, ERR));
  wo.version = 3;
  EXPECT_CODE(CAIRN_EVERSION, cairn_watch_start(&w, c, B(k1), L(k1), &wo, on_watch, &rec,
                                                recorder_free, NULL, ERR));
  CHECK(w == NULL && rec.frees == 2 && rec.batches == 0);
  recorder_destroy(&rec);

  /* A callback that returns non-zero stops its watch. */
  recorder_init(&rec);
  rec.stop_after = 1;
  OK(cairn_watch_start(&w, c, B(k1), L(k1), NULL, on_watch, &rec, recorder_free, NULL, ERR));
  OK(cairn_kv_put(NULL, c, B(k1), L(k1), B("s1"), 2, NULL, NULL, ERR));
  CHECK(recorder_wait(&rec, &rec.batches, 1));
  OK(cairn_kv_put(NULL, c, B(k1), L(k1), B("s2"), 2, NULL, NULL, ERR));
  sleep_ms(100);
  CHECK(recorder_get(&rec, &rec.batches) == 1);
  cairn_watch_free(w);
  CHECK(rec.frees == 1);
  recorder_destroy(&rec);

  /* Filters: a watch without puts sees only the delete. */
  recorder_init(&rec);
  wo = (cairn_watch_options)CAIRN_WATCH_OPTIONS_INIT;
  wo.filter_put = 1;
  wo.from_key = 1;
  OK(cairn_watch_start(&w, c, B(k2), L(k2), &wo, on_watch, &rec, recorder_free, NULL, ERR));
  OK(cairn_kv_put(NULL, c, B(k2), L(k2), B("f1"), 2, NULL, NULL, ERR));
  OK(cairn_kv_delete(NULL, c, B(k2), L(k2), NULL, NULL, ERR));
  CHECK(recorder_wait(&rec, &rec.events, 1));
  sleep_ms(100);
  CHECK(recorder_get(&rec, &rec.events) == 1);
  cairn_watch_free(w);
  recorder_destroy(&rec);

  /* Leases. */
  OK(cairn_lease_grant(&lease, &ttl, c, 30, 0, NULL, ERR));
  CHECK(lease != 0 && ttl == 30);
  po = (cairn_put_options)CAIRN_PUT_OPTIONS_INIT;
  po.lease = lease;
  OK(cairn_kv_put(NULL, c, B(k3), L(k3), B("leased"), 6, &po, NULL, ERR));
  {
    cairn_lease_info* info = NULL;
    cairn_lease_list* list = NULL;
    cairn_keepalive* ka = NULL;
    size_t i;
    int found = 0;
    OK(cairn_lease_time_to_live(&info, c, lease, 1, NULL, ERR));
    CHECK(cairn_lease_info_id(info) == lease && cairn_lease_info_granted_ttl(info) == 30);
    CHECK(cairn_lease_info_ttl(info) > 0 && cairn_lease_info_key_count(info) == 1);
    data = cairn_lease_info_key(info, 0, &len);
    CHECK(bytes_eq(data, len, k3));
    CHECK(cairn_lease_info_key(info, 1, &len) == NULL && len == 0);
    CHECK(cairn_lease_info_header(info) != NULL);
    cairn_lease_info_free(info);
    OK(cairn_lease_leases(&list, c, NULL, ERR));
    for (i = 0; i < cairn_lease_list_count(list); i++)
      found |= cairn_lease_list_id(list, i) == lease;
    CHECK(found);
    cairn_lease_list_free(list);

    recorder_init(&rec);
    OK(cairn_lease_keepalive_start(&ka, c, lease, on_keepalive, &rec, recorder_free, NULL, ERR));
    CHECK(cairn_keepalive_ttl(ka) > 0);
    cairn_keepalive_free(ka);
    CHECK(rec.frees == 1);
    EXPECT_CODE(CAIRN_ELEASENOTFOUND, cairn_lease_keepalive_start(&ka, c, 0x777, on_keepalive, &rec,
                                                                  recorder_free, NULL, ERR));
    CHECK(ka == NULL && rec.frees == 2);
    recorder_destroy(&rec);
    /* A keep-alive renews every third of the TTL: a 3 s lease outlives 4 s. */
    {
      int64_t short_lease = 0;
      OK(cairn_lease_grant(&short_lease, NULL, c, 3, 0, NULL, ERR));
      recorder_init(&rec);
      OK(cairn_lease_keepalive_start(&ka, c, short_lease, on_keepalive, &rec, recorder_free, NULL,
                                     ERR));
      sleep_ms(4000);
      CHECK(recorder_get(&rec, &rec.batches) >= 2);
      OK(cairn_lease_time_to_live(&info, c, short_lease, 0, NULL, ERR));
      CHECK(cairn_lease_info_ttl(info) > 0);
      cairn_lease_info_free(info);
      cairn_keepalive_free(ka);
      recorder_destroy(&rec);
      OK(cairn_lease_revoke(c, short_lease, NULL, ERR));
    }

    OK(cairn_lease_revoke(c, lease, NULL, ERR));
    OK(cairn_kv_get(&range, c, B(k3), L(k3), NULL, ERR));
    CHECK(cairn_range_result_count(range) == 0); /* its key went with it */
    cairn_range_result_free(range);
    EXPECT_CODE(CAIRN_ELEASENOTFOUND, cairn_lease_revoke(c, lease, NULL, ERR));
    OK(cairn_lease_time_to_live(&info, c, lease, 0, NULL, ERR));
    CHECK(cairn_lease_info_ttl(info) == -1);
    cairn_lease_info_free(info);
  }

  /* Lock: a second holder waits until cancelled; after release it gets the lock. */
  snprintf(name, sizeof name, "%s-lock", p);
  OK(cairn_lease_grant(&lease, NULL, c, 30, 0, NULL, ERR));
  {
    cairn_bytes *key = NULL, *key2 = NULL;
    pthread_t t;
    int64_t lease2 = 0;
    OK(cairn_lock_acquire(&key, c, B(name), L(name), lease, NULL, ERR));
    data = cairn_bytes_data(key, &len);
    CHECK(len > L(name) && memcmp(data, name, L(name)) == 0);
    OK(cairn_lease_grant(&lease2, NULL, c, 30, 0, NULL, ERR));
    OK(cairn_cancel_new(&cancel, ERR));
    pthread_create(&t, NULL, trigger_later, cancel);
    EXPECT_CODE(CAIRN_ECANCELLED,
                cairn_lock_acquire(&key2, c, B(name), L(name), lease2, cancel, ERR));
    CHECK(key2 == NULL);
    pthread_join(t, NULL);
    cairn_cancel_free(cancel);
    OK(cairn_lock_release(c, data, len, NULL, ERR));
    OK(cairn_lock_acquire(&key2, c, B(name), L(name), lease2, NULL, ERR));
    data = cairn_bytes_data(key2, &len);
    OK(cairn_lock_release(c, data, len, NULL, ERR));
    cairn_bytes_free(key);
    cairn_bytes_free(key2);
    EXPECT_CODE(CAIRN_EINVAL, cairn_lock_acquire(NULL, c, B(name), L(name), lease, NULL, ERR));
    OK(cairn_lease_revoke(c, lease2, NULL, ERR));
  }

  /* Election: campaign, observe, proclaim, leader, resign. */
  snprintf(name, sizeof name, "%s-election", p);
  {
    cairn_leader_key* lk = NULL;
    cairn_leader* leader = NULL;
    cairn_observe* obs = NULL;
    OK(cairn_election_campaign(&lk, c, B(name), L(name), lease, B("one"), 3, NULL, ERR));
    data = cairn_leader_key_name(lk, &len);
    CHECK(bytes_eq(data, len, name));
    data = cairn_leader_key_key(lk, &len);
    CHECK(len > L(name));
    CHECK(cairn_leader_key_revision(lk) > 0 && cairn_leader_key_lease(lk) == lease);
    recorder_init(&rec2);
    OK(cairn_election_observe(&obs, c, B(name), L(name), on_observe, &rec2, recorder_free, ERR));
    CHECK(recorder_wait(&rec2, &rec2.batches, 1));
    OK(cairn_election_proclaim(c, lk, B("two"), 3, NULL, ERR));
    CHECK(recorder_wait(&rec2, &rec2.batches, 2));
    pthread_mutex_lock(&rec2.mu);
    CHECK(strcmp(rec2.last_prev_value, "two") == 0);
    pthread_mutex_unlock(&rec2.mu);
    OK(cairn_election_leader(&leader, c, B(name), L(name), NULL, ERR));
    data = cairn_kv_value(cairn_leader_kv(leader), &len);
    CHECK(bytes_eq(data, len, "two"));
    CHECK(cairn_header_revision(cairn_leader_header(leader)) > 0);
    cairn_leader_free(leader);
    OK(cairn_election_resign(c, lk, NULL, ERR));
    EXPECT_CODE(CAIRN_EELECTIONNOLEADER,
                cairn_election_leader(&leader, c, B(name), L(name), NULL, ERR));
    EXPECT_CODE(CAIRN_EELECTIONNOTLEADER, cairn_election_proclaim(c, lk, B("x"), 1, NULL, ERR));
    cairn_observe_free(obs);
    CHECK(rec2.frees == 1);
    recorder_destroy(&rec2);
    cairn_leader_key_free(lk);
    recorder_init(&rec2);
    EXPECT_CODE(CAIRN_EINVAL,
                cairn_election_observe(&obs, c, B(name), L(name), NULL, &rec2, recorder_free, ERR));
    CHECK(rec2.frees == 1);
    recorder_destroy(&rec2);
  }
  OK(cairn_lease_revoke(c, lease, NULL, ERR));

  /* Cluster and maintenance. */
  {
    cairn_member_list* ml = NULL;
    cairn_status* st = NULL;
    OK(cairn_cluster_member_list(&ml, c, NULL, ERR));
    CHECK(cairn_member_list_count(ml) == 1);
    CHECK(cairn_member_list_id(ml, 0) != 0 && strcmp(cairn_member_list_name(ml, 0), "capi") == 0);
    CHECK(cairn_member_list_is_learner(ml, 0) == 0);
    CHECK(cairn_member_list_peer_url_count(ml, 0) >= 1 && cairn_member_list_peer_url(ml, 0, 0));
    CHECK(cairn_member_list_client_url_count(ml, 0) >= 1);
    CHECK(cairn_member_list_client_url(ml, 0, 0) != NULL);
    CHECK(cairn_member_list_client_url(ml, 0, 99) == NULL && cairn_member_list_id(ml, 5) == 0);
    CHECK(cairn_member_list_peer_url(ml, 3, 0) == NULL);
    CHECK(cairn_member_list_header(ml) != NULL);
    cairn_member_list_free(ml);
    OK(cairn_maintenance_status(&st, c, NULL, ERR));
    CHECK(strncmp(cairn_status_version(st), "3.", 2) == 0);
    CHECK(cairn_status_leader(st) != 0 && cairn_status_raft_term(st) > 0);
    CHECK(cairn_status_raft_index(st) > 0 && cairn_status_raft_applied_index(st) > 0);
    CHECK(cairn_status_db_size(st) > 0 && cairn_status_db_size_in_use(st) > 0);
    CHECK(cairn_status_is_learner(st) == 0 && cairn_status_error_count(st) == 0);
    CHECK(cairn_status_error(st, 0) == NULL && cairn_status_header(st) != NULL);
    cairn_status_free(st);
  }
}

/* Compaction last: it makes old revisions unreadable for both clients. */
static void exercise_compaction(cairn_client* c) {
  cairn_put_result* put = NULL;
  cairn_range_result* range = NULL;
  cairn_range_options ro = CAIRN_RANGE_OPTIONS_INIT;
  cairn_watch_options wo = CAIRN_WATCH_OPTIONS_INIT;
  cairn_watch* w = NULL;
  recorder rec;
  int64_t rev;

  OK(cairn_kv_put(&put, c, B("compact/k"), 9, B("1"), 1, NULL, NULL, ERR));
  rev = cairn_header_revision(cairn_put_result_header(put));
  cairn_put_result_free(put);
  OK(cairn_kv_put(NULL, c, B("compact/k"), 9, B("2"), 1, NULL, NULL, ERR));
  OK(cairn_kv_compact(c, rev + 1, 1, NULL, ERR));
  EXPECT_CODE(CAIRN_ECOMPACTED, cairn_kv_compact(c, rev, 0, NULL, ERR));
  EXPECT_CODE(CAIRN_EFUTUREREV, cairn_kv_compact(c, rev + 1000000, 0, NULL, ERR));
  ro.revision = rev;
  {
    cairn_error* e = NULL;
    CHECK(cairn_kv_range(&range, c, B("compact/k"), 9, &ro, NULL, &e) == CAIRN_ECOMPACTED);
    CHECK(range == NULL && e != NULL);
    CHECK(strcmp(cairn_error_message(e),
                 "etcdserver: mvcc: required revision has been compacted") == 0);
    CHECK(cairn_error_grpc_code(e) == 11);
    cairn_error_free(e);
  }
  /* A watch from a compacted revision ends with a final batch saying so. */
  recorder_init(&rec);
  wo.start_revision = rev;
  OK(cairn_watch_start(&w, c, B("compact/k"), 9, &wo, on_watch, &rec, recorder_free, NULL, ERR));
  CHECK(recorder_wait(&rec, &rec.finals, 1));
  CHECK(rec.final_error == CAIRN_ECOMPACTED && rec.compact_revision == rev + 1);
  cairn_watch_free(w);
  CHECK(rec.frees == 1);
  recorder_destroy(&rec);
}

/* A client's request timeout bounds a call that waits: a lock held by another. */
static void test_request_timeout(cairn_client* holder, cairn_client* waiter) {
  cairn_bytes *key = NULL, *key2 = NULL;
  int64_t lease = 0;
  size_t len;
  const uint8_t* data;
  OK(cairn_lease_grant(&lease, NULL, holder, 30, 0, NULL, ERR));
  OK(cairn_lock_acquire(&key, holder, B("timeout-lock"), 12, lease, NULL, ERR));
  {
    cairn_error* e = NULL;
    CHECK(cairn_lock_acquire(&key2, waiter, B("timeout-lock"), 12, 0, NULL, &e) == CAIRN_ETIMEDOUT);
    CHECK(key2 == NULL && e != NULL && cairn_error_retryable(e) == 1);
    CHECK(cairn_error_grpc_code(e) == 4);
    cairn_error_free(e);
  }
  data = cairn_bytes_data(key, &len);
  OK(cairn_lock_release(holder, data, len, NULL, ERR));
  cairn_bytes_free(key);
  OK(cairn_lease_revoke(holder, lease, NULL, ERR));
}

int main(void) {
  char dir[] = "/tmp/cairn-capi-test-XXXXXX";
  char data_dir[128];
  cairn_node_config* cfg = NULL;
  cairn_node* node = NULL;
  cairn_client *local = NULL, *remote = NULL, *c = NULL;
  cairn_status* st = NULL;
  cairn_client_options co = CAIRN_CLIENT_OPTIONS_INIT;
  cairn_watch* w = NULL;
  recorder rec;
  const char* url;

  test_without_node();

  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(data_dir, sizeof data_dir, "%s/data", dir);
  OK(cairn_node_config_new(&cfg, ERR));
  OK(cairn_node_config_set(cfg, "name", "capi", ERR));
  OK(cairn_node_config_set(cfg, "data-dir", data_dir, ERR));
  OK(cairn_node_config_set(cfg, "--listen-client-urls", "http://127.0.0.1:0", ERR));
  OK(cairn_node_config_set(cfg, "advertise-client-urls", "http://127.0.0.1:2379", ERR));
  OK(cairn_node_config_set(cfg, "listen-peer-urls", "http://127.0.0.1:0", ERR));
  OK(cairn_node_config_set(cfg, "initial-advertise-peer-urls", "http://127.0.0.1:2380", ERR));
  OK(cairn_node_config_set(cfg, "initial-cluster", "capi=http://127.0.0.1:2380", ERR));
  OK(cairn_node_config_set(cfg, "log-level", "error", ERR));
  OK(cairn_node_start(&node, cfg, ERR));
  cairn_node_config_free(cfg); /* the node does not need it any more */
  if (node == NULL) return 1;
  OK(cairn_node_wait_ready(node, 20000, NULL, ERR));
  CHECK(cairn_node_id(node) != 0 && cairn_node_cluster_id(node) != 0);
  CHECK(cairn_node_client_url_count(node) == 1 && cairn_node_client_url(node, 1) == NULL);
  url = cairn_node_client_url(node, 0);
  CHECK(url != NULL && strncmp(url, "http://127.0.0.1:", 17) == 0 && strcmp(url + 17, "0") != 0);
  OK(cairn_node_status(&st, node, ERR));
  CHECK(cairn_status_leader(st) == cairn_node_id(node));
  cairn_status_free(st);

  /* In-process. */
  co.version = 9;
  EXPECT_CODE(CAIRN_EVERSION, cairn_node_client(&local, node, &co, ERR));
  OK(cairn_node_client(&local, node, NULL, ERR));
  exercise(local, "local");

  /* Over the network, the first endpoint dead: the client fails over to the node. */
  {
    const char* endpoints[2];
    endpoints[0] = "127.0.0.1:1";
    endpoints[1] = url;
    co = (cairn_client_options)CAIRN_CLIENT_OPTIONS_INIT;
    co.dial_timeout_ms = 300;
    EXPECT_CODE(CAIRN_ETIMEDOUT, cairn_client_connect(&c, endpoints, 1, &co, NULL, ERR));
    CHECK(c == NULL);
    EXPECT_CODE(CAIRN_EINVAL, cairn_client_connect(&c, endpoints, 0, &co, NULL, ERR));
    EXPECT_CODE(CAIRN_EINVAL, cairn_client_connect(&c, NULL, 1, &co, NULL, ERR));
    endpoints[0] = "https://127.0.0.1:1";
    EXPECT_CODE(CAIRN_EUNIMPLEMENTED, cairn_client_connect(&c, endpoints, 1, &co, NULL, ERR));
    endpoints[0] = "127.0.0.1:1";
    co.dial_timeout_ms = 0; /* lazily: the first call meets the dead endpoint and moves on */
    OK(cairn_client_connect(&remote, endpoints, 2, &co, NULL, ERR));
    exercise(remote, "remote");
    exercise_compaction(remote);

    co = (cairn_client_options)CAIRN_CLIENT_OPTIONS_INIT;
    co.request_timeout_ms = 300;
    OK(cairn_node_client(&c, node, &co, ERR));
    test_request_timeout(remote, c);
    cairn_client_free(c);
    c = NULL;
    endpoints[0] = url;
    OK(cairn_client_connect(&c, endpoints, 1, &co, NULL, ERR));
    test_request_timeout(local, c);
    cairn_client_free(c);
    c = NULL;
    co.request_timeout_ms = -1;
    EXPECT_CODE(CAIRN_EINVAL, cairn_client_connect(&c, endpoints, 1, &co, NULL, ERR));
  }

  /* Stopping the node ends the in-process client's watches and fails its calls. */
  recorder_init(&rec);
  OK(cairn_watch_start(&w, local, B("stop"), 4, NULL, on_watch, &rec, recorder_free, NULL, ERR));
  OK(cairn_node_stop(node, ERR));
  OK(cairn_node_stop(node, ERR)); /* idempotent */
  CHECK(recorder_wait(&rec, &rec.finals, 1));
  CHECK(rec.final_error == CAIRN_ESTOPPED);
  {
    cairn_range_result* r = NULL;
    EXPECT_CODE(CAIRN_ESTOPPED, cairn_kv_get(&r, local, B("k"), 1, NULL, ERR));
    EXPECT_CODE(CAIRN_ESTOPPED, cairn_node_status(&st, node, ERR));
    EXPECT_CODE(CAIRN_ESTOPPED, cairn_node_wait_ready(node, 10, NULL, ERR));
    EXPECT_CODE(CAIRN_ESTOPPED, cairn_node_client(&c, node, NULL, ERR));
  }
  cairn_watch_free(w);
  CHECK(rec.frees == 1);
  recorder_destroy(&rec);

  cairn_node_free(node); /* the in-process client outlives its node */
  cairn_client_free(local);
  cairn_client_free(remote);

  {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  }
  if (failures == 0) printf("capi test: ok\n");
  return failures == 0 ? 0 : 1;
}
