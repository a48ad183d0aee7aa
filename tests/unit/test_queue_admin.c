/*
 * test_queue_admin.c - operator actions on the spool (queue/queue_admin.c):
 * listing with states, tries and last errors, lookups, delete, freeze and
 * thaw on disk (docs/QUEUE.md T6), the request file and the matcher.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "queue/queue.h"
#include "queue/queue_admin.h"
#include "queue/queue_slog.h"
#include "testutil.h"

#define SPLIT	3
#define INFO	"[192.0.2.1]:4711;[198.51.100.2]:25;" \
		"Mon, 1 Jan 2024 10:00:00 +0000"
#define DATA	"Subject: hi\r\n\r\nbody\r\n"

/* Two failed tries: the second block has an SMTP error and a server. */
#define SLOG2	"[PeekTime] 1700000000 : Tue, 14 Nov 2023 22:13:20 +0000\r\n" \
		"<<\r\nErrCode   = -1\r\n" \
		"ErrString = connection refused\r\n>>\r\n" \
		"[PeekTime] 1700000480 : Tue, 14 Nov 2023 22:21:20 +0000\r\n" \
		"<<\r\nErrCode   = -2\r\nErrString = temporary failure\r\n" \
		"SMTP-Error = \"451 4.3.0 try again later\"\r\n" \
		"SMTP-Server = \"mx1.remote.test\"\r\n>>\r\n"

#define MAXE	16

/* What a list callback collected. */
struct got {
	struct queue_admin_entry	e[MAXE];
	int				n;
	int				stop_after;	/* 0: never */
};

/* collect_cb - keep each entry; stop when asked */
static int
collect_cb(const struct queue_admin_entry *e, void *arg)
{
	struct got *g = arg;

	assert_true(g->n < MAXE);
	g->e[g->n++] = *e;
	return g->stop_after > 0 && g->n >= g->stop_after ? -1 : 0;
}

/* find_to - the collected entry for a recipient, or NULL */
static const struct queue_admin_entry *
find_to(const struct got *g, const char *to)
{
	int i;

	for (i = 0; i < g->n; i++)
		if (strcmp(g->e[i].to, to) == 0)
			return &g->e[i];
	return NULL;
}

/* submit - spool one message for `rcpt` from `from` ("" = null sender) */
static struct queue_ref
submit(void **state, const char *from, const char *rcpt)
{
	char mf[400], rt[400];
	const char *rcpts[1] = { rt };
	struct queue_env env = {
		.info = INFO, .smtp_domain = "mx.example.org", .msgid = "S1A",
		.mail_from = mf, .rcpts = rcpts, .nrcpts = 1,
	};
	struct queue_ref ref;

	(void)snprintf(mf, sizeof(mf), "MAIL FROM:<%s>", from);
	(void)snprintf(rt, sizeof(rt), "RCPT TO:<%s>", rcpt);
	assert_int_equal(queue_submit(*state, SPLIT, &env, DATA,
	    sizeof(DATA) - 1, &ref), 0);
	return ref;
}

/* exists - does the spool file of r exist in dir? */
static bool
exists(void **state, const struct queue_ref *r, const char *dir)
{
	char path[PATH_MAX];

	assert_int_equal(queue_path(*state, r, dir, path, sizeof(path)), 0);
	return fs_exists(path);
}

/* put_slog - write slog/<name> of r */
static void
put_slog(void **state, const struct queue_ref *r, const char *text)
{
	assert_int_equal(queue_slog_append(*state, r, text, strlen(text)), 0);
}

/* list - every entry matching pattern */
static long
list(void **state, const char *pattern, struct got *g)
{
	memset(g, 0, sizeof(*g));
	return queue_admin_list(*state, SPLIT, pattern, collect_cb, g);
}

/*
 * setup_three - a ready message, a deferred one with two tries and an
 * error, a frozen one with one try.
 */
static void
setup_three(void **state, struct queue_ref *r)
{
	r[0] = submit(state, "alice@example.com", "bob@remote.test");
	r[1] = submit(state, "", "carol@other.example");
	r[2] = submit(state, "alice@example.com", "dave@remote.test");
	put_slog(state, &r[1], SLOG2);
	assert_int_equal(queue_move(*state, &r[1], "mess", "rsnd"), 0);
	put_slog(state, &r[2], "[PeekTime] 1700000000 : x\r\n<<\r\n"
	    "ErrCode   = -5\r\nErrString = no route\r\n>>\r\n");
	assert_int_equal(queue_move(*state, &r[2], "mess", "froz"), 0);
}

