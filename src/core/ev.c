/*
 * ev.c - loop threads, SO_REUSEPORT listeners and line-oriented connections
 * on top of libevent.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "core/buf.h"
#include "core/ev.h"
#include "core/line.h"
#include "core/log.h"
#include "core/match.h"
#include "core/tls.h"

#define EV_LOOPS_MAX		256
#define EV_LISTENERS_MAX	64	/* per loop */
#define EV_CONN_BUCKETS		1024
#define EV_IP_MAX		64
#define EV_LINGER_SECONDS	2	/* drain input after our last byte */
#define EV_ACCEPT_PAUSE_MS	500	/* listeners rest after EMFILE */
#define EV_RAW_HIGHWAT		(256 * 1024)	/* read-ahead in raw mode */
#define EV_OUT_HIGHWAT		(1024 * 1024)	/* queued output that stops
						   input processing */

/* TLS state of a connection. */
enum conn_tls {
	CONN_TLS_NONE,		/* clear text */
	CONN_TLS_FLUSH,		/* STARTTLS: sending the last clear reply */
	CONN_TLS_HANDSHAKE,	/* handshake running */
	CONN_TLS_UP,		/* encrypted */
};

struct conn {
	uint64_t		 id;
	struct ev_loop		*loop;
	struct ev_service	*svc;
	evutil_socket_t		 fd;
	struct bufferevent	*bev;
	struct event		*defer;		/* deferred processing/free */
	struct event		*timer;		/* conn_timer, created lazily */
	void			(*timer_fn)(struct conn *);
	SSL			*ssl;		/* NULL in clear text */
	enum conn_tls		 tls;
	void			*data;		/* protocol session */
	struct buf		 line;		/* current line */
	bool			 paused;
	bool			 raw;		/* deliver bytes, not lines */
	bool			 skipping;	/* dropping an overlong line */
	bool			 closing;
	bool			 in_cb;		/* inside a handler callback */
	bool			 freed;		/* free requested in a callback */
	bool			 lingering;	/* output done, draining input */
	bool			 out_full;	/* waiting for output to drain */
	bool			 connecting;	/* conn_connect in progress */
	bool			 client;	/* TLS client side */
	int			 connect_timeout; /* seconds */
	int			 err;		/* errno of the last failure */
	struct sockaddr_storage	 peer, local;
	char			 peer_ip[EV_IP_MAX], local_ip[EV_IP_MAX];
	struct conn		*hnext;		/* id hash chain */
	struct conn		*prev, *next;	/* all conns of the loop */
};

struct ev_loop {
	int			 index;
	pthread_t		 thread;
	bool			 started;
	struct event_base	*base;
	struct evconnlistener	*lst[EV_LISTENERS_MAX];
	int			 nlst;
	struct event		*resume;	/* re-enable after EMFILE */
	struct conn		*conns;		/* list of live conns */
	struct conn		*hash[EV_CONN_BUCKETS];
	uint64_t		 next_seq;
};

static struct ev_loop	*loops;
static int		 nloops;
static atomic_int	 total_sessions;
static atomic_bool	 accepting_stopped;

static struct ev_loop	*loop_of(struct event_base *base);
static void	conn_process(struct conn *c);
static void	conn_free(struct conn *c);
static void	conn_tls_switch(struct conn *c);
static void	conn_tls_up(struct conn *c);
static void	conn_tls_log_error(struct conn *c);
static void	conn_bev_setup(struct conn *c);
static void	conn_connected(struct conn *c, short what);
static SSL	*conn_ssl_new(void);
static int	conn_tls_begin(struct conn *c);

/*
 * ev_base_new - an event_base whose timers use the precise monotonic
 * clock: the coarse one (libevent's default on Linux) can lag by a few
 * milliseconds, so a login delay of one second could end early.
 */
static struct event_base *
ev_base_new(void)
{
	struct event_config *ec = event_config_new();
	struct event_base *b;

	if (ec == NULL)
		return NULL;
	(void)event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
	b = event_base_new_with_config(ec);
	event_config_free(ec);
	return b;
}

/* ev_init - create the loops */
int
ev_init(int n)
{
	long cpus;
	int i;

	if (evthread_use_pthreads() == -1) {
		log_error("libevent: no pthreads support");
		return -1;
	}
	if (n <= 0) {
		cpus = sysconf(_SC_NPROCESSORS_ONLN);
		n = cpus > 0 ? (int)cpus : 1;
	}
	if (n > EV_LOOPS_MAX)
		n = EV_LOOPS_MAX;
	loops = calloc((size_t)n, sizeof(*loops));
	if (loops == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		loops[i].index = i;
		loops[i].next_seq = 1;
		loops[i].base = ev_base_new();
		if (loops[i].base == NULL) {
			log_error("libevent: event_base_new failed");
			return -1;
		}
	}
	nloops = n;
	return 0;
}

/* ev_nloops - number of loops */
int
ev_nloops(void)
{
	return nloops;
}

/* ev_loop_at - loop by index */
struct ev_loop *
ev_loop_at(int i)
{
	return &loops[i];
}

/* ev_loop_base - event base of a loop */
struct event_base *
ev_loop_base(struct ev_loop *l)
{
	return l->base;
}

