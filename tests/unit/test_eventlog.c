/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the event-log line parser (expectctl/ctl_eventlog.c):
 * the schema's event and gap lines, and every way a line is refused. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctl.h"

/* An event line in the schema; the variants replace a substring of it. */
static const char good_event[] =
    "{\"format\": \"mod_expect.event\", \"version\": 1, \"server\": \"www1.example\", "
    "\"pid\": 4242, \"seq\": 7, \"time\": \"2026-05-01T08:00:00.000Z\", "
    "\"time_usec\": 1777622400000000, \"vhost\": \"uploads.example:443\", "
    "\"client\": \"192.0.2.7\", \"method\": \"PUT\", \"uri\": \"/up?x=1\", "
    "\"protocol\": \"HTTP/1.1\", \"expect\": \"100-continue\", \"content_length\": 1048576, "
    "\"user_agent\": \"curl/7.88.1\", \"status\": 417, \"producer\": \"mod_expect\", "
    "\"reason\": \"policy\", \"fix\": \"ExpectPolicy reject ...\", \"client_key\": \"curl\", "
    "\"client_family\": \"curl\", \"client_fix\": \"-H 'Expect:'\", \"outcome\": \"retried\", "
    "\"retry_after_ms\": 850}";

static const char good_gap[] =
    "{\"format\": \"mod_expect.event.gap\", \"version\": 1, \"server\": \"www2.example\", "
    "\"pid\": 99, \"time\": \"2026-05-01T08:00:00.000Z\", \"time_usec\": 1777622400000000, "
    "\"lost\": 17}";

/* good with the first `from` replaced by `to` (static buffer). */
static const char *variant(const char *good, const char *from, const char *to)
{
    static char buf[8192];
    const char *at = strstr(good, from);

    assert_non_null(at);
    snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - good), good, to, at + strlen(from));
    return buf;
}

static int parse_line(const char *s, ctl_line_t *l, char *why)
{
    return ctl_eventlog_parse(s, strlen(s), l, why, 256);
}

static void event_line(void **state)
{
    static ctl_line_t l;
    char why[256];
    (void)state;

    assert_int_equal(parse_line(good_event, &l, why), CTL_LINE_EVENT);
    assert_string_equal(l.server, "www1.example");
    assert_int_equal(l.pid, 4242);
    assert_int_equal(l.claim, 7);
    assert_true(l.ev.time_usec == 1777622400000000ull);
    assert_string_equal(l.ev.vhost, "uploads.example:443");
    assert_string_equal(l.ev.client, "192.0.2.7");
    assert_string_equal(l.ev.method, "PUT");
    assert_string_equal(l.ev.uri, "/up?x=1");
    assert_string_equal(l.ev.protocol, "HTTP/1.1");
    assert_string_equal(l.ev.expect, "100-continue");
    assert_string_equal(l.ev.user_agent, "curl/7.88.1");
    assert_int_equal(l.ev.content_length, 1048576);
    assert_int_equal(l.ev.status, 417);
    assert_int_equal(l.ev.producer, EXPECT_PRODUCER_MOD_EXPECT);
    assert_int_equal(l.ev.reason, EXPECT_REASON_POLICY);
    assert_false(l.truncated);
    /* The outcome as written, whatever the clock says: no segment. */
    assert_int_equal(expect_outcome_state_at(NULL, l.ev.outcome, l.ev.seq / 2 - 1,
                                             l.ev.time_usec, UINT64_MAX), EXPECT_OUTCOME_RETRIED);
    assert_int_equal(expect_outcome_ms(l.ev.outcome), 850);
}

static void outcomes_as_written(void **state)
{
    static ctl_line_t l;
    char why[256];
    static const char *const names[] = {"untracked", "pending", "abandoned", "evicted",
                                        "repeated"};
    static const uint32_t states[] = {EXPECT_OUTCOME_UNTRACKED, EXPECT_OUTCOME_PENDING,
                                      EXPECT_OUTCOME_ABANDONED, EXPECT_OUTCOME_EVICTED,
                                      EXPECT_OUTCOME_REPEATED};
    char to[64];
    size_t i;
    (void)state;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(to, sizeof(to), "\"outcome\": \"%s\", \"retry_after_ms\": null", names[i]);
        assert_int_equal(parse_line(variant(good_event,
                                       "\"outcome\": \"retried\", \"retry_after_ms\": 850", to),
                               &l, why), CTL_LINE_EVENT);
        /* A pending event long past any window stays pending: it was the
         * writer's truth at the time. */
        assert_int_equal(expect_outcome_state_at(NULL, l.ev.outcome, l.ev.seq / 2 - 1,
                                                 l.ev.time_usec, UINT64_MAX), states[i]);
    }
}

