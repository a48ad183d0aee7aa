/*
 * fingerd.c - finger service.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "core/ev.h"
#include "core/log.h"
#include "core/work.h"
#include "fingerd/fingerd.h"
#include "store/store.h"

struct fingerd_session {
	struct config	*cfg;		/* snapshot taken at connect */
};

/* A user.tab read on a worker thread. */
struct fingerd_job {
	struct ev_loop		*loop;
	uint64_t		 conn;		/* session id */
	struct config		*cfg;		/* own reference */
	struct store_user	 user;
	char			 realname[256];
	char			 homepage[256];
};

static bool	fingerd_log;

/* fingerd_fail - log a refused query and close */
static void
fingerd_fail(struct conn *c, const char *reply, const char *why)
{
	log_info("finger: peer=%s refused: %s", conn_peer_ip(c), why);
	if (reply != NULL)
		conn_printf(c, "%s\r\n", reply);
	conn_close(c);
}

/* fingerd_open - new connection: access check */
static void
fingerd_open(struct conn *c)
{
	struct fingerd_session *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		conn_close(c);
		return;
	}
	s->cfg = config_acquire();
	conn_set_data(c, s);
	if (!config_ipmap_allow(s->cfg, CFG_FINGER_IPMAP, conn_peer(c))) {
		fingerd_fail(c, NULL, "finger.ipmap.tab denies this address");
		return;
	}
	log_debug("finger: connection from %s", conn_peer_ip(c));
}

/* copy_clean - copy a user.tab value, printable ASCII/UTF-8 only */
static void
copy_clean(char *dst, size_t size, const char *src)
{
	size_t i;

	if (src == NULL)
		src = "??";
	for (i = 0; i + 1 < size && src[i] != '\0'; i++)
		dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ?
		    '?' : src[i];
	dst[i] = '\0';
}

/* fingerd_lookup_work - worker: read user.tab */
static void
fingerd_lookup_work(void *arg)
{
	struct fingerd_job *j = arg;
	struct tab t = { 0 };

	if (store_user_vars_load(config_mailroot(j->cfg), &j->user, &t) ==
	    -1)
		log_warn("finger: cannot read user.tab of %s@%s",
		    j->user.name, j->user.domain);
	copy_clean(j->realname, sizeof(j->realname),
	    store_var(&t, "RealName"));
	copy_clean(j->homepage, sizeof(j->homepage),
	    store_var(&t, "HomePage"));
	tab_free(&t);
}

/* fingerd_lookup_done - loop: send the answer */
static void
fingerd_lookup_done(void *arg)
{
	struct fingerd_job *j = arg;
	struct conn *c = conn_find(j->loop, j->conn);

	if (c != NULL) {
		conn_printf(c, "EMail       : %s@%s\r\n"
		    "  Real Name : %s\r\n"
		    "  Home Page : %s\r\n",
		    j->user.name, j->user.domain, j->realname, j->homepage);
		conn_close(c);
	}
	config_release(j->cfg);
	free(j);
}

/* fingerd_svc_log - the -Fl service log record */
static void
fingerd_svc_log(struct conn *c, const char *domain, const char *query)
{
	char when[32];
	const char *f[5];
	time_t now = time(NULL);
	struct tm tm;

	if (!fingerd_log)
		return;
	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	f[0] = conn_local_ip(c);
	f[1] = domain;
	f[2] = conn_peer_ip(c);
	f[3] = when;
	f[4] = query;
	(void)log_svc("finger", f, 5);
}

/* query_ok - only printable ASCII in a query */
static bool
query_ok(const char *q, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)q[i] < 0x20 || (unsigned char)q[i] > 0x7e)
			return false;
	return true;
}

/* fingerd_line - the query */
static void
fingerd_line(struct conn *c, char *q, size_t len)
{
	struct fingerd_session *s = conn_data(c);
	struct fingerd_job *j;
	const char *domain;
	char *at;

	if (!query_ok(q, len)) {
		fingerd_fail(c, "Invalid query", "bad characters in query");
		return;
	}
	/* RFC 1288 2.3: an optional "/W" (verbose) token. */
	if (q[0] == '/') {
		if (q[1] != 'W' && q[1] != 'w') {
			fingerd_fail(c, "Invalid query", "bad switch");
			return;
		}
		q += 2;
	}
	while (*q == ' ')
		q++;
	fingerd_svc_log(c, "", q);
	if (*q == '\0') {
		fingerd_fail(c, "Empty query not allowed", "user listing");
		return;
	}
	at = strchr(q, '@');
	if (at != NULL && strchr(at + 1, '@') != NULL) {
		fingerd_fail(c, "Indirect query not allowed", "forwarding");
		return;
	}
	if (at != NULL) {
		*at = '\0';
		domain = at + 1;
	} else {
		domain = config_var(s->cfg, "POP3Domain");
		if (domain == NULL || *domain == '\0')
			domain = config_var(s->cfg, "RootDomain");
		if (domain == NULL)
			domain = "";
	}
	j = calloc(1, sizeof(*j));
	if (j == NULL) {
		conn_close(c);
		return;
	}
	if (store_user_find(s->cfg, q, domain, &j->user) == -1) {
		log_info("finger: peer=%s query=%s@%s: no such user",
		    conn_peer_ip(c), q, domain);
		free(j);
		conn_close(c);
		return;
	}
	j->loop = conn_loop(c);
	j->conn = conn_id(c);
	j->cfg = config_acquire();
	conn_pause(c);
	if (work_submit(j->loop, fingerd_lookup_work, fingerd_lookup_done,
	    j) == -1) {
		config_release(j->cfg);
		free(j);
		conn_close(c);
	}
}

/* fingerd_event - timeout, too long, closed */
static void
fingerd_event(struct conn *c, enum conn_event ev)
{
	if (ev == CONN_LINE_TOO_LONG)
		fingerd_fail(c, "Invalid query", "query line too long");
}

/* fingerd_free - session end */
static void
fingerd_free(struct conn *c)
{
	struct fingerd_session *s = conn_data(c);

	if (s != NULL) {
		config_release(s->cfg);
		free(s);
	}
}

static const struct conn_handler fingerd_handler = {
	.on_open = fingerd_open,
	.on_line = fingerd_line,
	.on_event = fingerd_event,
	.on_free = fingerd_free,
};

/* fingerd_service_init - describe the service */
void
fingerd_service_init(struct ev_service *svc, int timeout, int max_sessions,
    bool log)
{
	svc->name = "finger";
	svc->handler = &fingerd_handler;
	svc->line_max = FINGERD_LINE_MAX;
	svc->timeout = timeout;
	svc->max_sessions = max_sessions;
	svc->busy_reply = NULL;
	fingerd_log = log;
}