/* conn_hash_slot - bucket of an id */
static struct conn **
conn_hash_slot(struct ev_loop *l, uint64_t id)
{
	return &l->hash[(id ^ (id >> 17)) % EV_CONN_BUCKETS];
}

/* conn_find - live conn by id */
struct conn *
conn_find(struct ev_loop *l, uint64_t id)
{
	struct conn *c;

	for (c = *conn_hash_slot(l, id); c != NULL; c = c->hnext)
		if (c->id == id)
			return c->freed || c->lingering ? NULL : c;
	return NULL;
}

/* conn_link - add to the loop's list and hash */
static void
conn_link(struct conn *c)
{
	struct ev_loop *l = c->loop;
	struct conn **slot = conn_hash_slot(l, c->id);

	c->hnext = *slot;
	*slot = c;
	c->prev = NULL;
	c->next = l->conns;
	if (l->conns != NULL)
		l->conns->prev = c;
	l->conns = c;
}

/* conn_unlink - remove from the loop's list and hash */
static void
conn_unlink(struct conn *c)
{
	struct ev_loop *l = c->loop;
	struct conn **pp;

	for (pp = conn_hash_slot(l, c->id); *pp != NULL; pp = &(*pp)->hnext)
		if (*pp == c) {
			*pp = c->hnext;
			break;
		}
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		l->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
}

/* conn_event - hand an event to the protocol */
static void
conn_event(struct conn *c, enum conn_event ev)
{
	c->in_cb = true;
	if (c->svc->handler->on_event != NULL)
		c->svc->handler->on_event(c, ev);
	c->in_cb = false;
}

/* conn_schedule - run conn_process soon, outside the current callback */
static void
conn_schedule(struct conn *c)
{
	event_active(c->defer, EV_TIMEOUT, 0);
}

/* conn_release - free now, or after the running callback returns */
static void
conn_release(struct conn *c)
{
	c->freed = true;
	if (c->in_cb)
		return;
	conn_free(c);
}

/* conn_linger_read_cb - discard what the peer still sends */
static void
conn_linger_read_cb(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);

	(void)arg;
	evbuffer_drain(in, evbuffer_get_length(in));
}

/* conn_linger_event_cb - peer closed, error or linger timeout */
static void
conn_linger_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return;		/* a late TLS handshake: keep draining */
	conn_free(arg);
}

/*
 * conn_finish - our output is all sent: half-close and drain the input for
 * a moment before closing.  Closing a socket with unread input makes the
 * kernel send RST, which can destroy our last reply before the peer reads
 * it (the "lingering close" of HTTP servers).
 */
static void
conn_finish(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct timeval tv = { EV_LINGER_SECONDS, 0 };

	if (c->lingering)
		return;
	c->lingering = true;
	/* close_notify straight to the socket: our output is all sent. */
	if (c->tls == CONN_TLS_UP && SSL_shutdown(c->ssl) < 0)
		ERR_clear_error();
	if (shutdown(c->fd, SHUT_WR) == -1) {
		conn_free(c);
		return;
	}
	evbuffer_drain(in, evbuffer_get_length(in));
	bufferevent_setcb(c->bev, conn_linger_read_cb, NULL,
	    conn_linger_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
	bufferevent_set_timeouts(c->bev, &tv, NULL);
	bufferevent_enable(c->bev, EV_READ);
}

/* conn_process_raw - offer contiguous input; returns bytes consumed */
static size_t
conn_process_raw(struct conn *c, struct evbuffer *in)
{
	struct evbuffer_iovec v;
	size_t used;

	if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
		return 0;
	c->in_cb = true;
	used = c->svc->handler->on_data(c, v.iov_base, v.iov_len);
	c->in_cb = false;
	if (used > v.iov_len)
		fatalx("%s: on_data consumed %zu of %zu", c->svc->name, used,
		    v.iov_len);
	evbuffer_drain(in, used);
	return used;
}

/* conn_process - deliver buffered lines, honour pause and close */
static void
conn_process(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	enum line_status st;

	if (c->tls == CONN_TLS_FLUSH) {
		conn_tls_switch(c);
		return;
	}
	while (!c->paused && !c->closing && !c->freed &&
	    c->tls != CONN_TLS_HANDSHAKE) {
		/*
		 * A client that pipelines commands without reading the
		 * replies (RETR after RETR) is not served until the output
		 * drains: memory per connection stays bounded.
		 */
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) >
		    EV_OUT_HIGHWAT) {
			c->out_full = true;
			break;
		}
		if (c->skipping) {
			if (line_discard(in) == 0)
				break;
			c->skipping = false;
			continue;
		}
		if (c->raw) {
			if (conn_process_raw(c, in) == 0)
				break;
			continue;
		}
		st = line_read(in, c->svc->line_max, &c->line);
		if (st == LINE_MORE)
			break;
		c->in_cb = true;
		if (st == LINE_TOO_LONG) {
			if (c->svc->handler->on_event != NULL)
				c->svc->handler->on_event(c,
				    CONN_LINE_TOO_LONG);
			else
				conn_close(c);
		} else {
			c->svc->handler->on_line(c, c->line.data,
			    c->line.len);
		}
		c->in_cb = false;
		if (st == LINE_TOO_LONG)
			c->skipping = true;
	}
	if (c->freed) {
		conn_free(c);
		return;
	}
	if (c->closing &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_finish(c);
}

