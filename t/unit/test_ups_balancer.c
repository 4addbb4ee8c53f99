/*
 * Unit tests for the upstream balancers and passive health (upstream/ups_balancer.h).
 * Pick orders and the ip_hash / hash / consistent-hash server indexes come from a model of
 * nginx's algorithms that was checked against the nginx 1.22 binary with three real
 * backends (round-robin 5,1,1 and 3,2; ip_hash, hash and hash consistent with weights
 * 1,1,1 and 2,1,3); max_conns exhaustion was checked to give nginx's plain
 * "no live upstreams".
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/un.h>

#include "upstream/ups_balancer.h"

#define SEC 1000

static const char *const names[] = {"a", "b", "c", "d", "e", "f"};

/* nginx's defaults: weight=1 max_fails=1 fail_timeout=10s */
static ups_peer_conf_t peer(const char *name, uint32_t weight)
{
    ups_peer_conf_t p = {0};

    p.name = px_str_make(name, strlen(name));
    p.server = p.name;
    p.weight = weight;
    p.max_fails = 1;
    p.fail_timeout = 10 * SEC;
    return p;
}

static ups_group_t *group_of(const ups_peer_conf_t *peers, size_t n, ups_method_t method)
{
    char err[128] = "";
    ups_group_t *g = ups_group_create(peers, n, method, err, sizeof(err));

    ck_assert_msg(g != NULL, "group failed: %s", err);
    ups_group_seed(g, 12345);
    return g;
}

static ups_group_t *weighted(ups_method_t method, const uint32_t *weights, size_t n)
{
    ups_peer_conf_t peers[8];

    for (size_t i = 0; i < n; i++)
        peers[i] = peer(names[i], weights[i]);
    return group_of(peers, n, method);
}

/* One request: a pick, reported done at once. Returns the peer's letter or '-'. */
static char request(ups_group_t *g, const void *key, size_t len, px_msec_t now,
                    ups_outcome_t outcome)
{
    ups_ctx_t ctx;
    size_t i;

    ups_ctx_init(&ctx, g, key, len);
    if (ups_pick(g, &ctx, now, &i) != UPS_PICK_OK)
        return '-';
    ups_peer_done(g, i, outcome, now);
    return names[i][0];
}

static void sequence(ups_group_t *g, int n, char *out)
{
    for (int k = 0; k < n; k++)
        out[k] = request(g, NULL, 0, 0, UPS_OK);
    out[n] = '\0';
}

static int pick_index(ups_group_t *g, ups_ctx_t *ctx, px_msec_t now)
{
    size_t i;

    return ups_pick(g, ctx, now, &i) == UPS_PICK_OK ? (int)i : -1;
}

/* ---- configuration ---- */

static void create_fails(const ups_peer_conf_t *peers, size_t n, const char *want)
{
    char err[128] = "";

    ck_assert_ptr_null(ups_group_create(peers, n, UPS_ROUND_ROBIN, err, sizeof(err)));
    ck_assert_str_eq(err, want);
}

START_TEST(test_group_without_servers_is_refused_with_nginx_message)
{
    create_fails(NULL, 0, "no servers are inside upstream");
}
END_TEST

START_TEST(test_group_of_only_backups_is_refused_with_nginx_message)
{
    ups_peer_conf_t p[2] = {peer("a", 1), peer("b", 1)};

    p[0].backup = p[1].backup = 1;
    create_fails(p, 2, "no servers in upstream");
}
END_TEST

START_TEST(test_weight_zero_is_refused)
{
    ups_peer_conf_t p[2] = {peer("a", 1), peer("b", 0)};

    create_fails(p, 2, "invalid parameter \"weight=0\"");
}
END_TEST

START_TEST(test_more_peers_than_the_tried_set_holds_are_refused)
{
    static ups_peer_conf_t p[UPS_MAX_PEERS + 1];

    for (size_t i = 0; i <= UPS_MAX_PEERS; i++)
        p[i] = peer("x", 1);
    create_fails(p, UPS_MAX_PEERS + 1, "too many servers in upstream");

    ups_group_t *g = group_of(p, UPS_MAX_PEERS, UPS_ROUND_ROBIN);
    ups_ctx_t ctx;
    ups_ctx_init(&ctx, g, NULL, 0);
    for (size_t k = 0; k < UPS_MAX_PEERS; k++)
        ck_assert_int_ge(pick_index(g, &ctx, 0), 0);
    ck_assert_int_eq(pick_index(g, &ctx, 0), -1);
    ups_group_destroy(g);
}
END_TEST

START_TEST(test_backup_is_a_parameter_only_of_round_robin_and_least_conn)
{
    ck_assert(ups_method_params(UPS_ROUND_ROBIN) & UPS_PARAM_BACKUP);
    ck_assert(ups_method_params(UPS_LEAST_CONN) & UPS_PARAM_BACKUP);
    ck_assert(!(ups_method_params(UPS_IP_HASH) & UPS_PARAM_BACKUP));
    ck_assert(!(ups_method_params(UPS_HASH) & UPS_PARAM_BACKUP));
    ck_assert(!(ups_method_params(UPS_HASH_CONSISTENT) & UPS_PARAM_BACKUP));
    ck_assert(!(ups_method_params(UPS_RANDOM) & UPS_PARAM_BACKUP));
    ck_assert(!(ups_method_params(UPS_RANDOM_TWO) & UPS_PARAM_BACKUP));
    /* nginx 1.22 accepts max_conns, down, weight, max_fails, fail_timeout everywhere */
    for (int m = UPS_ROUND_ROBIN; m <= UPS_RANDOM_TWO; m++) {
        unsigned want = UPS_PARAM_WEIGHT | UPS_PARAM_MAX_FAILS | UPS_PARAM_FAIL_TIMEOUT |
                        UPS_PARAM_DOWN | UPS_PARAM_MAX_CONNS;
        ck_assert_uint_eq(ups_method_params((ups_method_t)m) & want, want);
    }
}
END_TEST

START_TEST(test_tries_count_peers_not_marked_down_including_backups)
{
    ups_peer_conf_t p[4] = {peer("a", 1), peer("b", 1), peer("c", 1), peer("d", 1)};

    p[1].down = 1;
    p[2].backup = 1;
    p[3].backup = 1;
    p[3].down = 1;
    ups_group_t *g = group_of(p, 4, UPS_ROUND_ROBIN);
    ck_assert_uint_eq(ups_group_tries(g), 2);
    ck_assert_uint_eq(ups_group_peers(g), 4);
    ck_assert_ptr_null(ups_group_peer(g, 4));
    ck_assert(px_str_eq_lit(ups_group_peer(g, 2)->name, "c"));
    ups_group_destroy(g);
}
END_TEST

