/* Compiles cairn.h as strict C99 and checks what a binding relies on without the library:
 * the option structs' _INIT macros set their version and zero the rest. */
#include <cairn/cairn.h>
#include <stdio.h>

static int failures = 0;

#define CHECK(cond)                                                      \
  do {                                                                   \
    if (!(cond)) {                                                       \
      fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                        \
    }                                                                    \
  } while (0)

int main(void) {
  cairn_client_options c = CAIRN_CLIENT_OPTIONS_INIT;
  cairn_range_options r = CAIRN_RANGE_OPTIONS_INIT;
  cairn_put_options p = CAIRN_PUT_OPTIONS_INIT;
  cairn_delete_options d = CAIRN_DELETE_OPTIONS_INIT;
  cairn_watch_options w = CAIRN_WATCH_OPTIONS_INIT;

  CHECK(c.version == CAIRN_CLIENT_OPTIONS_VERSION && c.dial_timeout_ms == 5000);
  CHECK(c.request_timeout_ms == 0 && c.require_leader == 0);
  CHECK(r.version == CAIRN_RANGE_OPTIONS_VERSION && r.range_end == NULL);
  CHECK(r.limit == 0 && r.max_create_revision == 0 && r.sort_order == CAIRN_SORT_NONE);
  CHECK(p.version == CAIRN_PUT_OPTIONS_VERSION && p.lease == 0 && p.ignore_lease == 0);
  CHECK(d.version == CAIRN_DELETE_OPTIONS_VERSION && d.range_end == NULL && d.prev_kv == 0);
  CHECK(w.version == CAIRN_WATCH_OPTIONS_VERSION && w.start_revision == 0 && w.fragment == 0);
  CHECK(CAIRN_VERSION_NUMBER ==
        CAIRN_VERSION_MAJOR * 1000000 + CAIRN_VERSION_MINOR * 1000 + CAIRN_VERSION_PATCH);
  /* Error codes are negative and distinct from gRPC's positive ones. */
  CHECK(CAIRN_ECOMPACTED < 0 && CAIRN_EUNAVAILABLE == -14 &&
        CAIRN_EVERSION < CAIRN_ESESSIONEXPIRED);
  if (failures == 0) printf("header test: ok\n");
  return failures == 0 ? 0 : 1;
}