/* conn_defer_cb - deferred processing */
static void
conn_defer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_process(arg);
}

/* conn_read_cb - data arrived */
static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_process(arg);
}

/* conn_write_cb - output drained */
static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	/*
	 * The callback may be a deferred one from an earlier flush: a reply
	 * queued since then must still go out before the close.
	 */
	if (c->tls == CONN_TLS_FLUSH || c->out_full) {
		c->out_full = false;
		conn_schedule(c);
	} else if (c->closing &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_finish(c);
}

/* conn_event_cb - EOF, error, timeout */
static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (c->connecting) {
		conn_connected(c, what);
		return;
	}
	if (what & BEV_EVENT_CONNECTED) {
		conn_tls_up(c);
		return;
	}
	if (what & BEV_EVENT_ERROR)
		c->err = EVUTIL_SOCKET_ERROR();
	if (c->closing) {
		conn_free(c);
		return;
	}
	if (c->tls == CONN_TLS_HANDSHAKE && (what & BEV_EVENT_ERROR))
		conn_tls_log_error(c);
	if (what & BEV_EVENT_TIMEOUT) {
		log_debug("%s: session %llu idle timeout", c->svc->name,
		    (unsigned long long)c->id);
		conn_event(c, CONN_TIMEOUT);
		/* Send the goodbye the handler may have queued, then close. */
		conn_close(c);
		return;
	}
	conn_event(c, (what & BEV_EVENT_EOF) ? CONN_CLOSED : CONN_ERROR);
	conn_release(c);
}

/* conn_free - close the socket and free everything */
static void
conn_free(struct conn *c)
{
	conn_unlink(c);
	c->freed = true;
	if (c->svc->handler->on_free != NULL)
		c->svc->handler->on_free(c);
	bufferevent_free(c->bev);
	if (c->ssl == NULL)
		evutil_closesocket(c->fd);
	event_free(c->defer);
	if (c->timer != NULL)
		event_free(c->timer);
	buf_clear(&c->line);
	atomic_fetch_sub(&c->svc->nsessions, 1);
	atomic_fetch_sub(&total_sessions, 1);
	free(c);
}

/*
 * set_sockopts - -MR/-MS buffer sizes, and TCP_NODELAY: replies leave in
 * one write per loop pass anyway, and with Nagle a TLS greeting written
 * after the session tickets waited for the client's delayed ACK (40 ms
 * per SMTPS/POP3S connection).
 */
static void
set_sockopts(evutil_socket_t fd, const struct ev_service *svc)
{
	int one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (svc->rcvbuf > 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &svc->rcvbuf,
		    sizeof(svc->rcvbuf));
	if (svc->sndbuf > 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &svc->sndbuf,
		    sizeof(svc->sndbuf));
}

