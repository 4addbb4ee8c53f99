/* Load balancing and passive health for upstream{} groups, as nginx does them: smooth
 * weighted round-robin, least_conn, ip_hash, hash KEY [consistent], random [two].
 * Pure logic: no I/O, no clock (time comes in as milliseconds), so every decision is
 * reproducible in a unit test.
 *
 * Two kinds of state:
 * - shared (ups_shared_t): what all workers must agree on (failures, the time of the last
 *   failure and of the last probe, active connections, counters, the health-check flag).
 *   A plain fixed-size array without pointers: the master places it in shared memory and
 *   every call that takes `now` reads or writes it, so the caller holds the zone's lock
 *   around ups_pick, ups_peer_done and ups_peer_set_checker_down.
 * - per worker (inside ups_group_t): smooth-WRR current and effective weights, the random
 *   generator, the consistent-hash ring. Needs no lock: one worker, one thread. */
#ifndef UPS_BALANCER_H
#define UPS_BALANCER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/px_string.h"
#include "core/px_time.h"

/* Peers of one group, primary and backup together; also the width of the per-request
 * tried set. nginx has no such limit; a group larger than this is refused by
 * ups_group_create with "too many servers in upstream". */
#define UPS_MAX_PEERS 1024

/* nginx's limit of hash attempts before ip_hash, hash and random fall back to round-robin. */
#define UPS_HASH_TRIES 20

typedef enum {
    UPS_ROUND_ROBIN,     /* default: smooth weighted round-robin */
    UPS_LEAST_CONN,      /* least_conn */
    UPS_IP_HASH,         /* ip_hash */
    UPS_HASH,            /* hash KEY */
    UPS_HASH_CONSISTENT, /* hash KEY consistent */
    UPS_RANDOM,          /* random */
    UPS_RANDOM_TWO       /* random two [least_conn] */
} ups_method_t;

/* Parameters of the `server` line a method accepts (nginx's NGX_HTTP_UPSTREAM_* flags).
 * The parser checks each `server` line against the method in effect when that line is
 * read, as nginx does: `ip_hash; server a backup;` is an error
 * (`balancing method does not support parameter "backup"`), while a `backup` server
 * written before `ip_hash;` is accepted by nginx 1.22 (backups are then reached only
 * through the round-robin fallback, which this library reproduces). */
#define UPS_PARAM_WEIGHT 0x01u
#define UPS_PARAM_MAX_FAILS 0x02u
#define UPS_PARAM_FAIL_TIMEOUT 0x04u
#define UPS_PARAM_DOWN 0x08u
#define UPS_PARAM_BACKUP 0x10u
#define UPS_PARAM_MAX_CONNS 0x20u

unsigned ups_method_params(ups_method_t method);

/* One peer: one address of a `server` line (a hostname resolving to three addresses
 * gives three peers sharing `server`). Strings are not copied: they must live as long
 * as the group (the configuration's memory). */
typedef struct {
    px_str_t name;      /* "10.0.0.1:80", "[::1]:80", "unix:/s": what $upstream_addr shows */
    px_str_t server;    /* the server line's address as written ("backend:8080"): the
                         * consistent-hash ring is built from it, as nginx does */
    uint32_t weight;    /* >= 1; nginx rejects weight=0 when parsing the server line */
    uint32_t max_fails; /* 0: failures are not counted */
    px_msec_t fail_timeout;
    uint32_t max_conns; /* 0: unlimited */
    unsigned backup : 1;
    unsigned down : 1;
} ups_peer_conf_t;

/* Shared state of one peer. Times are the caller's monotonic milliseconds. */
typedef struct {
    px_msec_t checked;     /* last failure, or the moment a failed-out peer was let through */
    px_msec_t accessed;    /* last failure */
    uint64_t requests;     /* picks */
    uint64_t failures;     /* outcomes reported as UPS_FAILED */
    uint32_t fails;        /* failures counted toward max_fails */
    uint32_t conns;        /* picks not yet reported done: requests in flight on this peer */
    uint32_t checker_down; /* set by active health checks: never picked while set */
    uint32_t reserved;
} ups_peer_state_t;

typedef struct {
    uint32_t npeers;
    uint32_t reserved;
    ups_peer_state_t peer[];
} ups_shared_t;

typedef struct ups_group ups_group_t;

/* Per request: which peers it tried, its hash key, and the position of the hash-based
 * methods between retries. Lives in the request (e.g. its pool); no cleanup needed. */