START_TEST(test_shared_state_attaches_only_with_the_same_peer_count)
{
    uint32_t w[3] = {1, 1, 1};
    ups_group_t *g = weighted(UPS_ROUND_ROBIN, w, 3);
    uint64_t mem2[64], mem3[64];

    ck_assert_uint_eq(ups_shared_size(3), sizeof(ups_shared_t) + 3 * sizeof(ups_peer_state_t));
    ck_assert_uint_le(ups_shared_size(3), sizeof(mem3));
    ck_assert_int_eq(ups_group_attach(g, ups_shared_init(mem2, 2)), PX_ERROR);
    ck_assert_int_eq(ups_group_attach(g, NULL), PX_ERROR);
    ups_shared_t *shared = ups_shared_init(mem3, 3);
    ck_assert_int_eq(ups_group_attach(g, shared), PX_OK);

    /* the state picks and outcomes change is the attached block */
    ups_ctx_t ctx;
    ups_ctx_init(&ctx, g, NULL, 0);
    int i = pick_index(g, &ctx, 0);
    ck_assert_uint_eq(shared->peer[i].conns, 1);
    ck_assert_uint_eq(shared->peer[i].requests, 1);
    ups_peer_done(g, (size_t)i, UPS_FAILED, 5);
    ck_assert_uint_eq(shared->peer[i].conns, 0);
    ck_assert_uint_eq(shared->peer[i].failures, 1);
    ck_assert_uint_eq(shared->peer[i].fails, 1);
    ck_assert_ptr_eq(ups_peer_state(g, (size_t)i), &shared->peer[i]);
    ck_assert_ptr_null(ups_peer_state(g, 3));
    ups_group_destroy(g);
}
END_TEST

/* ---- weighted round-robin ---- */

START_TEST(test_rr_weights_5_1_1_pick_in_nginx_smooth_order)
{
    uint32_t w[3] = {5, 1, 1};
    ups_group_t *g = weighted(UPS_ROUND_ROBIN, w, 3);
    char seq[32];

    sequence(g, 14, seq);
    ck_assert_str_eq(seq, "aabacaaaabacaa");
    ups_group_destroy(g);
}
END_TEST

START_TEST(test_rr_equal_weights_rotate)
{
    uint32_t w[3] = {1, 1, 1};
    ups_group_t *g = weighted(UPS_ROUND_ROBIN, w, 3);
    char seq[32];

    sequence(g, 9, seq);
    ck_assert_str_eq(seq, "abcabcabc");
    ups_group_destroy(g);
}
END_TEST

START_TEST(test_rr_weights_3_2_interleave)
{
    uint32_t w[2] = {3, 2};
    ups_group_t *g = weighted(UPS_ROUND_ROBIN, w, 2);
    char seq[32];

    sequence(g, 10, seq);
    ck_assert_str_eq(seq, "ababaababa");
    ups_group_destroy(g);
}
END_TEST

START_TEST(test_rr_distribution_matches_weights_exactly)
{
    uint32_t w[3] = {5, 1, 1};
    ups_group_t *g = weighted(UPS_ROUND_ROBIN, w, 3);
    int count[3] = {0};

    for (int k = 0; k < 7000; k++)
        count[request(g, NULL, 0, 0, UPS_OK) - 'a']++;
    ck_assert_int_eq(count[0], 5000);
    ck_assert_int_eq(count[1], 1000);
    ck_assert_int_eq(count[2], 1000);
    ups_group_destroy(g);
}
END_TEST

START_TEST(test_rr_retry_skips_tried_peers_then_gives_none)
{
    uint32_t w[3] = {1, 1, 1};
    ups_group_t *g = weighted(UPS_ROUND_ROBIN, w, 3);
    ups_ctx_t ctx;
    int seen = 0;

    ups_ctx_init(&ctx, g, NULL, 0);
    for (int k = 0; k < 3; k++) {
        int i = pick_index(g, &ctx, 0);
        ck_assert_int_ge(i, 0);
        ck_assert(!(seen & (1 << i)));
        seen |= 1 << i;
        ups_peer_done(g, (size_t)i, UPS_OK, 0);
    }
    size_t i;
    ck_assert_int_eq(ups_pick(g, &ctx, 0, &i), UPS_PICK_NONE);
    ups_group_destroy(g);
}
END_TEST

START_TEST(test_rr_never_picks_down_peers_and_all_down_is_none)
{
    ups_peer_conf_t p[3] = {peer("a", 1), peer("b", 1), peer("c", 1)};
    char seq[32];

    p[1].down = 1;
    ups_group_t *g = group_of(p, 3, UPS_ROUND_ROBIN);
    sequence(g, 6, seq);
    ck_assert_str_eq(seq, "acacac");
    ups_group_destroy(g);

    p[0].down = p[2].down = 1;
    g = group_of(p, 3, UPS_ROUND_ROBIN);
    sequence(g, 2, seq);
    ck_assert_str_eq(seq, "--");
    ups_group_destroy(g);

    ups_peer_conf_t one = peer("a", 1);
    one.down = 1;
    g = group_of(&one, 1, UPS_ROUND_ROBIN);
    ck_assert_int_eq(request(g, NULL, 0, 0, UPS_OK), '-');
    ups_group_destroy(g);
}
END_TEST

START_TEST(test_peer_down_by_health_check_is_skipped_until_cleared)
{
    uint32_t w[2] = {1, 1};
    ups_group_t *g = weighted(UPS_ROUND_ROBIN, w, 2);
    char seq[32];

    ups_peer_set_checker_down(g, 0, 1);
    ck_assert_uint_eq(ups_peer_state(g, 0)->checker_down, 1);
    sequence(g, 3, seq);
    ck_assert_str_eq(seq, "bbb");
    ups_peer_set_checker_down(g, 1, 1);
    sequence(g, 1, seq);
    ck_assert_str_eq(seq, "-");
    ups_peer_set_checker_down(g, 0, 0);
    ups_peer_set_checker_down(g, 1, 0);
    sequence(g, 2, seq);
    ck_assert(strchr(seq, 'a') && strchr(seq, 'b'));
    ups_group_destroy(g);
}
END_TEST

/* ---- passive health ---- */

/* a with max_fails=2 fail_timeout=10s; b down, so every answer is about a alone (a
 * group of one would never count failures) */
static ups_group_t *a_alone(uint32_t max_fails)
{
    ups_peer_conf_t p[2] = {peer("a", 1), peer("b", 1)};

    p[0].max_fails = max_fails;
    p[1].down = 1;
    return group_of(p, 2, UPS_ROUND_ROBIN);
}

