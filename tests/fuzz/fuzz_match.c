/*
 * fuzz_match.c - libFuzzer target for wildcards and IP filters.
 *
 * The input is cut at NUL bytes into strings.  match_wild is checked against
 * a simple dynamic-programming matcher; ipfilter_parse, ipfilter_match,
 * ipaddr_parse and ipaddr_str get the strings as addresses, and a parsed
 * filter must match its own network address.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/match.h"

#define FUZZ_DP_MAX	256	/* longest strings checked against the DP */

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_lower - ASCII lower case */
static unsigned char
fuzz_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* fuzz_wild_dp - reference matcher: dp[j] = pattern[0..i) matches s[0..j) */
static bool
fuzz_wild_dp(const char *p, const char *s)
{
	static bool dp[FUZZ_DP_MAX + 1], nx[FUZZ_DP_MAX + 1];
	size_t i, j, pl = strlen(p), sl = strlen(s);

	memset(dp, 0, sizeof(dp));
	dp[0] = true;
	for (i = 0; i < pl; i++) {
		memset(nx, 0, sizeof(nx));
		for (j = 0; j <= sl; j++) {
			if (p[i] == '*')
				nx[j] = dp[j] || (j > 0 && nx[j - 1]);
			else if (j > 0 && (p[i] == '?' ||
			    fuzz_lower((unsigned char)p[i]) ==
			    fuzz_lower((unsigned char)s[j - 1])))
				nx[j] = dp[j - 1];
		}
		memcpy(dp, nx, sizeof(dp));
	}
	return dp[sl];
}

/* fuzz_wild - match_wild against the reference */
static void
fuzz_wild(const char *p, const char *s)
{
	bool r = match_wild(p, s);

	if (strlen(p) <= FUZZ_DP_MAX && strlen(s) <= FUZZ_DP_MAX &&
	    r != fuzz_wild_dp(p, s))
		abort();
	if (match_has_wild(p) != (strpbrk(p, "*?") != NULL))
		abort();
}

/* fuzz_self - a filter must contain its own network address */
static void
fuzz_self(const struct ipfilter *f)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)&ss;
	size_t i;

	memset(&ss, 0, sizeof(ss));
	for (i = 0; i < sizeof(f->addr); i++)
		if ((f->addr[i] & (uint8_t)~f->mask[i]) != 0)
			abort();
	if (f->family == AF_INET) {
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, f->addr, 4);
	} else if (f->family == AF_INET6) {
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, f->addr, 16);
	} else {
		abort();
	}
	/* A v6 filter on ::ffff:0:0/<96 holds mapped addresses, seen as v4. */
	if (f->family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
		return;
	if (!ipfilter_match(f, (struct sockaddr *)&ss))
		abort();
}

/* fuzz_ip - filters and addresses from the strings */
static void
fuzz_ip(const char *a, const char *b, const char *peer)
{
	struct sockaddr_storage ss;
	struct ipfilter f;
	char text[INET6_ADDRSTRLEN];
	socklen_t len;
	bool parsed;

	parsed = ipfilter_parse(a, b, &f) == 0;
	if (parsed)
		fuzz_self(&f);
	if (ipaddr_parse(peer, 25, &ss, &len) == 0) {
		(void)ipaddr_str((struct sockaddr *)&ss, text, sizeof(text));
		(void)ipaddr_str((struct sockaddr *)&ss, text, 5);
		if (parsed)
			(void)ipfilter_match(&f, (struct sockaddr *)&ss);
	}
}

/* LLVMFuzzerTestOneInput - one input through every entry point */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *str[3] = { "", "", "" };
	char *copy, *p, *end;
	size_t n = 0;

	if ((copy = malloc(size + 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	end = copy + size;
	for (p = copy; n < 3 && p <= end; p += strlen(p) + 1)
		str[n++] = p;
	fuzz_wild(str[0], str[1]);
	fuzz_ip(str[0], n > 1 ? str[1] : NULL, str[2]);
	fuzz_ip(str[1], str[2], str[0]);
	free(copy);
	return 0;
}
