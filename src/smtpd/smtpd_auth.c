/*
 * smtpd_auth.c - SMTP AUTH (RFC 4954): the PLAIN (RFC 4616), LOGIN and
 * CRAM-MD5 (RFC 2195) exchanges, the credential check on a worker
 * (store_smtp_auth), and a growing delay before each failure reply from
 * the same client address.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "config/config.h"
#include "core/base64.h"
#include "core/ev.h"
#include "core/log.h"
#include "core/work.h"
#include "smtpd/smtpd_int.h"
#include "store/store_auth.h"

#define AUTH_BUILTIN		"PLAIN LOGIN CRAM-MD5"
#define AUTH_SECRET_MAX		512	/* longest password or digest */
#define AUTH_FAIL_SLOTS		1024	/* remembered client addresses */
#define AUTH_FAIL_FORGET	900	/* seconds until failures expire */
#define AUTH_FAIL_MAX_SHIFT	4	/* the delay stops doubling at 16x */
#define AUTH_FAIL_DELAY_MS	1000	/* SMTP-AuthFailDelay default */

/* Recent failures of one client address (a small lossy table). */
struct auth_fail {
	char	 ip[64];
	unsigned n;
	time_t	 last;
};

static struct auth_fail	 fail_tab[AUTH_FAIL_SLOTS];
static pthread_mutex_t	 fail_mu = PTHREAD_MUTEX_INITIALIZER;