/* test_list_states - state, size, tries and last error of each file */
static void
test_list_states(void **state)
{
	const struct queue_admin_entry *e;
	struct queue_ref r[3];
	struct got g;

	assert_int_equal(list(state, NULL, &g), 0);
	setup_three(state, r);
	assert_int_equal(list(state, NULL, &g), 3);
	assert_int_equal(g.n, 3);

	assert_non_null(e = find_to(&g, "bob@remote.test"));
	assert_int_equal(e->state, QUEUE_ADMIN_READY);
	assert_string_equal(e->ref.name, r[0].name);
	assert_int_equal(e->ref.l1, r[0].l1);
	assert_int_equal(e->ref.l2, r[0].l2);
	assert_string_equal(e->from, "alice@example.com");
	assert_string_equal(e->msgid, "S1A");
	assert_true(e->size > sizeof(DATA));
	assert_true(e->mtime > 0);
	assert_int_equal(e->slog.tries, 0);
	assert_string_equal(e->slog.last_error, "");

	assert_non_null(e = find_to(&g, "carol@other.example"));
	assert_int_equal(e->state, QUEUE_ADMIN_DEFERRED);
	assert_string_equal(e->from, "");
	assert_int_equal(e->slog.tries, 2);
	assert_int_equal(e->slog.last_try, 1700000480);
	assert_string_equal(e->slog.last_error, "451 4.3.0 try again later");
	assert_string_equal(e->slog.last_server, "mx1.remote.test");

	assert_non_null(e = find_to(&g, "dave@remote.test"));
	assert_int_equal(e->state, QUEUE_ADMIN_FROZEN);
	assert_int_equal(e->slog.tries, 1);
	assert_string_equal(e->slog.last_error, "no route");
}

/* One pattern and the recipients it must select from setup_three. */
static const struct {
	const char	*pattern;
	int		 count;
	const char	*one;		/* a recipient that must be in */
} pattern_cases[] = {
	{ NULL, 3, "carol@other.example" },
	{ "", 3, "bob@remote.test" },
	{ "*", 3, "dave@remote.test" },
	{ "remote.test", 2, "bob@remote.test" },
	{ "REMOTE.TEST", 2, "dave@remote.test" },
	{ "*.example", 1, "carol@other.example" },
	{ "other.*", 1, "carol@other.example" },
	{ "dave@*", 1, "dave@remote.test" },
	{ "*@remote.test", 2, "bob@remote.test" },
	{ "Carol@Other.Example", 1, "carol@other.example" },
	{ "test", 0, NULL },
	{ "bob", 0, NULL },
	{ "nobody@remote.test", 0, NULL },
};

/* test_list_pattern - domain and address wildcards select recipients */
static void
test_list_pattern(void **state)
{
	struct queue_ref r[3];
	struct got g;
	size_t i;

	setup_three(state, r);
	for (i = 0; i < nitems(pattern_cases); i++) {
		assert_int_equal(list(state, pattern_cases[i].pattern, &g),
		    pattern_cases[i].count);
		assert_int_equal(g.n, pattern_cases[i].count);
		if (pattern_cases[i].one != NULL)
			assert_non_null(find_to(&g, pattern_cases[i].one));
	}
}

/* test_list_stop_malformed - cb -1 stops; a bad file still shows */
static void
test_list_stop_malformed(void **state)
{
	struct queue_ref r[3], bad = { .l1 = 1, .l2 = 2, .name = "garbage" };
	char path[PATH_MAX];
	struct got g;
	int i, empty = 0;

	setup_three(state, r);
	memset(&g, 0, sizeof(g));
	g.stop_after = 1;
	assert_int_equal(queue_admin_list(*state, SPLIT, NULL, collect_cb,
	    &g), 1);

	assert_int_equal(fs_mkdir_p(tu_path(state, "spool/1/2/mess"), 0700),
	    0);
	assert_int_equal(queue_path(*state, &bad, "mess", path, sizeof(path)),
	    0);
	assert_int_equal(fs_write_new(path, "not a spool file\r\n", 18, 0600),
	    0);
	assert_int_equal(list(state, NULL, &g), 4);
	for (i = 0; i < g.n; i++) {
		if (strcmp(g.e[i].ref.name, "garbage") != 0)
			continue;
		empty++;
		assert_int_equal(g.e[i].state, QUEUE_ADMIN_READY);
		assert_int_equal(g.e[i].size, 18);
		assert_string_equal(g.e[i].to, "");
		assert_string_equal(g.e[i].from, "");
	}
	assert_int_equal(empty, 1);
	/* A pattern never selects a file without a recipient. */
	assert_int_equal(list(state, "remote.test", &g), 2);
}