START_TEST(test_max_fails_within_fail_timeout_takes_a_peer_out)
{
    ups_group_t *g = a_alone(2);

    ck_assert_int_eq(request(g, NULL, 0, 100 * SEC, UPS_FAILED), 'a');
    ck_assert_int_eq(request(g, NULL, 0, 101 * SEC, UPS_OK), 'a'); /* 1 < max_fails */
    ck_assert_uint_eq(ups_peer_state(g, 0)->fails, 1); /* success inside the window keeps it */

    ups_ctx_t ctx;
    size_t i;
    ups_ctx_init(&ctx, g, NULL, 0);
    ck_assert_int_eq(ups_pick(g, &ctx, 102 * SEC, &i), UPS_PICK_OK);
    ck_assert_int_eq(ups_peer_done(g, i, UPS_FAILED, 102 * SEC), 1); /* "temporarily disabled" */

    ck_assert_int_eq(request(g, NULL, 0, 102 * SEC, UPS_OK), '-');
    ck_assert_int_eq(request(g, NULL, 0, 112 * SEC, UPS_OK), '-'); /* exactly fail_timeout */
    ups_group_destroy(g);
}
END_TEST

START_TEST(test_after_fail_timeout_one_probe_goes_through_and_success_restores)
{
    ups_group_t *g = a_alone(2);
    ups_ctx_t probe, other;

    request(g, NULL, 0, 100 * SEC, UPS_FAILED);
    request(g, NULL, 0, 100 * SEC, UPS_FAILED);
    ck_assert_int_eq(request(g, NULL, 0, 105 * SEC, UPS_OK), '-');

    ups_ctx_init(&probe, g, NULL, 0);
    ck_assert_int_eq(pick_index(g, &probe, 110 * SEC + 1), 0);
    /* while the probe is out, nobody else gets the peer */
    ups_ctx_init(&other, g, NULL, 0);
    ck_assert_int_eq(pick_index(g, &other, 111 * SEC), -1);

    ck_assert_int_eq(ups_peer_done(g, 0, UPS_OK, 111 * SEC), 0);
    ck_assert_uint_eq(ups_peer_state(g, 0)->fails, 0);
    ck_assert_int_eq(request(g, NULL, 0, 111 * SEC, UPS_OK), 'a');
    ck_assert_int_eq(request(g, NULL, 0, 111 * SEC, UPS_OK), 'a');
    ups_group_destroy(g);
}
END_TEST

START_TEST(test_failed_probe_keeps_the_peer_out_for_another_fail_timeout)
{
    ups_group_t *g = a_alone(2);

    request(g, NULL, 0, 100 * SEC, UPS_FAILED);
    request(g, NULL, 0, 100 * SEC, UPS_FAILED);
    ck_assert_int_eq(request(g, NULL, 0, 111 * SEC, UPS_FAILED), 'a'); /* the probe */
    ck_assert_uint_eq(ups_peer_state(g, 0)->fails, 3);
    ck_assert_int_eq(request(g, NULL, 0, 115 * SEC, UPS_OK), '-');
    ck_assert_int_eq(request(g, NULL, 0, 121 * SEC, UPS_OK), '-');
    ck_assert_int_eq(request(g, NULL, 0, 121 * SEC + 1, UPS_OK), 'a');
    ck_assert_uint_eq(ups_peer_state(g, 0)->fails, 0);
    ups_group_destroy(g);
}
END_TEST

START_TEST(test_fails_below_max_fails_are_forgotten_after_fail_timeout)
{
    ups_group_t *g = a_alone(2);

    request(g, NULL, 0, 100 * SEC, UPS_FAILED);
    ck_assert_int_eq(request(g, NULL, 0, 111 * SEC, UPS_OK), 'a');
    ck_assert_uint_eq(ups_peer_state(g, 0)->fails, 0);
    request(g, NULL, 0, 112 * SEC, UPS_FAILED);
    ck_assert_int_eq(request(g, NULL, 0, 112 * SEC, UPS_OK), 'a');
    ups_group_destroy(g);
}
END_TEST

START_TEST(test_max_fails_zero_disables_failure_accounting)
{
    ups_group_t *g = a_alone(0);

    for (int k = 0; k < 10; k++) {
        ups_ctx_t ctx;
        ups_ctx_init(&ctx, g, NULL, 0);
        ck_assert_int_eq(pick_index(g, &ctx, 100 * SEC), 0);
        ck_assert_int_eq(ups_peer_done(g, 0, UPS_FAILED, 100 * SEC), 0);
    }
    ck_assert_uint_eq(ups_peer_state(g, 0)->failures, 10);
    ups_group_destroy(g);
}
END_TEST

START_TEST(test_single_server_is_never_taken_out_by_failures)
{
    ups_peer_conf_t p = peer("a", 1);
    ups_group_t *g = group_of(&p, 1, UPS_ROUND_ROBIN);

    for (int k = 0; k < 5; k++)
        ck_assert_int_eq(request(g, NULL, 0, 100 * SEC, UPS_FAILED), 'a');
    ck_assert_uint_eq(ups_peer_state(g, 0)->fails, 0);
    ck_assert_uint_eq(ups_peer_state(g, 0)->failures, 5);
    ups_group_destroy(g);
}
END_TEST

START_TEST(test_failure_lowers_effective_weight_which_recovers_gradually)
{
    ups_peer_conf_t p[2] = {peer("a", 10), peer("b", 10)};
    char seq[32];

    p[0].max_fails = 2; /* a failure costs weight/max_fails = 5 of a's 10 */
    ups_group_t *g = group_of(p, 2, UPS_ROUND_ROBIN);
    seq[0] = request(g, NULL, 0, 0, UPS_FAILED);
    sequence(g, 14, seq + 1);
    /* without the failure: abababab...; b gets two extra turns while a's weight climbs
     * back one per pick */
    ck_assert_str_eq(seq, "abbbabababababa");
    ups_group_destroy(g);
}
END_TEST

START_TEST(test_done_on_unknown_peer_and_extra_done_are_harmless)
{
    uint32_t w[2] = {1, 1};
    ups_group_t *g = weighted(UPS_ROUND_ROBIN, w, 2);

    ck_assert_int_eq(ups_peer_done(g, 7, UPS_FAILED, 0), 0);
    ups_peer_done(g, 0, UPS_OK, 0);
    ck_assert_uint_eq(ups_peer_state(g, 0)->conns, 0);
    ups_peer_set_checker_down(g, 9, 1);
    ups_group_destroy(g);
    ups_group_destroy(NULL);
}
END_TEST

/* ---- backup ---- */

/* a and c are primaries, b (written between them) is the backup */
static ups_group_t *with_backup(ups_method_t method)
{
    ups_peer_conf_t p[3] = {peer("a", 1), peer("b", 1), peer("c", 1)};

    p[1].backup = 1;
    return group_of(p, 3, method);
}

START_TEST(test_backup_unused_while_a_primary_is_available)
{
    ups_group_t *g = with_backup(UPS_ROUND_ROBIN);
    char seq[32];

    sequence(g, 8, seq);
    ck_assert_str_eq(seq, "acacacac");
    request(g, NULL, 0, 0, UPS_FAILED); /* takes one primary out */
    sequence(g, 4, seq);
    ck_assert_ptr_null(strchr(seq, 'b'));
    ups_group_destroy(g);
}
END_TEST