/* conn_bev_setup - callbacks, watermarks and timeouts of c->bev */
static void
conn_bev_setup(struct conn *c)
{
	struct timeval tv;

	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb,
	    c);
	/* Stop reading a little above the limit: line_read reports it. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, c->raw ? EV_RAW_HIGHWAT :
	    c->svc->line_max + 64);
	if (c->svc->timeout > 0) {
		tv.tv_sec = c->svc->timeout;
		tv.tv_usec = 0;
		bufferevent_set_timeouts(c->bev, &tv, &tv);
	}
	if (c->ssl != NULL)
		bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_enable(c->bev, c->paused ? EV_WRITE : EV_READ | EV_WRITE);
}

/* accept_cb - a new connection on loop l */
static void
accept_cb(struct evconnlistener *lst, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct ev_service *svc = arg;
	struct ev_loop *l = loop_of(evconnlistener_get_base(lst));
	socklen_t llen;
	struct conn *c;

	if (atomic_fetch_add(&svc->nsessions, 1) >= svc->max_sessions) {
		atomic_fetch_sub(&svc->nsessions, 1);
		if (svc->busy_reply != NULL)
			(void)!write(fd, svc->busy_reply,
			    strlen(svc->busy_reply));
		evutil_closesocket(fd);
		log_warn("%s: session limit %d reached, connection refused",
		    svc->name, svc->max_sessions);
		return;
	}
	atomic_fetch_add(&total_sessions, 1);
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto fail;
	c->loop = l;
	c->svc = svc;
	c->id = ((uint64_t)l->index << 56) | l->next_seq++;
	memcpy(&c->peer, sa, (size_t)salen < sizeof(c->peer) ?
	    (size_t)salen : sizeof(c->peer));
	llen = sizeof(c->local);
	(void)getsockname(fd, (struct sockaddr *)&c->local, &llen);
	ipaddr_str((struct sockaddr *)&c->peer, c->peer_ip,
	    sizeof(c->peer_ip));
	ipaddr_str((struct sockaddr *)&c->local, c->local_ip,
	    sizeof(c->local_ip));
	c->fd = fd;
	buf_init(&c->line, svc->line_max + 1);
	set_sockopts(fd, svc);
	if (svc->tls) {
		c->ssl = conn_ssl_new();
		if (c->ssl == NULL) {
			log_warn("%s: peer=%s no TLS certificate loaded,"
			    " connection closed", svc->name, c->peer_ip);
			free(c);
			goto fail;
		}
		c->bev = bufferevent_openssl_socket_new(l->base, fd, c->ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		c->tls = CONN_TLS_HANDSHAKE;
	} else {
		/* No CLOSE_ON_FREE: STARTTLS keeps the socket. */
		c->bev = bufferevent_socket_new(l->base, fd, 0);
	}
	c->defer = event_new(l->base, -1, 0, conn_defer_cb, c);
	if (c->bev == NULL || c->defer == NULL) {
		if (c->bev != NULL)
			bufferevent_free(c->bev);
		if (c->bev == NULL && c->ssl != NULL)
			SSL_free(c->ssl);
		if (c->bev == NULL || c->ssl == NULL)
			evutil_closesocket(fd);
		if (c->defer != NULL)
			event_free(c->defer);
		free(c);
		atomic_fetch_sub(&svc->nsessions, 1);
		atomic_fetch_sub(&total_sessions, 1);
		return;
	}
	conn_bev_setup(c);
	conn_link(c);
	c->in_cb = true;
	svc->handler->on_open(c);
	c->in_cb = false;
	if (c->freed)
		conn_free(c);
	else if (c->closing)
		conn_schedule(c);
	return;
fail:
	evutil_closesocket(fd);
	atomic_fetch_sub(&svc->nsessions, 1);
	atomic_fetch_sub(&total_sessions, 1);
}

/* loop_of - the loop that owns an event base */
static struct ev_loop *
loop_of(struct event_base *base)
{
	int i;

	for (i = 0; i < nloops; i++)
		if (loops[i].base == base)
			return &loops[i];
	fatalx("event base of no loop");
}

/* resume_cb - listeners of a loop accept again */
static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ev_loop *l = arg;
	int i;

	(void)fd;
	(void)what;
	for (i = 0; i < l->nlst; i++)
		evconnlistener_enable(l->lst[i]);
}

/*
 * accept_error_cb - accept failed.  Out of descriptors (EMFILE, ENFILE,
 * ENOBUFS, ENOMEM) the pending connection stays queued and the listener
 * would fire again at once: the loop's listeners pause for a moment
 * instead of spinning.
 */
static void
accept_error_cb(struct evconnlistener *lst, void *arg)
{
	struct ev_service *svc = arg;
	struct ev_loop *l = loop_of(evconnlistener_get_base(lst));
	struct timeval tv = { 0, EV_ACCEPT_PAUSE_MS * 1000 };
	int e = errno, i;

	log_warn("%s: accept failed: %s", svc->name, strerror(e));
	if (e != EMFILE && e != ENFILE && e != ENOBUFS && e != ENOMEM)
		return;
	for (i = 0; i < l->nlst; i++)
		evconnlistener_disable(l->lst[i]);
	if (l->resume == NULL)
		l->resume = evtimer_new(l->base, resume_cb, l);
	if (l->resume == NULL || evtimer_add(l->resume, &tv) == -1)
		resume_cb(-1, 0, l);
}

/* An address this process listens on, to refuse a second service there. */
struct ev_bound {
	const char		*svc;
	struct sockaddr_storage	 ss;
};

static struct ev_bound	bound[EV_LISTENERS_MAX];
static size_t		nbound;

/* sa_any - the wildcard address of its family? */
static bool
sa_any(const struct sockaddr *sa)
{
	static const struct in6_addr any6 = IN6ADDR_ANY_INIT;

	if (sa->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)sa)->sin6_addr,
		    &any6, sizeof(any6)) == 0;
	return ((const struct sockaddr_in *)sa)->sin_addr.s_addr ==
	    htonl(INADDR_ANY);
}

/*
 * bound_clash - the service already listening where sa would (same
 * family and port, same address or either one the wildcard), or NULL.
 * Services are told apart by name (SMTPS and POP3S have their own).
 * SO_REUSEPORT would let both bind and share the connections silently.
 */
static const char *
bound_clash(const struct sockaddr *sa)
{
	const struct sockaddr *b;
	size_t i;

	for (i = 0; i < nbound; i++) {
		b = (const struct sockaddr *)&bound[i].ss;
		if (b->sa_family != sa->sa_family)
			continue;
		if (sa->sa_family == AF_INET6) {
			const struct sockaddr_in6 *x = (const void *)b;
			const struct sockaddr_in6 *y = (const void *)sa;

			if (x->sin6_port == y->sin6_port && (sa_any(b) ||
			    sa_any(sa) || memcmp(&x->sin6_addr, &y->sin6_addr,
			    sizeof(x->sin6_addr)) == 0))
				return bound[i].svc;
		} else {
			const struct sockaddr_in *x = (const void *)b;
			const struct sockaddr_in *y = (const void *)sa;

			if (x->sin_port == y->sin_port && (sa_any(b) ||
			    sa_any(sa) || x->sin_addr.s_addr ==
			    y->sin_addr.s_addr))
				return bound[i].svc;
		}
	}
	return NULL;
}

