/*
 * test_queue_out.c - the pure parts of the outbound queue: the retry
 * schedule of the XMail manual and the slog reader (queue_slog.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "queue/queue_out.h"
#include "queue/queue_slog.h"

/* test_delay_default - -Qt 480 -Qi 16: 480, 510, 541 ... 2916 s, 11.7 h */
static void
test_delay_default(void **state)
{
	long sum = 0;
	int i;

	(void)state;
	assert_int_equal(queue_out_delay(480, 16, 1), 480);
	assert_int_equal(queue_out_delay(480, 16, 2), 510);
	assert_int_equal(queue_out_delay(480, 16, 3), 541);
	assert_int_equal(queue_out_delay(480, 16, 4), 574);
	assert_int_equal(queue_out_delay(480, 16, 31), 2916);
	for (i = 1; i <= 31; i++)
		sum += queue_out_delay(480, 16, i);
	/* The manual: given up after about 11.7 hours with 32 tries. */
	assert_true(sum > 11 * 3600 + 40 * 60 && sum < 11 * 3600 + 45 * 60);
}

/* test_delay_constant - ratio 0 keeps the delay; tries 0 is the first */
static void
test_delay_constant(void **state)
{
	(void)state;
	assert_int_equal(queue_out_delay(60, 0, 1), 60);
	assert_int_equal(queue_out_delay(60, 0, 50), 60);
	assert_int_equal(queue_out_delay(60, 1, 3), 240);
	assert_int_equal(queue_out_delay(60, 16, 0), 60);
	assert_int_equal(queue_out_delay(0, 16, 1), 1);
}

/* test_delay_saturates - huge try counts stop at 30 days */
static void
test_delay_saturates(void **state)
{
	(void)state;
	assert_int_equal(queue_out_delay(480, 1, 1000000), 30L * 86400);
	assert_int_equal(queue_out_delay(2000000000, 1, 2), 30L * 86400);
}

/* test_slog_parse - tries, last try and the last error of an slog */
static void
test_slog_parse(void **state)
{
	static const char slog[] =
	    "[PeekTime] 1700000000 : Tue, 14 Nov 2023 22:13:20 +0000\r\n"
	    "<<\r\n"
	    "ErrCode   = -451\r\n"
	    "ErrString = 4.4.1 connection refused\r\n"
	    ">>\r\n"
	    "[PeekTime] 1700000600 : Tue, 14 Nov 2023 22:23:20 +0000\r\n"
	    "<<\r\n"
	    "ErrCode   = -450\r\n"
	    "ErrString = 4.2.0 later\r\n"
	    "SMAIL SMTP-Send MX = \"mx\" SMTP = \"d\" From = \"a\" To = \"b\""
	    " Failed !\r\n"
	    "SMTP-Error = \"450 4.2.0 Mailbox busy\"\r\n"
	    "SMTP-Server = \"mx.example [192.0.2.1]:25\"\r\n"
	    "C: RCPT TO:<b@d>\r\n"
	    "S: 450 4.2.0 Mailbox busy\r\n"
	    ">>\r\n";
	struct queue_slog_info si;

	(void)state;
	queue_slog_parse(slog, sizeof(slog) - 1, &si);
	assert_int_equal(si.tries, 2);
	assert_int_equal((long long)si.last_try, 1700000600LL);
	assert_string_equal(si.last_error, "450 4.2.0 Mailbox busy");
	assert_string_equal(si.last_server, "mx.example [192.0.2.1]:25");

	/* Only the first block: ErrString stands in for SMTP-Error. */
	queue_slog_parse(slog, strstr(slog, "[PeekTime] 1700000600") - slog,
	    &si);
	assert_int_equal(si.tries, 1);
	assert_string_equal(si.last_error, "4.4.1 connection refused");
	assert_string_equal(si.last_server, "");

	/* Garbage and an empty log. */
	queue_slog_parse("[PeekTime]\n<<\n>>\nxx", 19, &si);
	assert_int_equal(si.tries, 1);
	assert_int_equal((long long)si.last_try, 0);
	queue_slog_parse("", 0, &si);
	assert_int_equal(si.tries, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delay_default),
		cmocka_unit_test(test_delay_constant),
		cmocka_unit_test(test_delay_saturates),
		cmocka_unit_test(test_slog_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