START_TEST(test_backup_takes_over_when_all_primaries_fail_and_gives_back)
{
    ups_group_t *g = with_backup(UPS_ROUND_ROBIN);
    ups_ctx_t ctx;

    /* one request: both primaries fail, its third attempt goes to the backup */
    ups_ctx_init(&ctx, g, NULL, 0);
    for (int k = 0; k < 2; k++) {
        int i = pick_index(g, &ctx, 100 * SEC);
        ck_assert(i == 0 || i == 2);
        ups_peer_done(g, (size_t)i, UPS_FAILED, 100 * SEC);
    }
    ck_assert_int_eq(pick_index(g, &ctx, 100 * SEC), 1);
    ups_peer_done(g, 1, UPS_FAILED, 100 * SEC);
    ck_assert_int_eq(pick_index(g, &ctx, 100 * SEC), -1);

    /* the backup failed too: nothing left until fail_timeout */
    ck_assert_int_eq(request(g, NULL, 0, 105 * SEC, UPS_OK), '-');
    ups_group_destroy(g);

    g = with_backup(UPS_ROUND_ROBIN);
    request(g, NULL, 0, 100 * SEC, UPS_FAILED);
    request(g, NULL, 0, 100 * SEC, UPS_FAILED);
    for (int k = 0; k < 3; k++)
        ck_assert_int_eq(request(g, NULL, 0, 105 * SEC, UPS_OK), 'b');
    /* after fail_timeout the primaries are probed and, succeeding, take the traffic back */
    ck_assert(strchr("ac", request(g, NULL, 0, 111 * SEC, UPS_OK)));
    ck_assert(strchr("ac", request(g, NULL, 0, 111 * SEC, UPS_OK)));
    for (int k = 0; k < 4; k++)
        ck_assert(strchr("ac", request(g, NULL, 0, 111 * SEC, UPS_OK)));
    ups_group_destroy(g);
}
END_TEST

START_TEST(test_backup_with_least_conn_takes_over_the_same_way)
{
    ups_group_t *g = with_backup(UPS_LEAST_CONN);

    ups_peer_set_checker_down(g, 0, 1);
    ups_peer_set_checker_down(g, 2, 1);
    ck_assert_int_eq(request(g, NULL, 0, 0, UPS_OK), 'b');
    ups_peer_set_checker_down(g, 2, 0);
    ck_assert_int_eq(request(g, NULL, 0, 0, UPS_OK), 'c');
    ups_group_destroy(g);
}
END_TEST

START_TEST(test_hash_method_reaches_backup_only_through_round_robin_fallback)
{
    /* nginx 1.22 accepts `server x backup;` written before `hash`: backups then serve
     * once hashing gave up and round-robin found no primary */
    ups_group_t *g = with_backup(UPS_HASH);

    ck_assert(strchr("ac", request(g, "k", 1, 0, UPS_OK)));
    ups_peer_set_checker_down(g, 0, 1);
    ups_peer_set_checker_down(g, 2, 1);
    ck_assert_int_eq(request(g, "k", 1, 0, UPS_OK), 'b');
    ups_group_destroy(g);
}
END_TEST

/* ---- max_conns ---- */

START_TEST(test_max_conns_full_peers_are_skipped_and_reported)
{
    ups_peer_conf_t p[2] = {peer("a", 1), peer("b", 1)};
    ups_ctx_t r1, r2, r3;
    size_t i;

    p[0].max_conns = 1;
    p[1].max_conns = 1;
    ups_group_t *g = group_of(p, 2, UPS_ROUND_ROBIN);
    ups_ctx_init(&r1, g, NULL, 0);
    ups_ctx_init(&r2, g, NULL, 0);
    ups_ctx_init(&r3, g, NULL, 0);
    int first = pick_index(g, &r1, 0);
    int second = pick_index(g, &r2, 0);
    ck_assert_int_eq(first + second, 1);
    ck_assert_int_eq(ups_pick(g, &r3, 0, &i), UPS_PICK_FULL);

    ups_peer_done(g, (size_t)first, UPS_OK, 0);
    ck_assert_int_eq(ups_pick(g, &r3, 0, &i), UPS_PICK_OK);
    ck_assert_int_eq((int)i, first);

    /* a peer that is down does not make the answer "full" */
    ups_peer_set_checker_down(g, 0, 1);
    ups_peer_set_checker_down(g, 1, 1);
    ups_ctx_init(&r3, g, NULL, 0);
    ck_assert_int_eq(ups_pick(g, &r3, 0, &i), UPS_PICK_NONE);
    ups_group_destroy(g);
}
END_TEST

START_TEST(test_max_conns_of_a_single_server_is_respected)
{
    ups_peer_conf_t p = peer("a", 1);
    ups_ctx_t r1, r2;
    size_t i;

    p.max_conns = 1;
    ups_group_t *g = group_of(&p, 1, UPS_LEAST_CONN);
    ups_ctx_init(&r1, g, NULL, 0);
    ups_ctx_init(&r2, g, NULL, 0);
    ck_assert_int_eq(ups_pick(g, &r1, 0, &i), UPS_PICK_OK);
    ck_assert_int_eq(ups_pick(g, &r2, 0, &i), UPS_PICK_FULL);
    ups_group_destroy(g);
}
END_TEST

/* ---- least_conn ---- */

START_TEST(test_least_conn_picks_fewest_connections_per_weight)
{
    uint32_t w[3] = {1, 1, 1};
    ups_group_t *g = weighted(UPS_LEAST_CONN, w, 3);
    ups_ctx_t held[3];

    /* one request in flight on each; when b's ends, b has the fewest */
    for (int k = 0; k < 3; k++) {
        ups_ctx_init(&held[k], g, NULL, 0);
        ck_assert_int_eq(pick_index(g, &held[k], 0), k);
    }
    ups_peer_done(g, 1, UPS_OK, 0);
    ck_assert_int_eq(request(g, NULL, 0, 0, UPS_OK), 'b');
    ck_assert_int_eq(request(g, NULL, 0, 0, UPS_OK), 'b');
    ups_group_destroy(g);

    uint32_t w2[2] = {2, 1};
    g = weighted(UPS_LEAST_CONN, w2, 2);
    ups_ctx_t h1, h2, h3;
    ups_ctx_init(&h1, g, NULL, 0);
    ups_ctx_init(&h2, g, NULL, 0);
    ups_ctx_init(&h3, g, NULL, 0);
    /* a (weight 2) takes two before b (weight 1) gets its one */
    ck_assert_int_eq(pick_index(g, &h1, 0), 0);
    ck_assert_int_eq(pick_index(g, &h2, 0), 1);
    ck_assert_int_eq(pick_index(g, &h3, 0), 0);
    ck_assert_uint_eq(ups_peer_state(g, 0)->conns, 2);
    ck_assert_uint_eq(ups_peer_state(g, 1)->conns, 1);
    ups_group_destroy(g);
}
END_TEST