static void gap_line(void **state)
{
    static ctl_line_t l;
    char why[256];
    (void)state;

    assert_int_equal(parse_line(good_gap, &l, why), CTL_LINE_GAP);
    assert_string_equal(l.server, "www2.example");
    assert_int_equal(l.pid, 99);
    assert_int_equal(l.lost, 17);
    assert_int_equal(parse_line(variant(good_gap, "\"lost\": 17", "\"lost\": 0"), &l, why),
                     CTL_LINE_BAD);
    assert_non_null(strstr(why, "\"lost\""));
    assert_int_equal(parse_line(variant(good_gap, "\"lost\": 17", "\"lost\": \"17\""), &l, why),
                     CTL_LINE_BAD);
}

/* Each variant is refused, and the reason names what is wrong. */
static void refused(void **state)
{
    static const struct {
        const char *from, *to, *why;
    } cases[] = {
        {"\"version\": 1", "\"version\": 2", "version 2"},
        {"\"version\": 1", "\"version\": \"1\"", "\"version\""},
        {"\"format\": \"mod_expect.event\"", "\"format\": \"mod_expect.events\"", "\"format\""},
        {"\"pid\": 4242", "\"pid\": -1", "\"pid\""},
        {"\"pid\": 4242", "\"pid\": 1.5", "\"pid\""},
        {"\"seq\": 7", "\"seq\": null", "\"seq\""},
        {"\"seq\": 7", "\"seq\": 9223372036854775807", "\"seq\""},
        {"\"server\": \"www1.example\", ", "", "\"server\""},
        {"\"time_usec\": 1777622400000000", "\"time_usec\": 0", "\"time_usec\""},
        {"\"uri\": \"/up?x=1\"", "\"uri\": 5", "\"uri\""},
        {"\"user_agent\": \"curl/7.88.1\", ", "", "\"user_agent\""},
        {"\"content_length\": 1048576", "\"content_length\": -5", "\"content_length\""},
        {"\"status\": 417", "\"status\": 99999", "\"status\""},
        {"\"producer\": \"mod_expect\"", "\"producer\": \"nginx\"", "\"producer\""},
        {"\"reason\": \"policy\"", "\"reason\": [1]", "\"reason\""},
        {"\"fix\": \"ExpectPolicy reject ...\"", "\"fix\": null", "\"fix\""},
        {"\"client_key\": \"curl\"", "\"client_key\": 1", "\"client_key\""},
        {"\"outcome\": \"retried\"", "\"outcome\": \"won\"", "\"outcome\""},
        {"\"retry_after_ms\": 850", "\"retry_after_ms\": null", "\"retry_after_ms\""},
        {"\"outcome\": \"retried\"", "\"outcome\": \"abandoned\"", "\"retry_after_ms\""},
        {"\"retry_after_ms\": 850}", "\"retry_after_ms\": 850, \"truncated\": false}",
         "\"truncated\""},
        /* A key twice: which one a reader took would be a guess. */
        {"\"pid\": 4242", "\"pid\": 4242, \"pid\": 1", "not JSON"},
        {"\"retry_after_ms\": 850}", "\"retry_after_ms\": 850", "not JSON"},
        {"{\"format\"", "[{\"format\"", "not JSON"},
    };
    static ctl_line_t l;
    char why[256];
    size_t i;
    (void)state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        why[0] = '\0';
        assert_int_equal(parse_line(variant(good_event, cases[i].from, cases[i].to), &l, why),
                         CTL_LINE_BAD);
        if (strstr(why, cases[i].why) == NULL) {
            fail_msg("case %zu: \"%s\" does not name %s", i, why, cases[i].why);
        }
    }
    assert_int_equal(parse_line("", &l, why), CTL_LINE_BAD);
    assert_int_equal(parse_line("[1, 2]", &l, why), CTL_LINE_BAD);
    assert_non_null(strstr(why, "object"));
    assert_int_equal(parse_line("{\"format\": \"mod_expect.event\", \"version\": 1}", &l, why),
                     CTL_LINE_BAD);
    /* Invalid UTF-8 (jansson refuses it) and a NUL byte inside the text. */
    assert_int_equal(parse_line(variant(good_event, "/up?x=1", "/up\xff"), &l, why), CTL_LINE_BAD);
    assert_int_equal(ctl_eventlog_parse("{\"a\"\0: 1}", 9, &l, why, sizeof(why)), CTL_LINE_BAD);
    assert_non_null(strstr(why, "NUL"));
    /* \u0000 in a string: jansson refuses it unless asked not to. */
    assert_int_equal(parse_line(variant(good_event, "/up?x=1", "/up\\u0000x"), &l, why),
                     CTL_LINE_BAD);
}