/* ev_listen - one REUSEPORT listener per loop */
int
ev_listen(struct ev_service *svc, const struct sockaddr *sa, socklen_t salen)
{
	char ip[EV_IP_MAX];
	const char *other;
	int i, port, saved;
	unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
	    LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_EXEC;

	port = sa->sa_family == AF_INET6 ?
	    ntohs(((const struct sockaddr_in6 *)sa)->sin6_port) :
	    ntohs(((const struct sockaddr_in *)sa)->sin_port);
	ipaddr_str(sa, ip, sizeof(ip));
	other = bound_clash(sa);
	if (other != NULL && strcmp(other, svc->name) == 0) {
		/* The same -xI twice (MAIL_CMD_LINE repeats options). */
		log_debug("%s: %s port %d given twice", svc->name, ip, port);
		return 0;
	}
	if (other != NULL || nbound >= nitems(bound)) {
		errno = EADDRINUSE;
		log_error("%s: cannot listen on %s port %d: %s%s", svc->name,
		    ip, port, other != NULL ? "already used by " :
		    "too many addresses", other != NULL ? other : "");
		return -1;
	}
	if (sa->sa_family == AF_INET6)
		flags |= LEV_OPT_BIND_IPV6ONLY;
	for (i = 0; i < nloops; i++) {
		struct ev_loop *l = &loops[i];
		struct evconnlistener *lst;

		if (l->nlst >= EV_LISTENERS_MAX) {
			errno = ENOSPC;
			log_error("%s: too many listeners", svc->name);
			return -1;
		}
		lst = evconnlistener_new_bind(l->base, accept_cb, svc, flags,
		    128, sa, (int)salen);
		if (lst == NULL) {
			saved = errno;
			log_error("%s: cannot listen on %s port %d: %s",
			    svc->name, ip, port, strerror(saved));
			errno = saved;
			return -1;
		}
		evconnlistener_set_error_cb(lst, accept_error_cb);
		l->lst[l->nlst++] = lst;
	}
	bound[nbound].svc = svc->name;
	memcpy(&bound[nbound++].ss, sa, salen);
	log_info("%s: listening on %s port %d", svc->name, ip, port);
	return 0;
}