/* test_find - by name and by L1/L2/name; anything else is ENOENT */
static void
test_find(void **state)
{
	struct queue_ref r[3], got;
	enum queue_admin_state st;
	char id[300];
	size_t i;
	static const char *const bad[] = {
		"", ".", "..", "../x", "nosuchfile", "1/2", "a/b/c",
		"99999/0/x", "1//x", "/x",
	};

	setup_three(state, r);
	for (i = 0; i < 3; i++) {
		memset(&got, 0, sizeof(got));
		assert_int_equal(queue_admin_find(*state, SPLIT, r[i].name,
		    &got, &st), 0);
		assert_string_equal(got.name, r[i].name);
		assert_int_equal(got.l1, r[i].l1);
		assert_int_equal(got.l2, r[i].l2);
		assert_int_equal(st, i == 0 ? QUEUE_ADMIN_READY :
		    i == 1 ? QUEUE_ADMIN_DEFERRED : QUEUE_ADMIN_FROZEN);

		(void)snprintf(id, sizeof(id), "%d/%d/%s", r[i].l1, r[i].l2,
		    r[i].name);
		memset(&got, 0, sizeof(got));
		assert_int_equal(queue_admin_find(*state, SPLIT, id, &got,
		    &st), 0);
		assert_string_equal(got.name, r[i].name);

		/* The right name in the wrong bucket is not found. */
		(void)snprintf(id, sizeof(id), "%d/%d/%s", (r[i].l1 + 1) %
		    SPLIT, r[i].l2, r[i].name);
		errno = 0;
		assert_int_equal(queue_admin_find(*state, SPLIT, id, &got,
		    &st), -1);
		assert_int_equal(errno, ENOENT);
	}
	for (i = 0; i < nitems(bad); i++) {
		errno = 0;
		assert_int_equal(queue_admin_find(*state, SPLIT, bad[i], &got,
		    &st), -1);
		assert_int_equal(errno, ENOENT);
	}
	/* slog/ holds the name too, but it is not a message. */
	assert_int_equal(queue_remove(*state, &r[1], "rsnd"), 0);
	assert_int_equal(queue_admin_find(*state, SPLIT, r[1].name, &got,
	    &st), -1);

	/* After a crash during a move the later directory wins (T8). */
	assert_int_equal(queue_path(*state, &r[2], "mess", id, sizeof(id)), 0);
	assert_int_equal(fs_write_new(id, "x", 1, 0600), 0);
	assert_int_equal(queue_admin_find(*state, SPLIT, r[2].name, &got,
	    &st), 0);
	assert_int_equal(st, QUEUE_ADMIN_FROZEN);
}

/* test_delete - spool file and slog go, in every state */
static void
test_delete(void **state)
{
	struct queue_ref r[3];
	struct got g;

	setup_three(state, r);
	assert_true(exists(state, &r[1], "slog"));
	assert_int_equal(queue_admin_delete(*state, &r[1],
	    QUEUE_ADMIN_DEFERRED), 0);
	assert_false(exists(state, &r[1], "rsnd"));
	assert_false(exists(state, &r[1], "slog"));

	assert_int_equal(queue_admin_delete(*state, &r[2],
	    QUEUE_ADMIN_FROZEN), 0);
	assert_false(exists(state, &r[2], "froz"));
	assert_false(exists(state, &r[2], "slog"));

	assert_int_equal(queue_admin_delete(*state, &r[0],
	    QUEUE_ADMIN_READY), 0);
	assert_false(exists(state, &r[0], "mess"));
	assert_int_equal(list(state, NULL, &g), 0);

	/* Gone already (delivered meanwhile): -1 with ENOENT. */
	errno = 0;
	assert_int_equal(queue_admin_delete(*state, &r[0],
	    QUEUE_ADMIN_READY), -1);
	assert_int_equal(errno, ENOENT);
}

