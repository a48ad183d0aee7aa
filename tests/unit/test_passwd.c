/*
 * test_passwd.c - XMCrypt encoding and crypt(3) hashes (core/passwd.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "core/buf.h"
#include "core/passwd.h"

#define TEST_BUF_MAX	4096

/* sha512-crypt of "test", salt "saltsalt" (openssl passwd -6) */
#define SHA512_TEST \
	"$6$saltsalt$JcVDtuB6d1BHhCd5RPBh8g8xX/1CbY8EU2PN0MTaj2/" \
	"Mypw4P./C6dN4j0HALhzBDTocyW1Jm.gYaTPjFGCV40"

/* XMAIL-FACTS section 2 worked examples, plus the empty password. */
static const struct {
	const char	*plain;
	const char	*enc;
} xmcrypt_cases[] = {
	{ "test", "11001611" },
	{ "password", "15041616120a1701" },
	{ "xmail", "1d08040c09" },
	{ "", "" },
	{ "e", "00" },			/* 'e' is the key itself */
	{ "\x7f", "1a" },
	{ "\x80\xff", "e59a" },		/* bytes above 127 */
	{ "caf\xc3\xa9", "060403a6cc" },	/* UTF-8 "café" */
};

/* Stored values that xmcrypt_decode must refuse. */
static const struct {
	const char	*name;
	const char	*enc;
} xmcrypt_bad[] = {
	{ "odd length", "110" },
	{ "single digit", "1" },
	{ "non-hex", "1g" },
	{ "space", "11 0" },
	{ "sign", "+1" },
	{ "decodes to NUL", "65" },
	{ "NUL in the middle", "116511" },
	{ "upper-case NUL", "1165" },
};

/* test_xmcrypt_encode - the worked examples encode exactly */
static void
test_xmcrypt_encode(void **state)
{
	struct buf b;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(xmcrypt_cases); i++) {
		buf_init(&b, TEST_BUF_MAX);
		assert_int_equal(xmcrypt_encode(xmcrypt_cases[i].plain, &b), 0);
		assert_string_equal(b.data, xmcrypt_cases[i].enc);
		buf_clear(&b);
	}
}

/* test_xmcrypt_decode - the worked examples decode, lower and upper case */
static void
test_xmcrypt_decode(void **state)
{
	char upper[64];
	struct buf b;
	size_t i, j;

	(void)state;
	for (i = 0; i < nitems(xmcrypt_cases); i++) {
		buf_init(&b, TEST_BUF_MAX);
		assert_int_equal(xmcrypt_decode(xmcrypt_cases[i].enc, &b), 0);
		assert_string_equal(b.data, xmcrypt_cases[i].plain);
		buf_clear(&b);

		for (j = 0; xmcrypt_cases[i].enc[j] != '\0'; j++)
			upper[j] = (char)(xmcrypt_cases[i].enc[j] >= 'a' ?
			    xmcrypt_cases[i].enc[j] - 'a' + 'A' :
			    xmcrypt_cases[i].enc[j]);
		upper[j] = '\0';
		buf_init(&b, TEST_BUF_MAX);
		assert_int_equal(xmcrypt_decode(upper, &b), 0);
		assert_string_equal(b.data, xmcrypt_cases[i].plain);
		buf_clear(&b);
	}
}

/* test_xmcrypt_decode_bad - malformed values fail and leave out unchanged */
static void
test_xmcrypt_decode_bad(void **state)
{
	struct buf b;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(xmcrypt_bad); i++) {
		buf_init(&b, TEST_BUF_MAX);
		assert_int_equal(buf_puts(&b, "keep"), 0);
		if (xmcrypt_decode(xmcrypt_bad[i].enc, &b) != -1)
			fail_msg("%s: accepted", xmcrypt_bad[i].name);
		assert_string_equal(b.data, "keep");
		assert_int_equal(b.len, 4);
		buf_clear(&b);
	}
}

/* test_xmcrypt_round_trip - every non-NUL byte value, and long input */
static void
test_xmcrypt_round_trip(void **state)
{
	char plain[300];
	struct buf enc, dec;
	size_t i;

	(void)state;
	for (i = 0; i < 255; i++)
		plain[i] = (char)(i + 1);
	plain[255] = '\0';
	buf_init(&enc, TEST_BUF_MAX);
	buf_init(&dec, TEST_BUF_MAX);
	assert_int_equal(xmcrypt_encode(plain, &enc), 0);
	assert_int_equal(enc.len, 510);
	assert_int_equal(xmcrypt_decode(enc.data, &dec), 0);
	assert_int_equal(dec.len, 255);
	assert_memory_equal(dec.data, plain, 255);
	assert_true(passwd_verify(plain, enc.data));
	buf_clear(&enc);
	buf_clear(&dec);
}