/* loop_main - thread body */
static void *
loop_main(void *arg)
{
	struct ev_loop *l = arg;

	event_base_loop(l->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

/* ev_start - start the threads */
int
ev_start(void)
{
	int i, e;

	for (i = 0; i < nloops; i++) {
		e = pthread_create(&loops[i].thread, NULL, loop_main,
		    &loops[i]);
		if (e != 0) {
			log_error("cannot start loop thread: %s", strerror(e));
			return -1;
		}
		loops[i].started = true;
	}
	return 0;
}

/* Cross-thread call carrier. */
struct ev_call {
	void	(*fn)(void *);
	void	*arg;
};

/* ev_call_cb - run a cross-thread call */
static void
ev_call_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ev_call call = *(struct ev_call *)arg;

	(void)fd;
	(void)what;
	free(arg);
	call.fn(call.arg);
}

/* ev_run_in_loop - schedule fn on a loop thread */
int
ev_run_in_loop(struct ev_loop *l, void (*fn)(void *), void *arg)
{
	struct ev_call *call = malloc(sizeof(*call));
	struct timeval zero = { 0, 0 };

	if (call == NULL)
		return -1;
	call->fn = fn;
	call->arg = arg;
	if (event_base_once(l->base, -1, EV_TIMEOUT, ev_call_cb, call,
	    &zero) == -1) {
		free(call);
		return -1;
	}
	return 0;
}

/* close_listeners - on the loop thread: drop its listeners */
static void
close_listeners(void *arg)
{
	struct ev_loop *l = arg;
	int i;

	for (i = 0; i < l->nlst; i++)
		evconnlistener_free(l->lst[i]);
	l->nlst = 0;
}

/* stop_loop - on the loop thread: no more accepts, sessions told */
static void
stop_loop(void *arg)
{
	struct ev_loop *l = arg;
	struct conn *c, *next;

	close_listeners(l);
	for (c = l->conns; c != NULL; c = next) {
		next = c->next;
		if (c->closing || c->freed ||
		    c->svc->handler->on_shutdown == NULL)
			continue;
		c->in_cb = true;
		c->svc->handler->on_shutdown(c);
		c->in_cb = false;
		if (c->closing)
			conn_schedule(c);
	}
}

/* ev_stop_accepting - close every listener */
void
ev_stop_accepting(void)
{
	int i;

	if (atomic_exchange(&accepting_stopped, true))
		return;
	for (i = 0; i < nloops; i++) {
		if (loops[i].started) {
			if (ev_run_in_loop(&loops[i], stop_loop,
			    &loops[i]) == -1)
				log_warn("cannot stop listeners of loop %d", i);
		} else {
			close_listeners(&loops[i]);
		}
	}
}

/* ev_sessions - live connections */
int
ev_sessions(void)
{
	return atomic_load(&total_sessions);
}

/* ev_stop - stop everything */
void
ev_stop(void)
{
	int i;

	for (i = 0; i < nloops; i++)
		if (loops[i].started)
			event_base_loopexit(loops[i].base, NULL);
	for (i = 0; i < nloops; i++) {
		struct ev_loop *l = &loops[i];

		if (l->started)
			pthread_join(l->thread, NULL);
		/* Run calls that were handed over after loopexit. */
		event_base_loop(l->base, EVLOOP_NONBLOCK);
		close_listeners(l);
		while (l->conns != NULL)
			conn_free(l->conns);
		if (l->resume != NULL)
			event_free(l->resume);
		event_base_free(l->base);
	}
	free(loops);
	loops = NULL;
	nloops = 0;
	nbound = 0;
}

/* conn_id - id */
uint64_t
conn_id(const struct conn *c)
{
	return c->id;
}

/* conn_loop - loop */
struct ev_loop *
conn_loop(const struct conn *c)
{
	return c->loop;
}

/* conn_service - service */
struct ev_service *
conn_service(const struct conn *c)
{
	return c->svc;
}

/* conn_set_data - attach session */
void
conn_set_data(struct conn *c, void *data)
{
	c->data = data;
}

/* conn_data - session */
void *
conn_data(const struct conn *c)
{
	return c->data;
}

/* conn_peer - peer address */
const struct sockaddr *
conn_peer(const struct conn *c)
{
	return (const struct sockaddr *)&c->peer;
}

/* conn_local - local address */
const struct sockaddr *
conn_local(const struct conn *c)
{
	return (const struct sockaddr *)&c->local;
}

/* conn_peer_ip - peer address text */
const char *
conn_peer_ip(const struct conn *c)
{
	return c->peer_ip;
}

/* conn_local_ip - local address text */
const char *
conn_local_ip(const struct conn *c)
{
	return c->local_ip;
}

/* sa_port - port of an address */
static int
sa_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

/* conn_peer_port - peer port */
int
conn_peer_port(const struct conn *c)
{
	return sa_port(&c->peer);
}

/* conn_local_port - local port */
int
conn_local_port(const struct conn *c)
{
	return sa_port(&c->local);
}

/* conn_write - queue output */
int
conn_write(struct conn *c, const void *p, size_t n)
{
	if (c->freed || c->lingering)
		return -1;
	return bufferevent_write(c->bev, p, n);
}

/* conn_printf - queue formatted output */
int
conn_printf(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (c->freed || c->lingering)
		return -1;
	va_start(ap, fmt);
	r = evbuffer_add_vprintf(bufferevent_get_output(c->bev), fmt, ap);
	va_end(ap);
	return r < 0 ? -1 : 0;
}

/* conn_set_raw - line or raw mode */
void
conn_set_raw(struct conn *c, bool raw)
{
	if (c->raw == raw)
		return;
	c->raw = raw;
	bufferevent_setwatermark(c->bev, EV_READ, 0, raw ? EV_RAW_HIGHWAT :
	    c->svc->line_max + 64);
	if (!c->in_cb)
		conn_schedule(c);
}

/* conn_pause - stop delivering lines */
void
conn_pause(struct conn *c)
{
	c->paused = true;
	bufferevent_disable(c->bev, EV_READ);
}

/* conn_resume - deliver lines again */
void
conn_resume(struct conn *c)
{
	if (!c->paused || c->closing)
		return;
	c->paused = false;
	if (c->tls != CONN_TLS_FLUSH)
		bufferevent_enable(c->bev, EV_READ);
	conn_schedule(c);
}

/* conn_close - flush and close */
void
conn_close(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
	if (!c->in_cb)
		conn_schedule(c);
}

/* conn_closing - close requested */
bool
conn_closing(const struct conn *c)
{
	return c->closing;
}

/* conn_ssl_new - an SSL object from the current server context */
static SSL *
conn_ssl_new(void)
{
	SSL_CTX *ctx = tls_server_ctx();
	SSL *ssl;

	if (ctx == NULL)
		return NULL;
	ssl = SSL_new(ctx);
	SSL_CTX_free(ctx);
	return ssl;
}

/* conn_starttls - begin the upgrade to TLS as the server */
int
conn_starttls(struct conn *c)
{
	if (c->tls != CONN_TLS_NONE || c->closing || c->freed)
		return -1;
	c->ssl = conn_ssl_new();
	if (c->ssl == NULL)
		return -1;
	return conn_tls_begin(c);
}

/*
 * conn_ip_literal - true when name is an IP address, bare or as an RFC
 * 5321 address literal; the bare address goes to ip
 */
static bool
conn_ip_literal(const char *name, char *ip, size_t size)
{
	unsigned char a[sizeof(struct in6_addr)];
	size_t len = strlen(name);

	if (len >= 2 && name[0] == '[' && name[len - 1] == ']') {
		name++;
		len -= 2;
		if (len > 5 && strncasecmp(name, "IPv6:", 5) == 0) {
			name += 5;
			len -= 5;
		}
	}
	if (len >= size)
		return false;
	memcpy(ip, name, len);
	ip[len] = '\0';
	return inet_pton(AF_INET, ip, a) == 1 ||
	    inet_pton(AF_INET6, ip, a) == 1;
}

/* conn_tls_peer_name - SNI and the name or address to check */
static int
conn_tls_peer_name(SSL *ssl, const char *servername)
{
	char ip[EV_IP_MAX];

	if (servername == NULL || *servername == '\0')
		return 0;
	/* RFC 6066 3: no address in SNI; an address is an IP SAN. */
	if (conn_ip_literal(servername, ip, sizeof(ip)))
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
		    ip) == 1 ? 0 : -1;
	return SSL_set_tlsext_host_name(ssl, servername) == 1 &&
	    SSL_set1_host(ssl, servername) == 1 ? 0 : -1;
}