START_TEST(test_least_conn_ties_fall_back_to_weighted_round_robin)
{
    uint32_t w[3] = {5, 1, 1};
    ups_group_t *g = weighted(UPS_LEAST_CONN, w, 3);
    char seq[32];

    sequence(g, 14, seq);
    ck_assert_str_eq(seq, "aabacaaaabacaa");
    ups_group_destroy(g);
}
END_TEST

START_TEST(test_least_conn_distribution_under_held_connections)
{
    uint32_t w[3] = {2, 1, 1};
    ups_group_t *g = weighted(UPS_LEAST_CONN, w, 3);
    static ups_ctx_t ctx[40];
    int count[3] = {0};

    /* 40 requests in flight spread 20/10/10; then 10,000 more, each replacing the oldest */
    for (int k = 0; k < 40; k++) {
        ups_ctx_init(&ctx[k], g, NULL, 0);
        count[pick_index(g, &ctx[k], 0)]++;
    }
    ck_assert_int_eq(count[0], 20);
    ck_assert_int_eq(count[1], 10);
    int held[40];
    for (int k = 0; k < 40; k++)
        held[k] = -1;
    ups_group_destroy(g);

    g = weighted(UPS_LEAST_CONN, w, 3);
    count[0] = count[1] = count[2] = 0;
    for (int k = 0; k < 10000; k++) {
        ups_ctx_t c;
        if (held[k % 40] >= 0)
            ups_peer_done(g, (size_t)held[k % 40], UPS_OK, 0);
        ups_ctx_init(&c, g, NULL, 0);
        held[k % 40] = pick_index(g, &c, 0);
        count[held[k % 40]]++;
    }
    ck_assert_int_ge(count[0], 4800);
    ck_assert_int_le(count[0], 5200);
    ck_assert_int_ge(count[1], 2300);
    ck_assert_int_le(count[1], 2700);
    ups_group_destroy(g);
}
END_TEST

/* ---- ip_hash ---- */

static int ip_pick(ups_group_t *g, const char *text)
{
    struct sockaddr_storage ss = {0};
    unsigned char key[16];
    size_t len;

    if (strchr(text, ':')) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        ck_assert_int_eq(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1);
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        ck_assert_int_eq(inet_pton(AF_INET, text, &sin->sin_addr), 1);
    }
    len = ups_ip_hash_key((struct sockaddr *)&ss, key);
    return request(g, key, len, 0, UPS_OK) - 'a';
}

static const char *const clients[6] = {"192.168.1.10", "192.168.1.200", "10.0.0.1",
                                       "10.20.30.40",  "172.16.5.4",    "8.8.8.8"};

START_TEST(test_ip_hash_sends_clients_where_nginx_does)
{
    uint32_t w1[3] = {1, 1, 1}, w2[3] = {2, 1, 3};
    int want1[6] = {1, 1, 0, 1, 1, 2}, want2[6] = {2, 2, 2, 0, 2, 2};
    ups_group_t *g1 = weighted(UPS_IP_HASH, w1, 3), *g2 = weighted(UPS_IP_HASH, w2, 3);

    for (int k = 0; k < 6; k++) {
        ck_assert_int_eq(ip_pick(g1, clients[k]), want1[k]);
        ck_assert_int_eq(ip_pick(g2, clients[k]), want2[k]);
    }
    ck_assert_int_eq(ip_pick(g1, "2001:db8::1"), 2);
    ck_assert_int_eq(ip_pick(g1, "::1"), 2);
    ck_assert_int_eq(ip_pick(g1, "fe80::1234:5678"), 0);
    ups_group_destroy(g1);
    ups_group_destroy(g2);
}
END_TEST

START_TEST(test_ip_hash_is_sticky_and_uses_the_first_three_octets)
{
    uint32_t w[4] = {1, 1, 1, 1};
    ups_group_t *g = weighted(UPS_IP_HASH, w, 4);
    int first = ip_pick(g, "10.1.2.3");

    for (int k = 0; k < 20; k++)
        ck_assert_int_eq(ip_pick(g, "10.1.2.3"), first);
    ck_assert_int_eq(ip_pick(g, "10.1.2.250"), first);
    ups_group_destroy(g);
}
END_TEST

START_TEST(test_ip_hash_key_of_each_address_family)
{
    struct sockaddr_in sin = {0};
    struct sockaddr_in6 sin6 = {0};
    struct sockaddr_un sun = {0};
    unsigned char key[16];

    sin.sin_family = AF_INET;
    inet_pton(AF_INET, "1.2.3.4", &sin.sin_addr);
    ck_assert_uint_eq(ups_ip_hash_key((struct sockaddr *)&sin, key), 3);
    ck_assert_int_eq(memcmp(key, "\x01\x02\x03", 3), 0);

    sin6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "2001:db8::7", &sin6.sin6_addr);
    ck_assert_uint_eq(ups_ip_hash_key((struct sockaddr *)&sin6, key), 16);
    ck_assert_int_eq(memcmp(key, &sin6.sin6_addr, 16), 0);

    sun.sun_family = AF_UNIX;
    memset(key, 0xff, sizeof(key));
    ck_assert_uint_eq(ups_ip_hash_key((struct sockaddr *)&sun, key), 3);
    ck_assert_int_eq(memcmp(key, "\0\0\0", 3), 0);
    ck_assert_uint_eq(ups_ip_hash_key(NULL, key), 3);
}
END_TEST

START_TEST(test_ip_hash_down_server_moves_only_its_clients)
{
    ups_peer_conf_t p[3] = {peer("a", 1), peer("b", 1), peer("c", 1)};
    ups_group_t *all = group_of(p, 3, UPS_IP_HASH);
    p[1].down = 1;
    ups_group_t *less = group_of(p, 3, UPS_IP_HASH);
    char client[32];

    for (int k = 0; k < 200; k++) {
        snprintf(client, sizeof(client), "10.%d.%d.1", k / 7, k % 251);
        int before = ip_pick(all, client), after = ip_pick(less, client);
        ck_assert_int_ne(after, 1);
        if (before != 1)
            ck_assert_int_eq(after, before);
    }
    ups_group_destroy(all);
    ups_group_destroy(less);
}
END_TEST

START_TEST(test_ip_hash_falls_back_to_round_robin_when_hashing_finds_nothing)
{
    ups_peer_conf_t p[3] = {peer("a", 1), peer("b", 1), peer("c", 1)};
    unsigned char key[3] = {10, 0, 0};

    p[0].down = p[1].down = 1;
    ups_group_t *g = group_of(p, 3, UPS_IP_HASH);
    for (int k = 0; k < 50; k++) {
        key[1] = (unsigned char)k;
        ck_assert_int_eq(request(g, key, 3, 0, UPS_OK), 'c');
    }
    p[2].down = 1;
    ups_group_destroy(g);
    g = group_of(p, 3, UPS_IP_HASH);
    ck_assert_int_eq(request(g, key, 3, 0, UPS_OK), '-');
    ups_group_destroy(g);
}
END_TEST

