/* The scheduler's sizing formulas: concurrency, body capacity against real bodies, early
 * flights, pool slots, the flight limit, read-ahead depth, connections. */
#include "engine/sizing.h"

#include "engine/base64.h"
#include "engine/payload.h"
#include "engine/plan.h"
#include "io/bufpool.h"

#include "test.h"

static void test_concurrency(void)
{
    CHECK_EQ_INT(sizing_concurrency(0, 2), 8); /* 4 per core */
    CHECK_EQ_INT(sizing_concurrency(0, 16), 64);
    CHECK_EQ_INT(sizing_concurrency(0, 1), 4);
    CHECK_EQ_INT(sizing_concurrency(0, 0), 4); /* unknown: at least 4 */
    CHECK_EQ_INT(sizing_concurrency(0, -1), 4);
    CHECK_EQ_INT(sizing_concurrency(3, 16), 3); /* the option wins, even below 4 */
    CHECK_EQ_INT(sizing_concurrency(1, 2), 1);
    CHECK_EQ_INT(sizing_concurrency(200, 2), 200);
}

/* The body of a part of `len` bytes with the longest names and numbers a run can give fits in
 * the capacity, and the capacity is not far above the body. */
static void check_capacity(size_t len, const char *repo, const char *registry)
{
    static char upload_id[160];
    memset(upload_id, 'u', sizeof upload_id - 1);
    uint8_t *data = calloc(1, len);
    REQUIRE(data);
    struct payload_part part = {.data = data,
                                .len = len,
                                .first_byte = PLAN_MAX_LAYER - len, /* the most digits */
                                .repository_name = repo,
                                .registry_id = registry,
                                .upload_id = upload_id};
    size_t names = strlen(repo) + (registry ? strlen(registry) : 0);
    size_t need = payload_body_size(&part), cap = sizing_body_capacity(len, names);
    CHECK(need > b64_encoded_len(len));
    CHECK(need <= cap);
    CHECK(cap - need < 2048);
    /* and the writer agrees: it writes into exactly that capacity */
    char *body = malloc(cap);
    REQUIRE(body);
    struct payload_result res;
    CHECK_EQ_INT(payload_write(&part, NULL, body, cap, &res), ECRUP_OK);
    CHECK_EQ_INT(res.body_len, need);
    free(body);
    free(data);
}

static void test_body_capacity(void)
{
    CHECK_EQ_INT(sizing_body_capacity(10485760, 0), 13981016 + 1024);
    CHECK_EQ_INT(sizing_body_capacity(10485760, 100), 13981016 + 1024 + 600);
    CHECK_EQ_INT(sizing_body_capacity(1, 0), 4 + 1024);
    /* names that escape at the worst, six bytes a character */
    char repo[257];
    for (size_t i = 0; i < sizeof repo - 1; i++)
        repo[i] = (char)(1 + i % 31); /* control characters: \u00XX */
    repo[sizeof repo - 1] = 0;
    check_capacity(1, repo, "123456789012");
    check_capacity(5 << 20, repo, NULL);
    check_capacity((10 << 20) + 1, "library/app", "999999999999");
    check_capacity(3, "a", NULL);
}

static void test_early_flights(void)
{
    CHECK_EQ_INT(sizing_memory_limit(0), IO_BUFPOOL_DEFAULT_MEMORY_LIMIT);
    CHECK_EQ_INT(sizing_memory_limit(12345), 12345);
    /* A slot for 20 MiB parts is 20 MiB raw plus 27,963,392 bytes of body (page-rounded):
     * 512 MiB holds 10 of them, so 5 layers may fly; 1 GiB holds 21: 10 layers. */
    CHECK_EQ_INT(sizing_early_flights(512ull << 20, 0, 64), 5);
    CHECK_EQ_INT(sizing_early_flights(1ull << 30, 0, 64), 10);
    CHECK_EQ_INT(sizing_early_flights(512ull << 20, 0, 3), 3); /* never above concurrency */
    CHECK_EQ_INT(sizing_early_flights(64ull << 20, 0, 64), 1); /* at least one */
    CHECK_EQ_INT(sizing_early_flights(1, 0, 64), 1);
    /* never above what the pool made later allows for parts of any size */
    for (uint64_t mib = 64; mib <= 4096; mib *= 2) {
        uint64_t limit = mib << 20;
        unsigned early = sizing_early_flights(limit, 40, 64);
        for (size_t ps = 5u << 20; ps <= PLAN_MAX_PART; ps += 5u << 20) {
            unsigned fit = io_bufpool_slots_for(limit, ps, sizing_body_capacity(ps, 40));
            if (fit >= 2)
                CHECK(sizing_flight_limit(64, fit) >= early);
        }
    }
}

static void test_pool(void)
{
    /* layers left x 6, at least 2; 0 means as many as fit */
    CHECK_EQ_INT(sizing_pool_slots(8, 1, 21), 6);
    CHECK_EQ_INT(sizing_pool_slots(8, 3, 21), 18);
    CHECK_EQ_INT(sizing_pool_slots(8, 4, 21), 0); /* 24 would not fit: all 21 */
    CHECK_EQ_INT(sizing_pool_slots(2, 100, 21), 12);
    CHECK_EQ_INT(sizing_pool_slots(8, 0, 21), 2);
    CHECK_EQ_INT(sizing_pool_slots(8, 1, 6), 0);
    CHECK_EQ_INT(sizing_flight_limit(8, 21), 8);
    CHECK_EQ_INT(sizing_flight_limit(8, 10), 5);
    CHECK_EQ_INT(sizing_flight_limit(8, 2), 1);
    CHECK_EQ_INT(sizing_flight_limit(8, 3), 1);
}

static void test_read_depth(void)
{
    CHECK_EQ_INT(sizing_read_depth(2, 1, 2), 2);  /* a small pool: two parts */
    CHECK_EQ_INT(sizing_read_depth(12, 1, 2), 4); /* plenty: two workers, four parts */
    CHECK_EQ_INT(sizing_read_depth(12, 1, 1), 3); /* no deeper than one worker needs */
    CHECK_EQ_INT(sizing_read_depth(64, 1, 64), SIZING_MAX_DEPTH);
    CHECK_EQ_INT(sizing_read_depth(12, 4, 2), 3); /* the pool shared by four layers */
    CHECK_EQ_INT(sizing_read_depth(12, 6, 2), 2);
    CHECK_EQ_INT(sizing_read_depth(12, 0, 2), 2); /* nothing flying yet */
}

static void test_connections(void)
{
    CHECK_EQ_INT(sizing_connections(0), 72);
    CHECK_EQ_INT(sizing_connections(4), 12);
}

int main(void)
{
    test_concurrency();
    test_body_capacity();
    test_early_flights();
    test_pool();
    test_read_depth();
    test_connections();
    return test_finish("test_sizing");
}