/* conn_starttls_client - begin the upgrade to TLS as the client */
int
conn_starttls_client(struct conn *c, const char *servername)
{
	return conn_starttls_client_ctx(c, servername, NULL);
}

/* conn_starttls_client_ctx - the same with a given client context */
int
conn_starttls_client_ctx(struct conn *c, const char *servername,
    SSL_CTX *ctx)
{
	SSL_CTX *own = NULL;

	if (c->tls != CONN_TLS_NONE || c->closing || c->freed)
		return -1;
	if (ctx == NULL && (ctx = own = tls_client_ctx()) == NULL)
		return -1;
	c->ssl = SSL_new(ctx);
	SSL_CTX_free(own);
	if (c->ssl == NULL)
		return -1;
	if (conn_tls_peer_name(c->ssl, servername) == -1) {
		ERR_clear_error();
		SSL_free(c->ssl);
		c->ssl = NULL;
		return -1;
	}
	c->client = true;
	return conn_tls_begin(c);
}

/* conn_tls_verified - certificate verification result */
bool
conn_tls_verified(const struct conn *c, const char **why)
{
	long r;

	if (c->tls != CONN_TLS_UP) {
		if (why != NULL)
			*why = "no TLS";
		return false;
	}
	r = SSL_get_verify_result(c->ssl);
	if (why != NULL)
		*why = r == X509_V_OK && SSL_get0_peer_certificate(c->ssl) ==
		    NULL ? "no certificate" : X509_verify_cert_error_string(r);
	return r == X509_V_OK && SSL_get0_peer_certificate(c->ssl) != NULL;
}

/*
 * conn_tls_begin - drop buffered input and wait for the clear reply to
 * be flushed before the handshake (c->ssl is set)
 */
static int
conn_tls_begin(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);

	/* Whatever the client pipelined after the command is dropped. */
	if (evbuffer_get_length(in) > 0)
		log_info("%s: peer=%s %zu octet(s) sent after the TLS command"
		    " discarded", c->svc->name, c->peer_ip,
		    evbuffer_get_length(in));
	evbuffer_drain(in, evbuffer_get_length(in));
	c->skipping = false;
	bufferevent_disable(c->bev, EV_READ);
	c->tls = CONN_TLS_FLUSH;
	/* Nothing may be left to flush (a client): switch from the loop. */
	conn_schedule(c);
	return 0;
}

/*
 * conn_tls_switch - the clear-text reply is sent: replace the socket
 * bufferevent by an OpenSSL one on the same descriptor and start the
 * handshake.  Bytes the kernel still holds are read by OpenSSL as
 * handshake records: injected plaintext makes the handshake fail.
 */