START_TEST(test_ip_hash_retry_goes_to_another_server)
{
    uint32_t w[3] = {1, 1, 1};
    ups_group_t *g = weighted(UPS_IP_HASH, w, 3);
    unsigned char key[3] = {192, 168, 1};
    ups_ctx_t ctx;
    int seen = 0;

    ups_ctx_init(&ctx, g, key, 3);
    for (int k = 0; k < 3; k++) {
        int i = pick_index(g, &ctx, 0);
        ck_assert_int_ge(i, 0);
        ck_assert(!(seen & (1 << i)));
        seen |= 1 << i;
        ups_peer_done(g, (size_t)i, UPS_FAILED, 0);
    }
    ck_assert_int_eq(pick_index(g, &ctx, 0), -1);
    ups_group_destroy(g);
}
END_TEST

START_TEST(test_ip_hash_distribution_follows_weights)
{
    uint32_t w[3] = {2, 1, 1};
    ups_group_t *g = weighted(UPS_IP_HASH, w, 3);
    int count[3] = {0};
    unsigned char key[3];

    for (int k = 0; k < 10000; k++) {
        key[0] = (unsigned char)(k >> 8);
        key[1] = (unsigned char)k;
        key[2] = (unsigned char)(k * 7);
        count[request(g, key, 3, 0, UPS_OK) - 'a']++;
    }
    ck_assert_int_ge(count[0], 4500);
    ck_assert_int_le(count[0], 5500);
    ck_assert_int_ge(count[1], 2000);
    ck_assert_int_le(count[1], 3000);
    ups_group_destroy(g);
}
END_TEST

/* ---- hash ---- */

static const char *const keys[8] = {"a", "b", "foo", "/x/y", "user42", "zzz", "12345", "k9"};

START_TEST(test_hash_sends_keys_where_nginx_does)
{
    uint32_t w1[3] = {1, 1, 1}, w2[3] = {2, 1, 3};
    int want1[8] = {2, 0, 1, 1, 0, 1, 2, 0}, want2[8] = {2, 0, 0, 2, 2, 0, 2, 2};
    ups_group_t *g1 = weighted(UPS_HASH, w1, 3), *g2 = weighted(UPS_HASH, w2, 3);

    for (int k = 0; k < 8; k++) {
        ck_assert_int_eq(request(g1, keys[k], strlen(keys[k]), 0, UPS_OK) - 'a', want1[k]);
        ck_assert_int_eq(request(g2, keys[k], strlen(keys[k]), 0, UPS_OK) - 'a', want2[k]);
    }
    ups_group_destroy(g1);
    ups_group_destroy(g2);
}
END_TEST

START_TEST(test_hash_rehashes_past_an_unavailable_server)
{
    ups_peer_conf_t p[3] = {peer("a", 1), peer("b", 1), peer("c", 1)};
    ups_group_t *g;

    p[2].down = 1; /* "a" hashes to c */
    g = group_of(p, 3, UPS_HASH);
    char first = request(g, "a", 1, 0, UPS_OK);
    ck_assert(first == 'a' || first == 'b');
    for (int k = 0; k < 5; k++)
        ck_assert_int_eq(request(g, "a", 1, 0, UPS_OK), first);
    ups_group_destroy(g);
}
END_TEST

START_TEST(test_hash_empty_key_uses_round_robin)
{
    uint32_t w[3] = {1, 1, 1};
    ups_group_t *g = weighted(UPS_HASH, w, 3);
    char seq[8];

    for (int k = 0; k < 6; k++)
        seq[k] = request(g, "", 0, 0, UPS_OK);
    seq[6] = '\0';
    ck_assert_str_eq(seq, "abcabc");
    ups_group_destroy(g);

    g = weighted(UPS_HASH_CONSISTENT, w, 3);
    for (int k = 0; k < 6; k++)
        seq[k] = request(g, NULL, 0, 0, UPS_OK);
    ck_assert_str_eq(seq, "abcabc");
    ups_group_destroy(g);
}
END_TEST

START_TEST(test_hash_distribution_follows_weights)
{
    uint32_t w[3] = {2, 1, 1};
    ups_group_t *g = weighted(UPS_HASH, w, 3);
    int count[3] = {0};
    char key[32];

    for (int k = 0; k < 10000; k++) {
        int len = snprintf(key, sizeof(key), "/item/%d", k);
        count[request(g, key, (size_t)len, 0, UPS_OK) - 'a']++;
    }
    ck_assert_int_ge(count[0], 4600);
    ck_assert_int_le(count[0], 5400);
    ck_assert_int_ge(count[2], 2100);
    ck_assert_int_le(count[2], 2900);
    ups_group_destroy(g);
}
END_TEST

START_TEST(test_hash_all_unavailable_is_none)
{
    ups_peer_conf_t p[2] = {peer("a", 1), peer("b", 1)};

    p[0].down = p[1].down = 1;
    for (int m = UPS_IP_HASH; m <= UPS_RANDOM_TWO; m++) {
        ups_group_t *g = group_of(p, 2, (ups_method_t)m);
        ck_assert_int_eq(request(g, "\1\2\3", 3, 0, UPS_OK), '-');
        ups_group_destroy(g);
    }
}
END_TEST

/* ---- hash consistent ---- */

static ups_group_t *ring(int n, const uint32_t *weights)
{
    static const char *const servers[] = {"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80",
                                          "10.0.0.4:80"};
    ups_peer_conf_t p[4];

    for (int i = 0; i < n; i++) {
        p[i] = peer(servers[i], weights ? weights[i] : 1);
        p[i].name = px_str_make(names[i], 1);
    }
    return group_of(p, (size_t)n, UPS_HASH_CONSISTENT);
}

START_TEST(test_consistent_hash_sends_keys_where_nginx_does)
{
    uint32_t w2[3] = {2, 1, 3};
    int want1[8] = {1, 2, 0, 0, 2, 1, 1, 1}, want2[8] = {1, 2, 0, 0, 2, 1, 0, 2};
    ups_group_t *g1 = ring(3, NULL), *g2 = ring(3, w2);

    for (int k = 0; k < 8; k++) {
        ck_assert_int_eq(request(g1, keys[k], strlen(keys[k]), 0, UPS_OK) - 'a', want1[k]);
        ck_assert_int_eq(request(g2, keys[k], strlen(keys[k]), 0, UPS_OK) - 'a', want2[k]);
    }
    ups_group_destroy(g1);
    ups_group_destroy(g2);
}
END_TEST