static void sizes(void **state)
{
    static ctl_line_t l;
    static char line[CTL_EVENTLOG_LINE_MAX + 64], to[4096];
    char why[256];
    size_t n;
    (void)state;

    /* A line as long as the log allows (its newline makes it PIPE_BUF - 1
     * bytes) is read; one byte more is refused. */
    n = strlen(good_event) - 1;
    memcpy(line, good_event, n);
    memset(line + n, ' ', sizeof(line) - n);
    line[CTL_EVENTLOG_LINE_MAX - 2] = '}';
    assert_int_equal(ctl_eventlog_parse(line, CTL_EVENTLOG_LINE_MAX - 1, &l, why, sizeof(why)),
                     CTL_LINE_EVENT);
    line[CTL_EVENTLOG_LINE_MAX - 2] = ' ';
    line[CTL_EVENTLOG_LINE_MAX - 1] = '}';
    assert_int_equal(ctl_eventlog_parse(line, CTL_EVENTLOG_LINE_MAX, &l, why, sizeof(why)),
                     CTL_LINE_BAD);
    assert_non_null(strstr(why, "longer"));

    /* A string longer than the record's field is cut, never inside a
     * UTF-8 sequence: 300 two-byte characters into a 160-byte field. */
    strcpy(to, "\"user_agent\": \"");
    for (n = 0; n < 300; n++) {
        strcat(to, "\xc3\xa9");
    }
    strcat(to, "\"");
    assert_int_equal(parse_line(variant(good_event, "\"user_agent\": \"curl/7.88.1\"", to), &l, why),
                     CTL_LINE_EVENT);
    assert_int_equal(strlen(l.ev.user_agent), 158);
    assert_int_equal((unsigned char)l.ev.user_agent[157], 0xa9);

    /* The writer's mark for a line it cut to fit: accepted, and said. */
    assert_int_equal(parse_line(variant(good_event, "\"retry_after_ms\": 850}",
                                   "\"retry_after_ms\": 850, \"truncated\": true}"), &l, why),
                     CTL_LINE_EVENT);
    assert_true(l.truncated);
    /* Fields a later writer may add are ignored. */
    assert_int_equal(parse_line(variant(good_event, "\"retry_after_ms\": 850}",
                                   "\"retry_after_ms\": 850, \"new\": {\"x\": [1]}}"), &l, why),
                     CTL_LINE_EVENT);
    /* "unknown" is what a segment's out-of-range code is written as. */
    assert_int_equal(parse_line(variant(good_event, "\"producer\": \"mod_expect\"",
                                   "\"producer\": \"unknown\""), &l, why), CTL_LINE_EVENT);
    assert_int_equal(l.ev.producer, EXPECT_PRODUCER_COUNT);
    assert_int_equal(parse_line(variant(good_event, "\"content_length\": 1048576",
                                   "\"content_length\": null"), &l, why), CTL_LINE_EVENT);
    assert_int_equal(l.ev.content_length, -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(event_line),
        cmocka_unit_test(outcomes_as_written),
        cmocka_unit_test(gap_line),
        cmocka_unit_test(refused),
        cmocka_unit_test(sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
