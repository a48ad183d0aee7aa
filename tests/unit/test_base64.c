/* test_base64.c - RFC 4648 base64 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "core/base64.h"

/* RFC 4648 section 10 test vectors. */
static const struct {
	const char	*plain;
	const char	*enc;
} vectors[] = {
	{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

/* test_vectors - encode and decode both ways */
static void
test_vectors(void **state)
{
	unsigned char out[16];
	struct buf b;
	size_t i;
	long n;

	(void)state;
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		buf_init(&b, 64);
		assert_int_equal(base64_encode(vectors[i].plain,
		    strlen(vectors[i].plain), &b), 0);
		assert_int_equal(b.len, strlen(vectors[i].enc));
		assert_memory_equal(b.data, vectors[i].enc, b.len);
		buf_clear(&b);
		n = base64_decode(vectors[i].enc, strlen(vectors[i].enc), out,
		    sizeof(out));
		assert_int_equal(n, (long)strlen(vectors[i].plain));
		assert_memory_equal(out, vectors[i].plain, (size_t)n);
	}
}

/* test_sasl_plain - NUL octets survive (RFC 4616 PLAIN) */
static void
test_sasl_plain(void **state)
{
	static const char enc[] = "AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=";
	static const char want[] = "\0alice@example.test\0secret";
	unsigned char out[64];
	long n;

	(void)state;
	n = base64_decode(enc, strlen(enc), out, sizeof(out));
	assert_int_equal(n, (long)sizeof(want) - 1);
	assert_memory_equal(out, want, sizeof(want) - 1);
}

/* test_bad - everything a strict decoder refuses */
static void
test_bad(void **state)
{
	static const char *const bad[] = {
		"Zg=", "Zg", "Z===", "====", "Zm9v=", "Zg==Zg==", "Zh==",
		"Zm9=", "Zm 9", "Zm9\n", "@@@@", "Zm9v\r\n", "=Zm9",
		"Zg=a",
	};
	unsigned char out[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(base64_decode(bad[i], strlen(bad[i]), out,
		    sizeof(out)), -1);
}

/* test_too_small - the output must fit */
static void
test_too_small(void **state)
{
	unsigned char out[5];

	(void)state;
	assert_int_equal(base64_decode("Zm9vYmFy", 8, out, sizeof(out)), -1);
	assert_int_equal(base64_decode("Zm9vYg==", 8, out, 4), 4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_sasl_plain),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_too_small),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