START_TEST(test_consistent_hash_splits_names_ports_and_unix_paths_as_nginx)
{
    ups_peer_conf_t p[3] = {peer("backend1", 1), peer("unix:/tmp/s.sock", 1), peer("[::1]", 1)};
    int want[8] = {1, 1, 0, 0, 0, 2, 2, 1};
    ups_group_t *g = group_of(p, 3, UPS_HASH_CONSISTENT);

    for (int k = 0; k < 8; k++) {
        ups_ctx_t ctx;
        ups_ctx_init(&ctx, g, keys[k], strlen(keys[k]));
        ck_assert_int_eq(pick_index(g, &ctx, 0), want[k]);
    }
    ups_group_destroy(g);
}
END_TEST

START_TEST(test_consistent_hash_adding_a_server_moves_about_a_quarter_to_it_only)
{
    ups_group_t *three = ring(3, NULL), *four = ring(4, NULL);
    int moved = 0;
    char key[32];

    for (int k = 0; k < 10000; k++) {
        int len = snprintf(key, sizeof(key), "key%d", k);
        char before = request(three, key, (size_t)len, 0, UPS_OK);
        char after = request(four, key, (size_t)len, 0, UPS_OK);
        if (before != after) {
            ck_assert_int_eq(after, 'd');
            moved++;
        }
    }
    ck_assert_int_ge(moved, 1500);
    ck_assert_int_le(moved, 3500);
    ups_group_destroy(three);
    ups_group_destroy(four);
}
END_TEST

START_TEST(test_consistent_hash_down_server_moves_only_its_keys)
{
    static const char *const servers[] = {"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"};
    ups_peer_conf_t p[3];
    char key[32];

    for (int i = 0; i < 3; i++) {
        p[i] = peer(servers[i], 1);
        p[i].name = px_str_make(names[i], 1);
    }
    ups_group_t *all = group_of(p, 3, UPS_HASH_CONSISTENT);
    p[0].down = 1;
    ups_group_t *less = group_of(p, 3, UPS_HASH_CONSISTENT);
    for (int k = 0; k < 2000; k++) {
        int len = snprintf(key, sizeof(key), "key%d", k);
        char before = request(all, key, (size_t)len, 0, UPS_OK);
        char after = request(less, key, (size_t)len, 0, UPS_OK);
        ck_assert_int_ne(after, 'a');
        if (before != 'a')
            ck_assert_int_eq(after, before);
    }
    ups_group_destroy(all);
    ups_group_destroy(less);
}
END_TEST

START_TEST(test_consistent_hash_addresses_of_one_server_share_its_points)
{
    /* "backend:80" resolving to two addresses: its keys alternate between them */
    ups_peer_conf_t p[3] = {peer("x", 1), peer("y", 1), peer("z", 1)};
    p[0].server = p[1].server = PX_STR("backend:80");
    p[2].server = PX_STR("other:80");
    ups_group_t *g = group_of(p, 3, UPS_HASH_CONSISTENT);
    char key[32];
    int count[3] = {0};

    for (int k = 0; k < 4000; k++) {
        int len = snprintf(key, sizeof(key), "key%d", k);
        count[request(g, key, (size_t)len, 0, UPS_OK) - 'a']++;
    }
    ck_assert_int_gt(count[0], 0);
    ck_assert_int_le(abs(count[0] - count[1]), 1);
    ups_group_destroy(g);
}
END_TEST

START_TEST(test_consistent_hash_distribution_is_even)
{
    ups_group_t *g = ring(4, NULL);
    int count[4] = {0};
    char key[32];

    for (int k = 0; k < 10000; k++) {
        int len = snprintf(key, sizeof(key), "/img/%d.png", k);
        count[request(g, key, (size_t)len, 0, UPS_OK) - 'a']++;
    }
    for (int i = 0; i < 4; i++) {
        ck_assert_int_ge(count[i], 1800);
        ck_assert_int_le(count[i], 3200);
    }
    ups_group_destroy(g);
}
END_TEST

/* ---- random ---- */

START_TEST(test_random_distribution_follows_weights)
{
    uint32_t w[3] = {5, 1, 1};
    ups_group_t *g = weighted(UPS_RANDOM, w, 3);
    int count[3] = {0};

    for (int k = 0; k < 10000; k++)
        count[request(g, NULL, 0, 0, UPS_OK) - 'a']++;
    ck_assert_int_ge(count[0], 6800);
    ck_assert_int_le(count[0], 7500);
    ck_assert_int_ge(count[1], 1200);
    ck_assert_int_le(count[1], 1700);
    ck_assert_int_ge(count[2], 1200);
    ck_assert_int_le(count[2], 1700);
    ups_group_destroy(g);
}
END_TEST

START_TEST(test_random_skips_unavailable_and_tried_peers)
{
    ups_peer_conf_t p[3] = {peer("a", 1), peer("b", 1), peer("c", 1)};
    ups_ctx_t ctx;

    p[1].down = 1;
    ups_group_t *g = group_of(p, 3, UPS_RANDOM);
    for (int k = 0; k < 100; k++)
        ck_assert_int_ne(request(g, NULL, 0, 0, UPS_OK), 'b');
    ups_ctx_init(&ctx, g, NULL, 0);
    int i = pick_index(g, &ctx, 0), j = pick_index(g, &ctx, 0);
    ck_assert_int_eq(i + j, 2);
    ck_assert_int_eq(pick_index(g, &ctx, 0), -1);
    ups_group_destroy(g);
}
END_TEST

START_TEST(test_random_same_seed_same_sequence)
{
    uint32_t w[3] = {1, 2, 3};
    ups_group_t *g1 = weighted(UPS_RANDOM, w, 3), *g2 = weighted(UPS_RANDOM, w, 3);
    char s1[65], s2[65];

    sequence(g1, 64, s1);
    sequence(g2, 64, s2);
    ck_assert_str_eq(s1, s2);
    ups_group_seed(g2, 999);
    sequence(g2, 64, s2);
    ck_assert_str_ne(s1, s2);
    ups_group_destroy(g1);
    ups_group_destroy(g2);
}
END_TEST

START_TEST(test_random_two_prefers_fewer_connections)
{
    uint32_t w[2] = {1, 1};
    ups_group_t *g = weighted(UPS_RANDOM_TWO, w, 2);
    ups_ctx_t held[3];

    /* with two servers both are drawn every time: the less loaded one always wins */
    for (int k = 0; k < 3; k++) {
        ups_ctx_init(&held[k], g, NULL, 0);
        ck_assert_int_ge(pick_index(g, &held[k], 0), 0);
    }
    ck_assert_int_le(abs((int)ups_peer_state(g, 0)->conns - (int)ups_peer_state(g, 1)->conns), 1);
    ups_peer_done(g, 0, UPS_OK, 0);
    ups_peer_done(g, 1, UPS_OK, 0);
    int lighter = ups_peer_state(g, 0)->conns < ups_peer_state(g, 1)->conns ? 'a' : 'b';
    for (int k = 0; k < 10; k++)
        ck_assert_int_eq(request(g, NULL, 0, 0, UPS_OK), lighter);
    ups_group_destroy(g);
}
END_TEST