typedef struct {
    uint64_t tried[UPS_MAX_PEERS / 64];
    const unsigned char *key; /* hash / ip_hash key; must outlive the request's picks */
    size_t key_len;
    uint32_t hash;          /* ip_hash, hash: running hash; consistent: position on the ring */
    uint32_t rehash;        /* hash: rehash counter (nginx's "%ui" prefix) */
    uint32_t tries;         /* hash attempts so far; past UPS_HASH_TRIES: round-robin */
    unsigned on_backup : 1; /* the primaries failed; this request now uses backups */
    unsigned saw_full : 1;  /* scratch of ups_pick */
} ups_ctx_t;

typedef enum {
    UPS_PICK_OK,
    UPS_PICK_NONE, /* no live peer: 502, "no live upstreams" */
    UPS_PICK_FULL  /* no live peer, and at least one was skipped only for max_conns;
                    * nginx 1.22 answers and logs exactly as for UPS_PICK_NONE */
} ups_pick_result_t;

typedef enum { UPS_OK, UPS_FAILED } ups_outcome_t;

/* Builds the per-worker part of a group (copies peers; builds the consistent-hash ring
 * or random ranges). On error returns NULL and writes nginx's message to err:
 *   n == 0: "no servers are inside upstream"
 *   no primary peer: "no servers in upstream" (nginx adds the name: `... upstream "u"`)
 *   weight 0: "invalid parameter \"weight=0\"" (the parser rejects it first)
 *   more than UPS_MAX_PEERS: "too many servers in upstream"
 *   out of memory: "out of memory".
 * Call in the master at configuration time. */
ups_group_t *ups_group_create(const ups_peer_conf_t *peers, size_t n, ups_method_t method,
                              char *err, size_t errlen);
void ups_group_destroy(ups_group_t *g);

size_t ups_group_peers(const ups_group_t *g);
const ups_peer_conf_t *ups_group_peer(const ups_group_t *g, size_t i);
/* proxy_next_upstream_tries' upper bound, as nginx's peer.tries: peers not marked down,
 * primary plus backup. */
size_t ups_group_tries(const ups_group_t *g);

/* Bytes the caller allocates (in shared memory) for n peers. */
size_t ups_shared_size(size_t n);
/* Zeroes the state of n peers in mem (ups_shared_size(n) bytes, 8-byte aligned). Master,
 * before fork. */
ups_shared_t *ups_shared_init(void *mem, size_t n);
/* Points the group at its shared state; PX_ERROR when sizes differ. Before fork. */
int ups_group_attach(ups_group_t *g, ups_shared_t *shared);
const ups_peer_state_t *ups_peer_state(const ups_group_t *g, size_t i);

/* Seeds the random generator; each worker after fork, so workers do not draw the same
 * sequence. */
void ups_group_seed(ups_group_t *g, uint64_t seed);

/* The ip_hash key of a client address: first three octets of IPv4, all 16 bytes of IPv6,
 * three zero bytes for anything else (unix sockets), as nginx. Returns the length. */
size_t ups_ip_hash_key(const struct sockaddr *sa, unsigned char out[16]);

/* Starts a request. key/key_len: the evaluated `hash` key, or ups_ip_hash_key's bytes for
 * ip_hash; ignored by the other methods. An empty key makes hash methods use round-robin
 * (nginx 1.17.1 on). Needs no lock. */
void ups_ctx_init(ups_ctx_t *ctx, const ups_group_t *g, const void *key, size_t key_len);

/* Chooses a peer for the next attempt of this request; lock held. On UPS_PICK_OK *peer is
 * the index into the array given to ups_group_create, counted as one more connection
 * until ups_peer_done. Call it again for each retry (proxy_next_upstream): tried peers are
 * skipped, and once the primaries are exhausted the request moves to the backups and
 * stays there. */
ups_pick_result_t ups_pick(ups_group_t *g, ups_ctx_t *ctx, px_msec_t now, size_t *peer);

/* Ends the attempt on peer (exactly once per successful pick, whatever happened: connect
 * error, response relayed, client gone); lock held. UPS_FAILED when nginx would pass
 * NGX_PEER_FAILED: the attempt ended in a proxy_next_upstream condition (error, timeout,
 * invalid_header, or a listed http_500/502/503/504/429 status). UPS_OK otherwise,
 * including http_403/http_404 (nginx moves on without counting them) and a keepalive
 * connection handed back to the pool. Returns 1 when the peer now has max_fails
 * failures: the caller logs [warn] "upstream server temporarily disabled". A group of one
 * server never counts failures (nginx: nothing to fall back to). */
int ups_peer_done(ups_group_t *g, size_t peer, ups_outcome_t outcome, px_msec_t now);

/* Active health checks: a peer marked down receives no traffic until cleared. Lock held. */
void ups_peer_set_checker_down(ups_group_t *g, size_t peer, int down);

#endif