static void
conn_tls_switch(struct conn *c)
{
	struct bufferevent *bev;

	if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
		return;		/* conn_write_cb calls again */
	bev = bufferevent_openssl_socket_new(c->loop->base, c->fd, c->ssl,
	    c->client ? BUFFEREVENT_SSL_CONNECTING : BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		log_warn("%s: peer=%s cannot start TLS", c->svc->name,
		    c->peer_ip);
		SSL_free(c->ssl);
		c->ssl = NULL;
		c->tls = CONN_TLS_NONE;
		conn_release(c);
		return;
	}
	bufferevent_free(c->bev);
	c->bev = bev;
	c->tls = CONN_TLS_HANDSHAKE;
	conn_bev_setup(c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* conn_tls_up - handshake complete */
static void
conn_tls_up(struct conn *c)
{
	char desc[128];

	if (c->tls != CONN_TLS_HANDSHAKE)
		return;
	c->tls = CONN_TLS_UP;
	log_debug("%s: peer=%s TLS %s", c->svc->name, c->peer_ip,
	    conn_tls_desc(c, desc, sizeof(desc)));
	/* A session that is already closing (refused at on_open) is not
	 * told: it may have no session data. */
	if (c->svc->handler->on_tls != NULL && !c->closing) {
		c->in_cb = true;
		c->svc->handler->on_tls(c);
		c->in_cb = false;
	}
	if (c->freed) {
		conn_free(c);
		return;
	}
	conn_schedule(c);
}

/* conn_tls_log_error - why a handshake failed */
static void
conn_tls_log_error(struct conn *c)
{
	unsigned long e = bufferevent_get_openssl_error(c->bev);
	char msg[256];

	if (e == 0) {
		log_info("%s: peer=%s TLS handshake failed: %s", c->svc->name,
		    c->peer_ip, errno != 0 ? strerror(errno) :
		    "connection closed");
		return;
	}
	ERR_error_string_n(e, msg, sizeof(msg));
	log_info("%s: peer=%s TLS handshake failed: %s", c->svc->name,
	    c->peer_ip, msg);
	while (bufferevent_get_openssl_error(c->bev) != 0)
		;
}

/* conn_is_tls - encrypted */
bool
conn_is_tls(const struct conn *c)
{
	return c->tls == CONN_TLS_UP;
}

/* conn_tls_desc - protocol and cipher */
const char *
conn_tls_desc(const struct conn *c, char *buf, size_t size)
{
	if (c->tls != CONN_TLS_UP)
		snprintf(buf, size, "%s", "");
	else
		snprintf(buf, size, "%s %s", SSL_get_version(c->ssl),
		    SSL_get_cipher_name(c->ssl));
	return buf;
}

/* conn_timer_cb - a connection timer fired */
static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	void (*fn)(struct conn *) = c->timer_fn;

	(void)fd;
	(void)what;
	if (c->closing || c->freed || c->lingering || fn == NULL)
		return;
	c->timer_fn = NULL;
	c->in_cb = true;
	fn(c);
	c->in_cb = false;
	if (c->freed)
		conn_free(c);
	else
		conn_schedule(c);
}

/* conn_timer - one-shot timer of a connection */
int
conn_timer(struct conn *c, int ms, void (*fn)(struct conn *c))
{
	struct timeval tv;

	if (c->timer != NULL)
		evtimer_del(c->timer);
	c->timer_fn = NULL;
	if (ms < 0)
		return 0;
	if (c->timer == NULL) {
		c->timer = evtimer_new(c->loop->base, conn_timer_cb, c);
		if (c->timer == NULL)
			return -1;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	c->timer_fn = fn;
	/* From now, not from when this loop iteration began. */
	(void)event_base_update_cache_time(c->loop->base);
	return evtimer_add(c->timer, &tv);
}

/* conn_error - errno of the last failure */
int
conn_error(const struct conn *c)
{
	return c->err;
}

/* conn_connected - outcome of conn_connect */
static void
conn_connected(struct conn *c, short what)
{
	struct timeval tv = { c->svc->timeout, 0 };
	socklen_t len = sizeof(c->local);

	c->connecting = false;
	if (!(what & BEV_EVENT_CONNECTED)) {
		c->err = (what & BEV_EVENT_TIMEOUT) ? ETIMEDOUT :
		    EVUTIL_SOCKET_ERROR();
		if (c->err == 0)
			c->err = ECONNREFUSED;
		conn_event(c, CONN_CONNECT_FAILED);
		conn_release(c);
		return;
	}
	(void)getsockname(c->fd, (struct sockaddr *)&c->local, &len);
	ipaddr_str((struct sockaddr *)&c->local, c->local_ip,
	    sizeof(c->local_ip));
	bufferevent_set_timeouts(c->bev, c->svc->timeout > 0 ? &tv : NULL,
	    c->svc->timeout > 0 ? &tv : NULL);
	c->in_cb = true;
	c->svc->handler->on_open(c);
	c->in_cb = false;
	if (c->freed)
		conn_free(c);
	else
		conn_schedule(c);
}

/* conn_connect - outbound connection */
struct conn *
conn_connect(struct ev_loop *l, struct ev_service *svc,
    const struct sockaddr *to, socklen_t tolen, const struct sockaddr *from,
    socklen_t fromlen, int timeout, void *data)
{
	struct timeval tv = { timeout > 0 ? timeout : svc->timeout, 0 };
	struct conn *c;
	int fd, e;

	fd = socket(to->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		return NULL;
	if (from != NULL && bind(fd, from, fromlen) == -1)
		goto fail_fd;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto fail_fd;
	c->loop = l;
	c->svc = svc;
	c->fd = fd;
	c->data = data;
	c->connecting = true;
	c->id = ((uint64_t)l->index << 56) | l->next_seq++;
	memcpy(&c->peer, to, (size_t)tolen < sizeof(c->peer) ? (size_t)tolen :
	    sizeof(c->peer));
	ipaddr_str(to, c->peer_ip, sizeof(c->peer_ip));
	buf_init(&c->line, svc->line_max + 1);
	set_sockopts(fd, svc);
	c->bev = bufferevent_socket_new(l->base, fd, 0);
	c->defer = event_new(l->base, -1, 0, conn_defer_cb, c);
	if (c->bev == NULL || c->defer == NULL)
		goto fail_conn;
	conn_bev_setup(c);
	if (tv.tv_sec > 0)
		bufferevent_set_timeouts(c->bev, &tv, &tv);
	if (bufferevent_socket_connect(c->bev, to, (int)tolen) == -1)
		goto fail_conn;
	atomic_fetch_add(&svc->nsessions, 1);
	atomic_fetch_add(&total_sessions, 1);
	conn_link(c);
	return c;
fail_conn:
	e = errno;
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (c->defer != NULL)
		event_free(c->defer);
	free(c);
	errno = e;
fail_fd:
	e = errno;
	close(fd);
	errno = e;
	return NULL;
}
