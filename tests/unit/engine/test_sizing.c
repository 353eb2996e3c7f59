/* The scheduler's sizing formulas: concurrency, streamed bodies with the longest names, early
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

/* A part with the longest names and numbers a run can give streams its body: the JSON before
 * the blob fits the stream's fixed room, and the stream gives exactly payload_body_size(). */
static void check_members_fit(size_t len, const char *repo, const char *registry)
{
    static char upload_id[160];
    memset(upload_id, '\x01', sizeof upload_id - 1); /* escaped at the worst: \u0001 */
    uint8_t *data = calloc(1, len);
    REQUIRE(data);
    struct payload_part part = {.data = data,
                                .len = len,
                                .first_byte = PLAN_MAX_LAYER - len, /* the most digits */
                                .repository_name = repo,
                                .registry_id = registry,
                                .upload_id = upload_id};
    struct payload_stream *st = malloc(sizeof *st);
    REQUIRE(st);
    CHECK_EQ_INT(payload_stream_init(st, &part, ECRUP_BASE64_AUTO), ECRUP_OK);
    CHECK_EQ_INT(st->body_len, payload_body_size(&part));
    CHECK(st->members_len > 6 * 159 + strlen(repo)); /* the upload id escaped: the worst */
    free(st);
    free(data);
}

static void test_members_fit(void)
{
    /* names that escape at the worst, six bytes a character */
    char repo[257];
    for (size_t i = 0; i < sizeof repo - 1; i++)
        repo[i] = (char)(1 + i % 31); /* control characters: \u00XX */
    repo[sizeof repo - 1] = 0;
    check_members_fit(1, repo, "123456789012");
    check_members_fit(5 << 20, repo, NULL);
    check_members_fit((10 << 20) + 1, "library/app", "999999999999");
    check_members_fit(3, "a", NULL);
}

static void test_early_flights(void)
{
    CHECK_EQ_INT(sizing_memory_limit(0), IO_BUFPOOL_DEFAULT_MEMORY_LIMIT);
    CHECK_EQ_INT(sizing_memory_limit(12345), 12345);
    /* A slot for 20 MiB parts is 20 MiB of raw bytes: 512 MiB holds 25 of them, so 12 layers
     * may fly; 1 GiB holds 51: 25 layers. */
    CHECK_EQ_INT(sizing_early_flights(512ull << 20, 64), 12);
    CHECK_EQ_INT(sizing_early_flights(1ull << 30, 64), 25);
    CHECK_EQ_INT(sizing_early_flights(512ull << 20, 3), 3); /* never above concurrency */
    CHECK_EQ_INT(sizing_early_flights(32ull << 20, 64), 1); /* at least one */
    CHECK_EQ_INT(sizing_early_flights(1, 64), 1);
    /* never above what the pool made later allows for parts of any size */
    for (uint64_t mib = 64; mib <= 4096; mib *= 2) {
        uint64_t limit = mib << 20;
        unsigned early = sizing_early_flights(limit, 64);
        for (size_t ps = 5u << 20; ps <= PLAN_MAX_PART; ps += 5u << 20) {
            unsigned fit = io_bufpool_slots_for(limit, ps);
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
    test_members_fit();
    test_early_flights();
    test_pool();
    test_read_depth();
    test_connections();
    return test_finish("test_sizing");
}
