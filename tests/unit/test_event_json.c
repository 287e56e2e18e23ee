/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_event_json.c - one 417 as JSON: the events --json object and the
 * event log's line share their fields; a line stays under PIPE_BUF with
 * the worst escaping, cut only between whole escapes and whole UTF-8
 * sequences, and says it was cut.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect_event_json.h"

typedef struct {
    char buf[65536];
    size_t len;
} membuf_t;

static void to_mem(void *ctx, const char *s, size_t n)
{
    membuf_t *m = ctx;

    assert_true(m->len + n < sizeof(m->buf));
    memcpy(m->buf + m->len, s, n);
    m->len += n;
    m->buf[m->len] = '\0';
}

static void plain_event(expect_shm_event_t *e)
{
    expect_shm_event_init(e);
    e->seq = 2 * 41 + 2;   /* claim 41, published */
    e->time_usec = 1767225600250000ull;   /* 2026-01-01T00:00:00.250Z */
    e->content_length = 1048576;
    e->producer = EXPECT_PRODUCER_MOD_EXPECT;
    e->reason = EXPECT_REASON_POLICY;
    e->outcome = expect_outcome_word(41, EXPECT_OUTCOME_RETRIED, 850);
    EXPECT_SHM_EVENT_SET(e, vhost, "shop.example:80");
    EXPECT_SHM_EVENT_SET(e, client, "192.0.2.7");
    EXPECT_SHM_EVENT_SET(e, method, "PUT");
    EXPECT_SHM_EVENT_SET(e, uri, "/up/\"x\"");
    EXPECT_SHM_EVENT_SET(e, protocol, "HTTP/1.1");
    EXPECT_SHM_EVENT_SET(e, expect, "100-continue");
    EXPECT_SHM_EVENT_SET(e, user_agent, "unknown-agent/1.0");
}

static void fill_bytes(char *dst, size_t size, int byte)
{
    memset(dst, byte, size - 1);
    dst[size - 1] = '\0';
}

/* Every string at its longest, every byte the one that escapes worst. */
static void worst_event(expect_shm_event_t *e)
{
    plain_event(e);
    fill_bytes(e->vhost, sizeof(e->vhost), 0x01);
    fill_bytes(e->client, sizeof(e->client), 0x01);
    fill_bytes(e->method, sizeof(e->method), 0x01);
    fill_bytes(e->uri, sizeof(e->uri), 0x01);
    fill_bytes(e->protocol, sizeof(e->protocol), 0x01);
    fill_bytes(e->expect, sizeof(e->expect), 0x01);
    fill_bytes(e->user_agent, sizeof(e->user_agent), 0x01);
}

/* A line is one line of printable JSON: no control byte but its end. */
static void assert_one_line(const char *line, size_t len)
{
    size_t i;

    assert_int_equal(strlen(line), len);
    assert_true(len > 2 && len < EXPECT_EVENT_LINE_MAX);
    assert_memory_equal(line + len - 2, "}\n", 2);
    for (i = 0; i + 1 < len; i++) {
        assert_true((unsigned char)line[i] >= 0x20);
    }
}

/* The JSON value of "key": in line, as written (quotes included). */
static const char *value_of(const char *line, const char *key, size_t *vlen)
{
    char pat[64];
    const char *v, *p;

    snprintf(pat, sizeof(pat), "\"%s\": ", key);
    v = strstr(line, pat);
    assert_non_null(v);
    v += strlen(pat);
    if (*v != '"') {
        p = v + strcspn(v, ",}");
    }
    else {
        for (p = v + 1; *p != '"'; p++) {
            if (*p == '\\') {
                p++;
            }
        }
        p++;
    }
    *vlen = (size_t)(p - v);
    return v;
}

static void test_json_object(void **state)
{
    expect_shm_event_t e;
    membuf_t m = { .len = 0 };

    (void)state;
    plain_event(&e);
    expect_event_json(to_mem, &m, &e, EXPECT_OUTCOME_RETRIED);
    assert_string_equal(m.buf,
        "{\"time\": \"2026-01-01T00:00:00.250Z\", \"time_usec\": 1767225600250000, "
        "\"vhost\": \"shop.example:80\", \"client\": \"192.0.2.7\", \"method\": \"PUT\", "
        "\"uri\": \"/up/\\\"x\\\"\", \"protocol\": \"HTTP/1.1\", \"expect\": \"100-continue\", "
        "\"content_length\": 1048576, \"user_agent\": \"unknown-agent/1.0\", \"status\": 417, "
        "\"producer\": \"mod_expect\", \"reason\": \"policy\", \"fix\": \"ExpectPolicy reject "
        "on this vhost/location; the client should resend without Expect, or set "
        "ExpectPolicy continue\", \"client_key\": null, \"client_family\": null, "
        "\"client_fix\": null, \"outcome\": \"retried\", \"retry_after_ms\": 850}");
}