START_TEST(test_random_two_distribution_and_fallback)
{
    uint32_t w[3] = {1, 1, 1};
    ups_group_t *g = weighted(UPS_RANDOM_TWO, w, 3);
    int count[3] = {0};

    for (int k = 0; k < 10000; k++)
        count[request(g, NULL, 0, 0, UPS_OK) - 'a']++;
    for (int i = 0; i < 3; i++) {
        ck_assert_int_ge(count[i], 3000);
        ck_assert_int_le(count[i], 3700);
    }
    ups_group_destroy(g);

    /* one usable peer: two distinct draws never happen, round-robin finds it */
    ups_peer_conf_t p[3] = {peer("a", 1), peer("b", 1), peer("c", 1)};
    p[0].down = p[2].down = 1;
    g = group_of(p, 3, UPS_RANDOM_TWO);
    for (int k = 0; k < 5; k++)
        ck_assert_int_eq(request(g, NULL, 0, 0, UPS_OK), 'b');
    ups_group_destroy(g);
}
END_TEST

static Suite *ups_balancer_suite(void)
{
    Suite *s = suite_create("ups_balancer");
    TCase *tc = tcase_create("config");

    tcase_add_test(tc, test_group_without_servers_is_refused_with_nginx_message);
    tcase_add_test(tc, test_group_of_only_backups_is_refused_with_nginx_message);
    tcase_add_test(tc, test_weight_zero_is_refused);
    tcase_add_test(tc, test_more_peers_than_the_tried_set_holds_are_refused);
    tcase_add_test(tc, test_backup_is_a_parameter_only_of_round_robin_and_least_conn);
    tcase_add_test(tc, test_tries_count_peers_not_marked_down_including_backups);
    tcase_add_test(tc, test_shared_state_attaches_only_with_the_same_peer_count);
    suite_add_tcase(s, tc);

    tc = tcase_create("round_robin");
    tcase_add_test(tc, test_rr_weights_5_1_1_pick_in_nginx_smooth_order);
    tcase_add_test(tc, test_rr_equal_weights_rotate);
    tcase_add_test(tc, test_rr_weights_3_2_interleave);
    tcase_add_test(tc, test_rr_distribution_matches_weights_exactly);
    tcase_add_test(tc, test_rr_retry_skips_tried_peers_then_gives_none);
    tcase_add_test(tc, test_rr_never_picks_down_peers_and_all_down_is_none);
    tcase_add_test(tc, test_peer_down_by_health_check_is_skipped_until_cleared);
    suite_add_tcase(s, tc);

    tc = tcase_create("passive_health");
    tcase_add_test(tc, test_max_fails_within_fail_timeout_takes_a_peer_out);
    tcase_add_test(tc, test_after_fail_timeout_one_probe_goes_through_and_success_restores);
    tcase_add_test(tc, test_failed_probe_keeps_the_peer_out_for_another_fail_timeout);
    tcase_add_test(tc, test_fails_below_max_fails_are_forgotten_after_fail_timeout);
    tcase_add_test(tc, test_max_fails_zero_disables_failure_accounting);
    tcase_add_test(tc, test_single_server_is_never_taken_out_by_failures);
    tcase_add_test(tc, test_failure_lowers_effective_weight_which_recovers_gradually);
    tcase_add_test(tc, test_done_on_unknown_peer_and_extra_done_are_harmless);
    suite_add_tcase(s, tc);

    tc = tcase_create("backup_and_max_conns");
    tcase_add_test(tc, test_backup_unused_while_a_primary_is_available);
    tcase_add_test(tc, test_backup_takes_over_when_all_primaries_fail_and_gives_back);
    tcase_add_test(tc, test_backup_with_least_conn_takes_over_the_same_way);
    tcase_add_test(tc, test_hash_method_reaches_backup_only_through_round_robin_fallback);
    tcase_add_test(tc, test_max_conns_full_peers_are_skipped_and_reported);
    tcase_add_test(tc, test_max_conns_of_a_single_server_is_respected);
    suite_add_tcase(s, tc);

    tc = tcase_create("least_conn");
    tcase_add_test(tc, test_least_conn_picks_fewest_connections_per_weight);
    tcase_add_test(tc, test_least_conn_ties_fall_back_to_weighted_round_robin);
    tcase_add_test(tc, test_least_conn_distribution_under_held_connections);
    suite_add_tcase(s, tc);

    tc = tcase_create("ip_hash");
    tcase_add_test(tc, test_ip_hash_sends_clients_where_nginx_does);
    tcase_add_test(tc, test_ip_hash_is_sticky_and_uses_the_first_three_octets);
    tcase_add_test(tc, test_ip_hash_key_of_each_address_family);
    tcase_add_test(tc, test_ip_hash_down_server_moves_only_its_clients);
    tcase_add_test(tc, test_ip_hash_falls_back_to_round_robin_when_hashing_finds_nothing);
    tcase_add_test(tc, test_ip_hash_retry_goes_to_another_server);
    tcase_add_test(tc, test_ip_hash_distribution_follows_weights);
    suite_add_tcase(s, tc);

    tc = tcase_create("hash");
    tcase_add_test(tc, test_hash_sends_keys_where_nginx_does);
    tcase_add_test(tc, test_hash_rehashes_past_an_unavailable_server);
    tcase_add_test(tc, test_hash_empty_key_uses_round_robin);
    tcase_add_test(tc, test_hash_distribution_follows_weights);
    tcase_add_test(tc, test_hash_all_unavailable_is_none);
    tcase_add_test(tc, test_consistent_hash_sends_keys_where_nginx_does);
    tcase_add_test(tc, test_consistent_hash_splits_names_ports_and_unix_paths_as_nginx);
    tcase_add_test(tc, test_consistent_hash_adding_a_server_moves_about_a_quarter_to_it_only);
    tcase_add_test(tc, test_consistent_hash_down_server_moves_only_its_keys);
    tcase_add_test(tc, test_consistent_hash_addresses_of_one_server_share_its_points);
    tcase_add_test(tc, test_consistent_hash_distribution_is_even);
    suite_add_tcase(s, tc);

    tc = tcase_create("random");
    tcase_add_test(tc, test_random_distribution_follows_weights);
    tcase_add_test(tc, test_random_skips_unavailable_and_tried_peers);
    tcase_add_test(tc, test_random_same_seed_same_sequence);
    tcase_add_test(tc, test_random_two_prefers_fewer_connections);
    tcase_add_test(tc, test_random_two_distribution_and_fallback);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ups_balancer_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
