/* test_log.c - unit tests of tracker/obs/log.c: the text and JSON forms of a
 * line (hostile strings escaped, bounds kept, every JSON line whole) and the
 * per-cause rate limit's accounting.
 *
 * Owns:   nothing; formats lines into buffers (log_format_line is pure) and
 *         drives a struct log_limit with a made-up clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"

#define TS 1796239800123LL /* 2026-12-02T19:30:00.123Z */

static char line[LOG_LINE_MAX];

static void test_text_lines(void **state)
{
    const struct log_field f[] = {LOG_STR("url", "ws://127.0.0.1:8000")};
    (void)state;
    /* the forms scripts parse, byte for byte */
    log_format_line(line, sizeof line, LOG_FORMAT_TEXT, LOG_INFO, TS, false,
                    "listening on ws://127.0.0.1:8000", f, 1);
    assert_string_equal(line, "listening on ws://127.0.0.1:8000\n");
    log_format_line(line, sizeof line, LOG_FORMAT_TEXT, LOG_INFO, TS, true, "2 worker threads",
                    NULL, 0);
    assert_string_equal(line, "wstracker: 2 worker threads\n");
    /* a client's text cannot start a line of its own */
    log_format_line(line, sizeof line, LOG_FORMAT_TEXT, LOG_WARN, TS, true,
                    "origin 'a\nwstracker: forged\r\x1b[31m\x7f'", NULL, 0);
    assert_string_equal(line, "wstracker: origin 'a\\x0awstracker: forged\\x0d\\x1b[31m\\x7f'\n");
}

static void test_json_lines(void **state)
{
    const struct log_field f[] = {LOG_STR("url", "ws://[::1]:8000"), LOG_NUM("worker", 3),
                                  LOG_NUM("neg", -7)};
    (void)state;
    log_format_line(line, sizeof line, LOG_FORMAT_JSON, LOG_INFO, TS, false, "listening", f, 3);
    assert_string_equal(line, "{\"ts\":\"2026-12-02T19:30:00.123Z\",\"level\":\"info\","
                              "\"msg\":\"listening\",\"url\":\"ws://[::1]:8000\",\"worker\":3,"
                              "\"neg\":-7}\n");
    log_format_line(line, sizeof line, LOG_FORMAT_JSON, LOG_ERROR, 0, true, "x", NULL, 0);
    assert_string_equal(
        line, "{\"ts\":\"1970-01-01T00:00:00.000Z\",\"level\":\"error\",\"msg\":\"x\"}\n");
    log_format_line(line, sizeof line, LOG_FORMAT_JSON, LOG_DEBUG, TS, true, "d", NULL, 0);
    assert_non_null(strstr(line, "\"level\":\"debug\""));
    log_format_line(line, sizeof line, LOG_FORMAT_JSON, LOG_WARN, TS, true, "w", NULL, 0);
    assert_non_null(strstr(line, "\"level\":\"warn\""));
}

/* Hostile strings: quotes, backslashes, control bytes, DEL, bad UTF-8 (a
 * lone continuation byte, an overlong '/', a surrogate, a cut sequence, past
 * U+10FFFF) in the message, a field's key and its value. */
static void test_json_escaping(void **state)
{
    const struct log_field f[] = {
        LOG_STR("origin", "https://e\"vil\\.example\n\t\x01\x1f\x7f"),
        LOG_STR("k\"ey", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
        LOG_STR("bad", "\x80|\xc0\xaf|\xed\xa0\x80|\xe2\x82|\xf4\x90\x80\x80|\xff"),
    };
    (void)state;
    log_format_line(line, sizeof line, LOG_FORMAT_JSON, LOG_WARN, TS, true, "m\"\\\n", f, 3);
    assert_string_equal(
        line,
        "{\"ts\":\"2026-12-02T19:30:00.123Z\",\"level\":\"warn\",\"msg\":\"m\\\"\\\\\\u000a\","
        "\"origin\":\"https://e\\\"vil\\\\.example\\u000a\\u0009\\u0001\\u001f\\u007f\","
        "\"k\\\"ey\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\","
        "\"bad\":\"\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd|"
        "\\ufffd\\ufffd\\ufffd\\ufffd|\\ufffd\"}\n");
}

/* A line never passes its buffer and a JSON line is whole even when its
 * text is not: a field's text is cut at LOG_TEXT_MAX, a line too long for
 * the buffer says so. */
static void test_bounds(void **state)
{
    char big[LOG_LINE_MAX * 2], small[128];
    size_t n;
    (void)state;
    memset(big, '"', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    {
        const struct log_field f[] = {LOG_STR("v", big)};
        n = log_format_line(line, sizeof line, LOG_FORMAT_JSON, LOG_INFO, TS, true, "m", f, 1);
        assert_int_equal(n, strlen(line));
        assert_true(n < sizeof line);
        /* LOG_TEXT_MAX quotes, each escaped to two bytes */
        assert_non_null(strstr(line, "\"v\":\""));
        assert_int_equal(strlen(strstr(line, "\"v\":\"")), 5 + 2 * LOG_TEXT_MAX + 3);
    }
    n = log_format_line(small, sizeof small, LOG_FORMAT_JSON, LOG_INFO, TS, true, big, NULL, 0);
    assert_int_equal(n, strlen(small));
    assert_true(n < sizeof small);
    assert_int_equal(small[n - 1], '\n');
    assert_int_equal(small[n - 2], '}');
    assert_non_null(strstr(small, "\"msg\":\"log line too long\"}"));
    n = log_format_line(small, sizeof small, LOG_FORMAT_TEXT, LOG_INFO, TS, true, big, NULL, 0);
    assert_int_equal(n, sizeof small - 1);
    assert_int_equal(small[n - 1], '\n');
}

/* The limiter: one line per cause per interval; the refusals it did not
 * print are counted and handed to the next line. */
static void test_limit(void **state)
{
    struct log_limit l;
    uint64_t printed = 0;
    (void)state;
    memset(&l, 0, sizeof l);
    l.interval_ms = 1000;
    for (int64_t t = 0; t < 200; t++)
        printed += log_limit_due(&l, 5000 + t, 2) ? (l.next_ms[2] = 5000 + t + 1000, 1) : 0;
    assert_int_equal(printed, 1);
    assert_int_equal(l.suppressed[2], 199);
    assert_int_equal(log_limit_take(&l, 5999, 2), 0); /* not before the interval's end */
    assert_int_equal(log_limit_take(&l, 6000, 2), 199);
    assert_int_equal(l.suppressed[2], 0);
    assert_int_equal(l.next_ms[2], 7000);             /* the count's line was the cause's line */
    assert_int_equal(log_limit_take(&l, 9000, 2), 0); /* nothing to say */
    assert_true(log_limit_due(&l, 7000, 2));          /* the interval is over */
    assert_true(log_limit_due(&l, 5000, 3));          /* another cause: its own interval */
    assert_true(log_limit_due(&l, 0, 9999));          /* out of range: the last cause */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_lines),    cmocka_unit_test(test_json_lines),
        cmocka_unit_test(test_json_escaping), cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