/* test_xmcrypt_limit - a buffer limit fails cleanly, content unchanged */
static void
test_xmcrypt_limit(void **state)
{
	char plain[200];
	struct buf b;

	(void)state;
	memset(plain, 'x', sizeof(plain) - 1);
	plain[sizeof(plain) - 1] = '\0';
	buf_init(&b, 100);
	assert_int_equal(buf_puts(&b, "ab"), 0);
	assert_int_equal(xmcrypt_encode(plain, &b), -1);
	assert_string_equal(b.data, "ab");
	assert_int_equal(xmcrypt_decode("1d08040c09", &b), 0);
	assert_string_equal(b.data, "abxmail");
	buf_clear(&b);
}

/* Hash methods and the prefix each must produce. */
static const struct {
	enum passwd_hash	 kind;
	const char		*prefix;
} hash_cases[] = {
	{ PASSWD_YESCRYPT, "$y$" },
	{ PASSWD_SHA512, "$6$" },
};

/* test_passwd_hash - prefix, salt is random, right/wrong password */
static void
test_passwd_hash(void **state)
{
	struct buf h1, h2;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(hash_cases); i++) {
		buf_init(&h1, TEST_BUF_MAX);
		buf_init(&h2, TEST_BUF_MAX);
		assert_int_equal(passwd_hash("s3cret", hash_cases[i].kind,
		    &h1), 0);
		assert_int_equal(passwd_hash("s3cret", hash_cases[i].kind,
		    &h2), 0);
		assert_int_equal(strncmp(h1.data, hash_cases[i].prefix, 3), 0);
		assert_string_not_equal(h1.data, h2.data);
		assert_true(passwd_is_hash(h1.data));
		assert_true(passwd_verify("s3cret", h1.data));
		assert_true(passwd_verify("s3cret", h2.data));
		assert_false(passwd_verify("s3cret ", h1.data));
		assert_false(passwd_verify("S3cret", h1.data));
		assert_false(passwd_verify("", h1.data));
		buf_clear(&h1);
		buf_clear(&h2);
	}
}

/* test_passwd_hash_high_bytes - non-ASCII passwords hash and verify */
static void
test_passwd_hash_high_bytes(void **state)
{
	struct buf h;

	(void)state;
	buf_init(&h, TEST_BUF_MAX);
	assert_int_equal(passwd_hash("caf\xc3\xa9\xff", PASSWD_SHA512, &h), 0);
	assert_true(passwd_verify("caf\xc3\xa9\xff", h.data));
	assert_false(passwd_verify("cafe\xff", h.data));
	buf_clear(&h);
}

/* passwd_verify cases on fixed stored values. */
static const struct {
	const char	*plain;
	const char	*stored;
	bool		 match;
} verify_cases[] = {
	{ "test", "11001611", true },
	{ "Test", "11001611", false },
	{ "tes", "11001611", false },
	{ "testt", "11001611", false },
	{ "password", "15041616120A1701", true },
	{ "xmail", "1d08040c09", true },
	{ "", "", true },
	{ "x", "", false },
	{ "test", "1100161", false },		/* odd length */
	{ "test", "1100161z", false },		/* non-hex */
	{ "", "65", false },			/* decodes to NUL */
	{ "test", "$", false },			/* garbage hashes */
	{ "test", "$y$", false },
	{ "test", "$6$", false },
	{ "test", "$6$salt$", false },
	{ "test", "$1$", false },
	{ "test", "$garbage$xx", false },
	{ "test", "*0", false },
	{ "test", "not xmcrypt at all", false },
	/* known answer */
	{ "test", SHA512_TEST, true },
	{ "tesT", SHA512_TEST, false },
	{ "test", SHA512_TEST "x", false },
	/* truncated hash must not match */
	{ "test", "$6$saltsalt$JcVDtuB6d1BHhCd5RPBh8g8xX/1CbY8EU2PN0MTaj2/",
	    false },
};

/* test_passwd_verify - table of stored values */
static void
test_passwd_verify(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < nitems(verify_cases); i++) {
		if (passwd_verify(verify_cases[i].plain,
		    verify_cases[i].stored) != verify_cases[i].match)
			fail_msg("case %zu: \"%s\" vs \"%s\": expected %d", i,
			    verify_cases[i].plain, verify_cases[i].stored,
			    verify_cases[i].match);
	}
	assert_false(passwd_verify(NULL, "11001611"));
	assert_false(passwd_verify("test", NULL));
}

/* test_passwd_is_hash - only '$' values are hashes */
static void
test_passwd_is_hash(void **state)
{
	(void)state;
	assert_true(passwd_is_hash("$y$j9T$abc"));
	assert_true(passwd_is_hash("$6$abc$def"));
	assert_false(passwd_is_hash("11001611"));
	assert_false(passwd_is_hash(""));
	assert_false(passwd_is_hash(NULL));
}

/* main - run the group */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xmcrypt_encode),
		cmocka_unit_test(test_xmcrypt_decode),
		cmocka_unit_test(test_xmcrypt_decode_bad),
		cmocka_unit_test(test_xmcrypt_round_trip),
		cmocka_unit_test(test_xmcrypt_limit),
		cmocka_unit_test(test_passwd_hash),
		cmocka_unit_test(test_passwd_hash_high_bytes),
		cmocka_unit_test(test_passwd_verify),
		cmocka_unit_test(test_passwd_is_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