/* The line is its own fields, then exactly the object's. */
static void test_line_shares_the_fields(void **state)
{
    expect_shm_event_t e;
    membuf_t m = { .len = 0 };
    char line[EXPECT_EVENT_LINE_MAX];
    static const char head[] = "{\"format\": \"mod_expect.event\", \"version\": 1, "
                               "\"server\": \"www.example\", \"pid\": 4242, \"seq\": 41, ";
    size_t len;

    (void)state;
    plain_event(&e);
    EXPECT_SHM_EVENT_SET(&e, user_agent, "Java-http-client/17.0.15");
    expect_event_json(to_mem, &m, &e, EXPECT_OUTCOME_PENDING);
    len = expect_event_line(line, sizeof(line), "www.example", 4242, &e, EXPECT_OUTCOME_PENDING);
    assert_one_line(line, len);
    assert_memory_equal(line, head, sizeof(head) - 1);
    /* The object without its "{", and the newline. */
    assert_int_equal(len, sizeof(head) - 1 + m.len - 1 + 1);
    assert_memory_equal(line + sizeof(head) - 1, m.buf + 1, m.len - 1);
    assert_null(strstr(line, "truncated"));
    assert_non_null(strstr(line, "\"client_key\": \"java-httpclient\""));
    assert_non_null(strstr(line, "\"outcome\": \"pending\", \"retry_after_ms\": null}\n"));
}

/* Every byte 0x01 becomes \u0001: six times the input, and still a line
 * under PIPE_BUF, cut uri first, each cut string whole escapes only. */
static void test_worst_escaping_fits(void **state)
{
    expect_shm_event_t e;
    char line[EXPECT_EVENT_LINE_MAX];
    const char *v;
    size_t len, vlen, i;
    membuf_t m = { .len = 0 };

    (void)state;
    worst_event(&e);
    expect_event_json(to_mem, &m, &e, EXPECT_OUTCOME_ABANDONED);
    assert_true(m.len > EXPECT_EVENT_LINE_MAX);   /* events --json cuts nothing */
    len = expect_event_line(line, sizeof(line), "www.example", 1, &e,
                            EXPECT_OUTCOME_ABANDONED);
    assert_one_line(line, len);
    assert_memory_equal(line + len - 21, ", \"truncated\": true}\n", 21);
    /* uri is cut, to whole escapes; user_agent, next in the order, and the
     * vhost are whole: the uri gave enough. */
    v = value_of(line, "uri", &vlen);
    assert_true(vlen >= 2 && vlen < 2 + 6 * (sizeof(e.uri) - 1));
    assert_int_equal((vlen - 2) % 6, 0);
    for (i = 1; i + 1 < vlen; i += 6) {
        assert_memory_equal(v + i, "\\u0001", 6);
    }
    v = value_of(line, "user_agent", &vlen);
    assert_int_equal(vlen, 2 + 6 * (sizeof(e.user_agent) - 1));
    v = value_of(line, "vhost", &vlen);
    assert_int_equal(vlen, 2 + 6 * (sizeof(e.vhost) - 1));
    /* And as much as fits was kept: another escape would not have. */
    assert_true(len + 6 >= EXPECT_EVENT_LINE_MAX - 1);
}

/* A cut never splits a UTF-8 sequence. */
static void test_cut_keeps_utf8_whole(void **state)
{
    expect_shm_event_t e;
    char line[EXPECT_EVENT_LINE_MAX];
    const char *v;
    size_t len, vlen, i;

    (void)state;
    worst_event(&e);
    for (i = 0; i + 3 < sizeof(e.uri); i += 3) {
        memcpy(e.uri + i, "\xe2\x82\xac", 3);   /* the euro sign */
    }
    e.uri[i] = '\0';
    len = expect_event_line(line, sizeof(line), "www.example", 1, &e, EXPECT_OUTCOME_PENDING);
    assert_one_line(line, len);
    v = value_of(line, "uri", &vlen);
    assert_true(vlen > 2 && vlen < 2 + i);
    assert_int_equal((vlen - 2) % 3, 0);
    for (i = 1; i + 1 < vlen; i += 3) {
        assert_memory_equal(v + i, "\xe2\x82\xac", 3);
    }
    assert_non_null(strstr(line, "\"truncated\": true}\n"));
    /* user_agent untouched: the uri gave enough. */
    v = value_of(line, "user_agent", &vlen);
    assert_int_equal(vlen, 2 + 6 * (sizeof(e.user_agent) - 1));
}

