/*
 * fuzz_smtpc_hoplist.c - libFuzzer target for the relay list and gateway
 * option parsers (smtpfwd.tab, DefaultSMTPGateways, SmtpGwConfig).
 *
 * The input as a C string goes to smtpc_hoplist_parse and to
 * smtpc_hopopts_parse.  Checked: the hop count is -1 or 1..max, every
 * host is a terminated string without brackets, ports are 0..65535,
 * NeedTLS is 0..2, a bind address has port 0, a failed option parse
 * leaves its input unchanged, and a failure always says why.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "smtpc/smtpc_route.h"

int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* LLVMFuzzerInitialize - keep warnings about unknown options quiet */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz_smtpc_hoplist", false, false, false);
	return 0;
}

/* fuzz_opts_ok - abort on options no parse may produce */
static void
fuzz_opts_ok(const struct smtpc_hopopts *o)
{
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;

	if (o->need_tls < 0 || o->need_tls > 2)
		abort();
	if (!o->has_bind)
		return;
	sin = (const struct sockaddr_in *)&o->bind;
	sin6 = (const struct sockaddr_in6 *)&o->bind;
	if (o->bind.ss_family == AF_INET) {
		if (o->bindlen != sizeof(*sin) || sin->sin_port != 0)
			abort();
	} else if (o->bind.ss_family == AF_INET6) {
		if (o->bindlen != sizeof(*sin6) || sin6->sin6_port != 0)
			abort();
	} else
		abort();
}

/* fuzz_list - the input as a relay list; max from its first byte */
static void
fuzz_list(const char *s, size_t max)
{
	struct smtpc_hop hops[SMTPC_ROUTE_HOPS_MAX];
	char err[256];
	int n, i;

	memset(err, 0, sizeof(err));
	n = smtpc_hoplist_parse(s, NULL, hops, max, err, sizeof(err));
	if (n == -1) {
		if (err[0] == '\0')
			abort();
		return;
	}
	if (n < 1 || (size_t)n > max)
		abort();
	for (i = 0; i < n; i++) {
		if (memchr(hops[i].host, '\0', sizeof(hops[i].host)) == NULL ||
		    hops[i].host[0] == '\0' ||
		    strpbrk(hops[i].host, "[];,/ ") != NULL)
			abort();
		if (hops[i].port < 0 || hops[i].port > 65535)
			abort();
		fuzz_opts_ok(&hops[i].opts);
	}
}

/* fuzz_opts - the input as an option list */
static void
fuzz_opts(const char *s)
{
	struct smtpc_hopopts o, before;
	char err[256];

	memset(&o, 0, sizeof(o));
	o.need_tls = 1;
	memcpy(&before, &o, sizeof(before));
	memset(err, 0, sizeof(err));
	if (smtpc_hopopts_parse(s, &o, err, sizeof(err)) == -1) {
		if (err[0] == '\0' || memcmp(&o, &before, sizeof(o)) != 0)
			abort();
		return;
	}
	fuzz_opts_ok(&o);
}

/* LLVMFuzzerTestOneInput - one input through both parsers */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	size_t max;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	max = size > 0 ? (size_t)data[0] % (SMTPC_ROUTE_HOPS_MAX + 1) : 0;
	fuzz_list(s, max == 0 ? SMTPC_ROUTE_HOPS_MAX : max);
	fuzz_opts(s);
	free(s);
	return 0;
}