/* test_freeze_thaw - froz/ keeps the slog; thaw resets it into mess/ */
static void
test_freeze_thaw(void **state)
{
	const struct queue_admin_entry *e;
	struct queue_ref r[3];
	struct got g;

	setup_three(state, r);
	assert_int_equal(queue_admin_freeze(*state, &r[1],
	    QUEUE_ADMIN_DEFERRED), 0);
	assert_false(exists(state, &r[1], "rsnd"));
	assert_true(exists(state, &r[1], "froz"));
	assert_true(exists(state, &r[1], "slog"));
	assert_int_equal(queue_admin_freeze(*state, &r[0],
	    QUEUE_ADMIN_READY), 0);
	assert_false(exists(state, &r[0], "mess"));
	assert_true(exists(state, &r[0], "froz"));
	errno = 0;
	assert_int_equal(queue_admin_freeze(*state, &r[0],
	    QUEUE_ADMIN_FROZEN), -1);
	assert_int_equal(errno, EINVAL);

	assert_int_equal(list(state, NULL, &g), 3);
	assert_non_null(e = find_to(&g, "carol@other.example"));
	assert_int_equal(e->state, QUEUE_ADMIN_FROZEN);
	assert_int_equal(e->slog.tries, 2);

	assert_int_equal(queue_admin_thaw(*state, &r[1]), 0);
	assert_false(exists(state, &r[1], "froz"));
	assert_true(exists(state, &r[1], "mess"));
	assert_false(exists(state, &r[1], "slog"));
	assert_int_equal(queue_admin_thaw(*state, &r[0]), 0);
	assert_true(exists(state, &r[0], "mess"));

	assert_int_equal(list(state, NULL, &g), 3);
	assert_non_null(e = find_to(&g, "carol@other.example"));
	assert_int_equal(e->state, QUEUE_ADMIN_READY);
	assert_int_equal(e->slog.tries, 0);
	assert_string_equal(e->slog.last_error, "");
	assert_non_null(e = find_to(&g, "bob@remote.test"));
	assert_int_equal(e->state, QUEUE_ADMIN_READY);

	/* Not frozen any more. */
	assert_int_equal(queue_admin_thaw(*state, &r[1]), -1);
	assert_true(exists(state, &r[1], "mess"));
}

/* Requests seen by the take callback. */
struct reqs {
	char	verb[8][16];
	char	pattern[8][600];
	int	n;
};

/* req_cb - record one request */
static void
req_cb(const char *verb, const char *pattern, void *arg)
{
	struct reqs *q = arg;

	assert_true(q->n < 8);
	assert_true(str_copy(q->verb[q->n], verb, sizeof(q->verb[0])));
	assert_true(str_copy(q->pattern[q->n], pattern,
	    sizeof(q->pattern[0])));
	q->n++;
}