/* fail_note - count one failure of ip; returns failures so far */
static unsigned
fail_note(const char *ip)
{
	unsigned h = 2166136261u, n;
	struct auth_fail *f;
	time_t now = time(NULL);
	const char *p;

	for (p = ip; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	pthread_mutex_lock(&fail_mu);
	f = &fail_tab[h % AUTH_FAIL_SLOTS];
	if (strcmp(f->ip, ip) != 0 || now - f->last > AUTH_FAIL_FORGET) {
		snprintf(f->ip, sizeof(f->ip), "%s", ip);
		f->n = 0;
	}
	f->last = now;
	n = ++f->n;
	pthread_mutex_unlock(&fail_mu);
	return n;
}

/* list_has - `name` is a word of the list (separators: space, comma) */
static bool
list_has(const char *list, const char *name)
{
	size_t n = strlen(name), w;

	while (*list != '\0') {
		list += strspn(list, " ,");
		w = strcspn(list, " ,");
		if (w == n && w > 0 && strncasecmp(list, name, n) == 0)
			return true;
		list += w;
	}
	return false;
}

/* all_mechs - every mechanism the server knows, TLS or not */
static void
all_mechs(struct smtpd_session *s, char *out, size_t size)
{
	store_smtp_ext_mechs(s->cfg, out, size);
	if (*out == '\0')
		snprintf(out, size, "%s", AUTH_BUILTIN);
}

/* smtpd_auth_mechs - mechanisms to offer now */
void
smtpd_auth_mechs(struct smtpd_session *s, char *out, size_t size)
{
	const char *clear = config_var(s->cfg, "SmtpNoTLSAuths");
	char all[256], *w, *save = NULL;
	size_t len = 0;

	all_mechs(s, all, sizeof(all));
	if (conn_is_tls(s->conn)) {
		snprintf(out, size, "%s", all);
		return;
	}
	*out = '\0';
	if (clear == NULL)
		return;
	for (w = strtok_r(all, " ", &save); w != NULL;
	    w = strtok_r(NULL, " ", &save)) {
		if (!list_has(clear, w) || len + strlen(w) + 2 > size)
			continue;
		len += (size_t)snprintf(out + len, size - len, "%s%s",
		    len > 0 ? " " : "", w);
	}
}

/* smtpd_auth_reset - forget the identity and any exchange */
void
smtpd_auth_reset(struct smtpd_session *s)
{
	s->authed = false;
	s->perms = 0;
	s->auth_user[0] = '\0';
	OPENSSL_cleanse(&s->sasl, sizeof(s->sasl));
	s->sasl.step = SMTPD_SASL_NONE;
}

/* A credential check on a worker. */
struct auth_job {
	struct ev_loop		*loop;
	uint64_t		 conn;
	struct config		*cfg;
	int			 timeout;
	char			 mech[32];
	char			 user[STORE_ADDR_MAX + 1];
	char			 pass[AUTH_SECRET_MAX + 1];
	char			 chall[320];
	char			 digest[AUTH_SECRET_MAX + 1];
	bool			 cram;
	enum store_auth_result	 rc;
	unsigned		 perms;
	char			 canon[STORE_ADDR_MAX + 1];
};

/* auth_work - worker: store_smtp_auth */
static void
auth_work(void *arg)
{
	struct auth_job *j = arg;
	struct store_smtp_auth a = {
		.mech = j->mech,
		.user = j->user,
		.pass = j->cram ? NULL : j->pass,
		.chall = j->cram ? j->chall : NULL,
		.digest = j->cram ? j->digest : NULL,
	};

	j->rc = store_smtp_auth(j->cfg, &a, j->timeout, &j->perms, j->canon,
	    sizeof(j->canon));
}

/* auth_fail_reply - the delayed 535 */
static void
auth_fail_reply(struct conn *c)
{
	struct smtpd_session *s = conn_data(c);

	smtpd_reply(s, 535, "5.7.8 Authentication credentials invalid");
	conn_resume(c);
}

/* auth_done_ok - authenticated */
static void
auth_done_ok(struct smtpd_session *s, const struct auth_job *j)
{
	char perms[16];

	s->authed = true;
	s->perms = j->perms;
	snprintf(s->auth_user, sizeof(s->auth_user), "%s", j->canon);
	if (s->perms & STORE_PERM_NOSIZE)
		s->max_size = SMTPD_HARD_MAX;
	store_perms_format(s->perms, perms, sizeof(perms));
	log_info("%s: peer=%s authenticated as %s (%s, perms %s)",
	    s->opts->name, conn_peer_ip(s->conn), s->auth_user, j->mech,
	    perms);
	smtpd_reply(s, 235, "2.7.0 Authentication successful");
}

/* auth_done - loop: reply, at once or after the failure delay */
static void
auth_done(void *arg)
{
	struct auth_job *j = arg;
	struct conn *c = conn_find(j->loop, j->conn);
	struct smtpd_session *s = c != NULL ? conn_data(c) : NULL;
	long delay;
	unsigned n;

	if (s == NULL)
		goto out;
	s->sasl.step = SMTPD_SASL_NONE;
	if (j->rc == STORE_AUTH_OK) {
		auth_done_ok(s, j);
	} else if (j->rc == STORE_AUTH_TEMPFAIL) {
		smtpd_reply(s, 454, "4.7.0 Temporary authentication failure");
	} else {
		n = fail_note(conn_peer_ip(c));
		delay = config_var_long(s->cfg, "SMTP-AuthFailDelay",
		    AUTH_FAIL_DELAY_MS);
		if (delay > 60000)
			delay = 60000;
		delay <<= (n - 1 < AUTH_FAIL_MAX_SHIFT ? n - 1 :
		    AUTH_FAIL_MAX_SHIFT);
		/* store_smtp_auth logged the user, mechanism and reason. */
		log_info("%s: peer=%s AUTH failure %u from this address,"
		    " reply delayed %ld ms", s->opts->name, conn_peer_ip(c), n,
		    delay);
		if (delay > 0 && conn_timer(c, (int)delay,
		    auth_fail_reply) == 0)
			goto out;	/* stays paused until the timer */
		auth_fail_reply(c);
		goto out;
	}
	conn_resume(c);
out:
	config_release(j->cfg);
	OPENSSL_cleanse(j, sizeof(*j));
	free(j);
}

/* auth_check - submit the decoded credentials */
static void
auth_check(struct smtpd_session *s, const char *user, const char *secret,
    bool cram)
{
	struct auth_job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		goto fail;
	j->loop = conn_loop(s->conn);
	j->conn = conn_id(s->conn);
	j->timeout = s->opts->ext_timeout;
	j->cram = cram;
	snprintf(j->mech, sizeof(j->mech), "%s", s->sasl.mech);
	snprintf(j->user, sizeof(j->user), "%s", user);
	snprintf(cram ? j->digest : j->pass, AUTH_SECRET_MAX + 1, "%s",
	    secret);
	snprintf(j->chall, sizeof(j->chall), "%s", s->ts);
	j->cfg = config_acquire();
	s->sasl.step = SMTPD_SASL_CHECK;
	conn_pause(s->conn);
	if (work_submit(j->loop, auth_work, auth_done, j) == 0)
		return;
	config_release(j->cfg);
	conn_resume(s->conn);
fail:
	free(j);
	s->sasl.step = SMTPD_SASL_NONE;
	smtpd_reply(s, 454, "4.7.0 Temporary authentication failure");
}

/*
 * sasl_decode - base64 text into out as a C string (NUL octets kept in
 * *len for PLAIN).  "=" is the empty response (RFC 4954 4).  Replies and
 * returns -1 on bad input.
 */
static int
sasl_decode(struct smtpd_session *s, const char *text, char *out,
    size_t size, size_t *len)
{
	long n;

	if (strcmp(text, "=") == 0) {
		n = 0;
	} else {
		n = base64_decode(text, strlen(text), (unsigned char *)out,
		    size - 1);
	}
	if (n < 0) {
		s->sasl.step = SMTPD_SASL_NONE;
		smtpd_reply(s, 501, "5.5.2 Invalid base64 data");
		return -1;
	}
	out[n] = '\0';
	if (len != NULL)
		*len = (size_t)n;
	else if (strlen(out) != (size_t)n)
		goto bad;		/* NUL inside a name or password */
	return 0;
bad:
	s->sasl.step = SMTPD_SASL_NONE;
	smtpd_reply(s, 501, "5.5.2 Invalid characters in response");
	return -1;
}

/* sasl_plain - "authzid NUL authcid NUL passwd" (RFC 4616 2) */
static void
sasl_plain(struct smtpd_session *s, const char *resp)
{
	char raw[3 * AUTH_SECRET_MAX];
	const char *authz, *user, *pass, *end;
	size_t len;

	if (sasl_decode(s, resp, raw, sizeof(raw), &len) == -1)
		return;
	end = raw + len;
	authz = raw;
	user = memchr(authz, '\0', len);
	pass = user != NULL ? memchr(user + 1, '\0',
	    (size_t)(end - user - 1)) : NULL;
	if (user == NULL || pass == NULL || ++user == pass ||
	    memchr(pass + 1, '\0', (size_t)(end - pass - 1)) != NULL) {
		s->sasl.step = SMTPD_SASL_NONE;
		smtpd_reply(s, 501, "5.5.2 Malformed PLAIN response");
		goto out;
	}
	pass++;
	/* Acting for another identity (authzid) is not supported. */
	if (*authz != '\0' && strcmp(authz, user) != 0) {
		s->sasl.step = SMTPD_SASL_NONE;
		smtpd_reply(s, 535, "5.7.8 Authorization identity refused");
		goto out;
	}
	auth_check(s, user, pass, false);
out:
	OPENSSL_cleanse(raw, sizeof(raw));
}

/* sasl_cram - "user hexdigest" (RFC 2195) */
static void
sasl_cram(struct smtpd_session *s, const char *resp)
{
	char raw[2 * AUTH_SECRET_MAX], *sp;

	if (sasl_decode(s, resp, raw, sizeof(raw), NULL) == -1)
		return;
	sp = strrchr(raw, ' ');
	if (sp == NULL || sp == raw || sp[1] == '\0') {
		s->sasl.step = SMTPD_SASL_NONE;
		smtpd_reply(s, 501, "5.5.2 Malformed CRAM-MD5 response");
		return;
	}
	*sp = '\0';
	auth_check(s, raw, sp + 1, true);
}

/* sasl_login_user - LOGIN user name, then ask for the password */
static void
sasl_login_user(struct smtpd_session *s, const char *resp)
{
	if (sasl_decode(s, resp, s->sasl.user, sizeof(s->sasl.user),
	    NULL) == -1)
		return;
	s->sasl.step = SMTPD_SASL_LOGIN_PASS;
	conn_printf(s->conn, "334 UGFzc3dvcmQ6\r\n");
}

/* sasl_login_pass - LOGIN password */
static void
sasl_login_pass(struct smtpd_session *s, const char *resp)
{
	char pass[AUTH_SECRET_MAX + 1];

	if (sasl_decode(s, resp, pass, sizeof(pass), NULL) == -1)
		return;
	auth_check(s, s->sasl.user, pass, false);
	OPENSSL_cleanse(pass, sizeof(pass));
}

/* smtpd_auth_line - one client response of the exchange */
void
smtpd_auth_line(struct smtpd_session *s, char *line, size_t len)
{
	(void)len;
	if (strcmp(line, "*") == 0) {
		s->sasl.step = SMTPD_SASL_NONE;
		smtpd_reply(s, 501, "5.0.0 Authentication cancelled");
		return;
	}
	switch (s->sasl.step) {
	case SMTPD_SASL_PLAIN:
		sasl_plain(s, line);
		break;
	case SMTPD_SASL_LOGIN_USER:
		sasl_login_user(s, line);
		break;
	case SMTPD_SASL_LOGIN_PASS:
		sasl_login_pass(s, line);
		break;
	case SMTPD_SASL_CRAM:
		sasl_cram(s, line);
		break;
	default:
		break;
	}
}

/* auth_refuse_state - AUTH at the wrong time; true when refused */
static bool
auth_refuse_state(struct smtpd_session *s)
{
	if (s->authed)
		smtpd_reply(s, 503, "5.5.1 Already authenticated");
	else if (s->state == SMTPD_S_INIT || !s->esmtp)
		smtpd_reply(s, 503, "5.5.1 Send EHLO first");
	else if (s->state != SMTPD_S_HELO)
		smtpd_reply(s, 503, "5.5.1 AUTH not allowed during a mail"
		    " transaction");
	else
		return false;
	return true;
}

/* smtpd_cmd_auth - AUTH mechanism [initial-response] */
void
smtpd_cmd_auth(void *sess, char *arg)
{
	struct smtpd_session *s = sess;
	char offered[256], all[256], *resp;

	if (auth_refuse_state(s))
		return;
	resp = strchr(arg, ' ');
	if (resp != NULL) {
		*resp++ = '\0';
		resp += strspn(resp, " ");
	}
	smtpd_auth_mechs(s, offered, sizeof(offered));
	all_mechs(s, all, sizeof(all));
	if (!list_has(offered, arg)) {
		if (list_has(all, arg) && !conn_is_tls(s->conn))
			smtpd_reply(s, 538, "5.7.11 Encryption required for"
			    " requested authentication mechanism");
		else
			smtpd_reply(s, 504, "5.5.4 Unrecognized"
			    " authentication type");
		return;
	}
	snprintf(s->sasl.mech, sizeof(s->sasl.mech), "%s", arg);
	if (strcasecmp(arg, "PLAIN") == 0) {
		s->sasl.step = SMTPD_SASL_PLAIN;
		if (resp != NULL && *resp != '\0')
			sasl_plain(s, resp);
		else
			conn_printf(s->conn, "334 \r\n");
	} else if (strcasecmp(arg, "LOGIN") == 0) {
		s->sasl.step = SMTPD_SASL_LOGIN_USER;
		if (resp != NULL && *resp != '\0')
			sasl_login_user(s, resp);
		else
			conn_printf(s->conn, "334 VXNlcm5hbWU6\r\n");
	} else if (strcasecmp(arg, "CRAM-MD5") == 0 && resp != NULL &&
	    *resp != '\0') {
		smtpd_reply(s, 501, "5.5.4 CRAM-MD5 takes no initial"
		    " response");
	} else if (strcasecmp(arg, "CRAM-MD5") == 0) {
		struct buf b;

		buf_init(&b, 512);
		if (base64_encode(s->ts, strlen(s->ts), &b) == -1 ||
		    buf_putc(&b, '\0') == -1) {
			buf_clear(&b);
			smtpd_reply(s, 454, "4.7.0 Temporary authentication"
			    " failure");
			return;
		}
		s->sasl.step = SMTPD_SASL_CRAM;
		conn_printf(s->conn, "334 %s\r\n", b.data);
		buf_clear(&b);
	} else {
		/* An smtpextauth.tab name with no known exchange. */
		smtpd_reply(s, 504, "5.5.4 Unrecognized authentication type");
	}
}