/* Whatever must go, it goes in the documented order: a string is cut only
 * once every string before it in the order is empty, and what stays is
 * as much as fits. */
static void test_cut_order(void **state)
{
    expect_shm_event_t e;
    /* Each string of worst_event, and its JSON size whole: every byte six. */
    const struct {
        const char *name;
        size_t whole;
    } order[] = {
        { "uri", 2 + 6 * (sizeof(e.uri) - 1) },
        { "user_agent", 2 + 6 * (sizeof(e.user_agent) - 1) },
        { "expect", 2 + 6 * (sizeof(e.expect) - 1) },
        { "vhost", 2 + 6 * (sizeof(e.vhost) - 1) },
        { "client", 2 + 6 * (sizeof(e.client) - 1) },
        { "method", 2 + 6 * (sizeof(e.method) - 1) },
        { "protocol", 2 + 6 * (sizeof(e.protocol) - 1) },
    };
    char line[EXPECT_EVENT_LINE_MAX], server[4000];
    size_t len, vlen, k, n;
    int later_cut;

    (void)state;
    worst_event(&e);
    for (n = 0; n < sizeof(server) - 1; n += 97) {
        memset(server, '"', n);
        server[n] = '\0';
        len = expect_event_line(line, sizeof(line), server, 1, &e, EXPECT_OUTCOME_PENDING);
        assert_one_line(line, len);
        assert_non_null(strstr(line, "\"truncated\": true}\n"));
        /* Within one escape (6 bytes) of the limit. */
        assert_true(len + 6 >= EXPECT_EVENT_LINE_MAX - 1);
        later_cut = 0;
        for (k = sizeof(order) / sizeof(order[0]); k-- > 0;) {
            value_of(line, order[k].name, &vlen);
            if (later_cut) {
                assert_int_equal(vlen, 2);   /* "": emptied before the later one */
            }
            if (vlen < order[k].whole) {
                later_cut = 1;
            }
        }
        assert_true(later_cut);
    }
}

/* Even a ServerName of thousands of bytes leaves a line under PIPE_BUF. */
static void test_huge_server_name(void **state)
{
    expect_shm_event_t e;
    char line[EXPECT_EVENT_LINE_MAX], server[6000];
    size_t len;

    (void)state;
    worst_event(&e);
    fill_bytes(server, sizeof(server), '"');
    len = expect_event_line(line, sizeof(line), server, 1, &e, EXPECT_OUTCOME_PENDING);
    assert_one_line(line, len);
    assert_non_null(strstr(line, "\"truncated\": true}\n"));
    len = expect_event_gap_line(line, sizeof(line), server, 1, 1767225600250000ull, 7);
    assert_one_line(line, len);
}

static void test_gap_line(void **state)
{
    char line[EXPECT_EVENT_LINE_MAX];
    size_t len;

    (void)state;
    len = expect_event_gap_line(line, sizeof(line), "www.example", 4242,
                                1767225600250000ull, 1500);
    assert_one_line(line, len);
    assert_string_equal(line, "{\"format\": \"mod_expect.event.gap\", \"version\": 1, "
                        "\"server\": \"www.example\", \"pid\": 4242, "
                        "\"time\": \"2026-01-01T00:00:00.250Z\", "
                        "\"time_usec\": 1767225600250000, \"lost\": 1500}\n");
}

static void test_small_buffer_refused(void **state)
{
    expect_shm_event_t e;
    char line[100];

    (void)state;
    plain_event(&e);
    assert_int_equal(expect_event_line(line, sizeof(line), "a", 1, &e, 0), 0);
    assert_int_equal(expect_event_gap_line(line, sizeof(line), "a", 1, 1, 1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_object),
        cmocka_unit_test(test_line_shares_the_fields),
        cmocka_unit_test(test_worst_escaping_fits),
        cmocka_unit_test(test_cut_keeps_utf8_whole),
        cmocka_unit_test(test_cut_order),
        cmocka_unit_test(test_huge_server_name),
        cmocka_unit_test(test_gap_line),
        cmocka_unit_test(test_small_buffer_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