/* test_requests - two requests come back in order; the file is gone */
static void
test_requests(void **state)
{
	char big[600];
	struct stat st;
	struct reqs q;

	memset(&q, 0, sizeof(q));
	assert_int_equal(queue_admin_take_requests(*state, req_cb, &q), 0);
	assert_int_equal(q.n, 0);

	assert_int_equal(queue_admin_request(*state, "flush",
	    "*.example.org"), 0);
	assert_int_equal(stat(tu_path(state, ".queue-requests"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(queue_admin_request(*state, "rescan", ""), 0);
	assert_int_equal(queue_admin_request(*state, "flush", NULL), 0);

	assert_int_equal(queue_admin_take_requests(*state, req_cb, &q), 3);
	assert_int_equal(q.n, 3);
	assert_string_equal(q.verb[0], "flush");
	assert_string_equal(q.pattern[0], "*.example.org");
	assert_string_equal(q.verb[1], "rescan");
	assert_string_equal(q.pattern[1], "");
	assert_string_equal(q.verb[2], "flush");
	assert_string_equal(q.pattern[2], "");
	assert_false(fs_exists(tu_path(state, ".queue-requests")));
	assert_false(fs_exists(tu_path(state, ".queue-requests.work")));
	assert_int_equal(queue_admin_take_requests(*state, req_cb, &q), 0);
	assert_int_equal(q.n, 3);

	/* Refused requests write nothing. */
	errno = 0;
	assert_int_equal(queue_admin_request(*state, "delete", "x"), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(queue_admin_request(*state, "flush", "a\nrescan"),
	    -1);
	assert_int_equal(queue_admin_request(*state, "flush", "a\tb"), -1);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(queue_admin_request(*state, "flush", big), -1);
	assert_false(fs_exists(tu_path(state, ".queue-requests")));
}

/* test_requests_malformed - bad lines are skipped, good ones kept */
static void
test_requests_malformed(void **state)
{
	static const char text[] =
	    "bogus\n"
	    "flush\tremote.test\r\n"
	    "\n"
	    "rescan\textra\n"
	    "flush\ta\tb\n"
	    "FLUSH\tx\n"
	    "flush\tbad\x01pattern\n"
	    "rescan\r\n"
	    "flush\tlast-without-newline";
	static const char left[] = "flush\tleft.over\n";
	struct reqs q;

	memset(&q, 0, sizeof(q));
	assert_int_equal(fs_write_new(tu_path(state, ".queue-requests"), text,
	    sizeof(text) - 1, 0600), 0);
	assert_int_equal(queue_admin_take_requests(*state, req_cb, &q), 3);
	assert_string_equal(q.verb[0], "flush");
	assert_string_equal(q.pattern[0], "remote.test");
	assert_string_equal(q.verb[1], "rescan");
	assert_string_equal(q.verb[2], "flush");
	assert_string_equal(q.pattern[2], "last-without-newline");
	assert_false(fs_exists(tu_path(state, ".queue-requests")));

	/* A work file left by a crash is run first, then the new file. */
	memset(&q, 0, sizeof(q));
	assert_int_equal(fs_write_new(tu_path(state, ".queue-requests.work"),
	    left, sizeof(left) - 1, 0600), 0);
	assert_int_equal(queue_admin_request(*state, "rescan", NULL), 0);
	assert_int_equal(queue_admin_take_requests(*state, req_cb, &q), 2);
	assert_string_equal(q.pattern[0], "left.over");
	assert_string_equal(q.verb[1], "rescan");
	assert_false(fs_exists(tu_path(state, ".queue-requests.work")));

	/* An unreadable work file is dropped, never followed or kept. */
	memset(&q, 0, sizeof(q));
	assert_int_equal(symlink("/etc/passwd",
	    tu_path(state, ".queue-requests.work")), 0);
	assert_int_equal(queue_admin_request(*state, "rescan", NULL), 0);
	assert_int_equal(queue_admin_take_requests(*state, req_cb, &q), -1);
	assert_false(fs_exists(tu_path(state, ".queue-requests.work")));
	assert_int_equal(queue_admin_take_requests(*state, req_cb, &q), 1);
	assert_string_equal(q.verb[0], "rescan");
}

/* test_match - the pattern rules, table-driven */
static void
test_match(void **state)
{
	static const struct {
		const char	*pattern;
		const char	*to;
		bool		 want;
	} cases[] = {
		{ NULL, "bob@example.org", true },
		{ "", "bob@example.org", true },
		{ "*", "bob@example.org", true },
		{ "*", "", true },
		{ "example.org", "bob@example.org", true },
		{ "EXAMPLE.org", "Bob@Example.ORG", true },
		{ "example.org", "bob@sub.example.org", false },
		{ "*.example.org", "bob@sub.example.org", true },
		{ "*.example.org", "bob@example.org", false },
		{ "*example.org", "bob@example.org", true },
		{ "exa?ple.org", "bob@example.org", true },
		{ "example", "bob@example.org", false },
		{ "bob", "bob@example.org", false },
		{ "bob@*", "bob@example.org", true },
		{ "bob@*", "bobby@example.org", false },
		{ "*@example.org", "bob@example.org", true },
		{ "*@example.org", "bob@example.net", false },
		{ "b?b@example.org", "BOB@EXAMPLE.ORG", true },
		{ "bob@example.org", "bob@example.org", true },
		{ "bob@example.org", "alice@example.org", false },
		{ "example.org", "", false },
		{ "example.org", "\"a@b\"@example.org", true },
		{ "*@*", "", false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		if (queue_admin_match(cases[i].pattern, cases[i].to) !=
		    cases[i].want)
			fail_msg("case %zu: \"%s\" vs \"%s\" should be %d", i,
			    cases[i].pattern != NULL ? cases[i].pattern :
			    "(null)", cases[i].to, cases[i].want);
	}
}

#define T(f)	cmocka_unit_test_setup_teardown(f, tu_setup, tu_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_list_states),
		T(test_list_pattern),
		T(test_list_stop_malformed),
		T(test_find),
		T(test_delete),
		T(test_freeze_thaw),
		T(test_requests),
		T(test_requests_malformed),
		T(test_match),
	};

	log_init("test_queue_admin", false, false, false);
	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
