/*
 * ev.h - event loops, listeners and connections (the libevent glue).
 *
 * One process runs N loop threads, each with its own libevent event_base.
 * A service listens on an address with one SO_REUSEPORT socket per loop, so
 * the kernel spreads connections over the loops; a connection lives on the
 * loop that accepted it for its whole life.
 *
 * Protocol code sees only `struct conn` and these events: a complete CRLF
 * line, line too long, idle timeout, peer closed, I/O error.  It never sees
 * a bufferevent (and later an SSL *).  All conn functions must be called on
 * the connection's loop thread.  Code running elsewhere (worker threads)
 * keeps the conn's 64-bit id and looks it up with conn_find on the loop
 * thread; a conn that is gone is simply not found.
 */
#ifndef POSTROOM_CORE_EV_H
#define POSTROOM_CORE_EV_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/compat.h"

struct ev_loop;
struct conn;
struct event_base;
struct ssl_ctx_st;

enum conn_event {
	CONN_LINE_TOO_LONG,	/* no CRLF within line_max bytes */
	CONN_TIMEOUT,		/* idle for `timeout` seconds; conn closes */
	CONN_CLOSED,		/* peer closed; conn closes */
	CONN_ERROR,		/* I/O error; conn closes */
	CONN_CONNECT_FAILED,	/* conn_connect: refused, unreachable or
				   timed out (errno-like code in
				   conn_error); conn closes */
};

/* Callbacks of a protocol; all run on the connection's loop thread. */
struct conn_handler {
	/* New connection: set up the session, greet, or conn_close(). */
	void	(*on_open)(struct conn *c);
	/* One line without its CRLF; line[len] is NUL.  May pause/close. */
	void	(*on_line)(struct conn *c, char *line, size_t len);
	/*
	 * Raw mode (conn_set_raw): the next contiguous input bytes.  Return
	 * how many were consumed (0..len); unconsumed bytes are offered
	 * again when more arrive, or as lines after conn_set_raw(c, false).
	 */
	size_t	(*on_data)(struct conn *c, const char *p, size_t len);
	/* Anything else.  After TIMEOUT, CLOSED and ERROR the conn closes. */
	void	(*on_event)(struct conn *c, enum conn_event ev);
	/*
	 * Optional: the TLS handshake started by conn_starttls, or the one
	 * of an implicit-TLS service, has completed.  Input is delivered
	 * again after this returns.
	 */
	void	(*on_tls)(struct conn *c);
	/*
	 * Optional: the server is shutting down.  Close idle sessions now
	 * (with a goodbye), let busy ones finish.
	 */
	void	(*on_shutdown)(struct conn *c);
	/* The conn is being freed: release the session data. */
	void	(*on_free)(struct conn *c);
};

/* A network service (one per protocol and port kind). */
struct ev_service {
	const char		 *name;		/* "finger", "smtp", ... */
	const struct conn_handler *handler;
	size_t			  line_max;	/* longest line, without CRLF */
	int			  timeout;	/* idle seconds, 0 = none */
	int			  max_sessions;	/* over all loops */
	const char		 *busy_reply;	/* sent when full, or NULL */
	int			  rcvbuf;	/* SO_RCVBUF or 0 */
	int			  sndbuf;	/* SO_SNDBUF or 0 */
	bool			  tls;		/* implicit TLS (SMTPS, POP3S) */
	void			 *arg;		/* the protocol's own settings */
	atomic_int		  nsessions;	/* current sessions */
};

/*
 * ev_init - create `nloops` loops (0 = number of CPUs) and enable libevent
 * threading.  Call once before anything else here.  Returns 0 or -1.
 */
int	ev_init(int nloops) WARN_UNUSED_RESULT;

/* ev_nloops - number of loops. */
int	ev_nloops(void);

/* ev_loop_at - loop number i (0 <= i < ev_nloops()). */
struct ev_loop	*ev_loop_at(int i);

/* ev_loop_base - the loop's event_base, for timers of core modules. */
struct event_base	*ev_loop_base(struct ev_loop *l);

/*
 * ev_listen - listen for `svc` on `sa` on every loop.  Returns 0, or -1
 * with errno set and a message logged (address in use, permission...).
 * Must be called before ev_start.
 */
int	ev_listen(struct ev_service *svc, const struct sockaddr *sa,
	    socklen_t salen) WARN_UNUSED_RESULT;

/* ev_start - start the loop threads.  Returns 0 or -1. */
int	ev_start(void) WARN_UNUSED_RESULT;

/*
 * ev_stop_accepting - close every listener (idempotent, thread-safe) and
 * tell every connection through its handler's on_shutdown.
 */
void	ev_stop_accepting(void);

/* ev_sessions - total connections alive on all loops (thread-safe). */
int	ev_sessions(void);

/*
 * ev_stop - close every remaining connection, stop and join the loop
 * threads, free everything.  Call from the main thread after
 * ev_stop_accepting and after the worker pool is drained.
 */
void	ev_stop(void);

/* ev_run_in_loop - run fn(arg) on loop l's thread soon (thread-safe). */
int	ev_run_in_loop(struct ev_loop *l, void (*fn)(void *), void *arg)
	    WARN_UNUSED_RESULT;

/* Connection accessors and actions (loop thread only). */
uint64_t		 conn_id(const struct conn *c);
struct ev_loop		*conn_loop(const struct conn *c);
struct ev_service	*conn_service(const struct conn *c);
void			 conn_set_data(struct conn *c, void *data);
void			*conn_data(const struct conn *c);
const struct sockaddr	*conn_peer(const struct conn *c);
const struct sockaddr	*conn_local(const struct conn *c);
/* Numeric peer / local address text, e.g. "127.0.0.1" or "::1". */
const char		*conn_peer_ip(const struct conn *c);
const char		*conn_local_ip(const struct conn *c);
int			 conn_peer_port(const struct conn *c);
int			 conn_local_port(const struct conn *c);

/* conn_find - the live connection with this id on loop l, or NULL. */
struct conn	*conn_find(struct ev_loop *l, uint64_t id);

/*
 * conn_write - queue bytes for sending.  Returns 0 or -1.  While more
 * than 1 MiB is queued, no further input is delivered (a client that
 * pipelines without reading its replies waits; memory stays bounded).
 */
int	conn_write(struct conn *c, const void *p, size_t n);

/* conn_printf - queue formatted text.  Returns 0 or -1. */
int	conn_printf(struct conn *c, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * conn_set_raw - switch between line mode (on_line) and raw mode
 * (on_data, for SMTP DATA/BDAT bodies).  Takes effect for the next input
 * delivered; buffered input is re-examined in the new mode.
 */
void	conn_set_raw(struct conn *c, bool raw);

/*
 * conn_pause - deliver no more lines until conn_resume (while an
 * asynchronous step of the session runs).  Input stays buffered.
 */
void	conn_pause(struct conn *c);
void	conn_resume(struct conn *c);

/*
 * conn_close - stop reading, send what is queued, then close and free
 * (on_free runs).  Safe to call from any callback; the conn stays valid
 * until the callback returns.
 */
void	conn_close(struct conn *c);

/* conn_closing - true once conn_close was called. */
bool	conn_closing(const struct conn *c);

/*
 * conn_connect - open an outbound TCP connection from loop l (call on its
 * thread) to `to`, from the local address `from` when not NULL (OutBind),
 * for the protocol of `svc`: a service that is never listened on, which
 * provides the handler, line_max and the idle timeout once connected.
 * `data` is the connection's data (conn_data) from the start.  When the
 * connection is up, on_open runs; when it cannot be made within
 * `timeout` seconds (0: the service's timeout), on_event runs with
 * CONN_CONNECT_FAILED and the connection is freed (on_free).  No callback
 * runs inside this call.  Returns the connection, or NULL (socket or bind
 * error, with errno set; no callback runs).
 */
struct conn	*conn_connect(struct ev_loop *l, struct ev_service *svc,
		    const struct sockaddr *to, socklen_t tolen,
		    const struct sockaddr *from, socklen_t fromlen,
		    int timeout, void *data);

/* conn_error - errno of the last failure (CONNECT_FAILED, ERROR), or 0. */
int	conn_error(const struct conn *c);

/*
 * conn_starttls_client - as conn_starttls, as the TLS client of an
 * outbound connection (SMTP STARTTLS towards the next hop), with the
 * process-wide client context (tls_client_ctx: the system CA store).
 * `servername` (may be NULL) names the peer: a host name is sent as SNI
 * and must match the certificate's DNS names; an IP address, bare or as
 * an RFC 5321 address literal ("[192.0.2.1]", "[IPv6:2001:db8::1]"), is
 * never sent as SNI (RFC 6066 section 3) and must match an IP address
 * of the certificate (subjectAltName iPAddress); NULL checks the chain
 * only.  The handshake never fails because of the certificate: the
 * result is reported by conn_tls_verified (mail delivery is
 * opportunistic unless the caller decides otherwise).  Called from
 * on_open of a conn_connect connection, before anything was written or
 * read, it starts implicit TLS (SMTPS, RFC 8314): the handshake is the
 * first thing on the wire.  Returns 0 or -1 (no TLS possible).
 */
int	conn_starttls_client(struct conn *c, const char *servername)
	    WARN_UNUSED_RESULT;

/*
 * conn_starttls_client_ctx - conn_starttls_client with the client
 * context ctx (tls_client_ctx_file: other trusted authorities) instead
 * of the process-wide one; NULL is the process-wide one.  The connection
 * takes its own reference: the caller may free ctx at once.
 */
int	conn_starttls_client_ctx(struct conn *c, const char *servername,
	    struct ssl_ctx_st *ctx) WARN_UNUSED_RESULT;

/*
 * conn_tls_verified - after on_tls: true when the peer's certificate
 * chain verified against the CAs of the client context (the system
 * store, or the file of tls_client_ctx_file) and matches the servername
 * as conn_starttls_client says; the reason ("ok", "self-signed
 * certificate", "hostname mismatch", "IP address mismatch"...) goes to
 * why when not NULL.
 */
bool	conn_tls_verified(const struct conn *c, const char **why);

/*
 * conn_starttls - upgrade to TLS as the server (STARTTLS, STLS, #!TLS).
 * The replies already queued (e.g. "220 Ready to start TLS") go out in
 * clear text first; every input byte received so far and not yet
 * delivered is discarded (the RFC 3207 section 6 / CVE-2011-0411 command
 * injection: nothing a client pipelined after the command is ever taken
 * as a command); then the handshake runs.  No input is delivered until
 * it has completed and on_tls has run.  A failed handshake is logged with
 * the OpenSSL reason and ends the connection with on_event(CONN_ERROR).
 * Call from on_line only.  Returns 0, or -1 when no server certificate is
 * loaded (tls_server_available) or the connection is already TLS; the
 * caller then replies with an error and the session goes on in clear.
 */
int	conn_starttls(struct conn *c) WARN_UNUSED_RESULT;

/* conn_is_tls - true once the TLS handshake has completed. */
bool	conn_is_tls(const struct conn *c);

/*
 * conn_tls_desc - "TLSv1.3 TLS_AES_256_GCM_SHA384" for logs and Received
 * headers, into buf; "" when the connection is not TLS.  Returns buf.
 */
const char	*conn_tls_desc(const struct conn *c, char *buf, size_t size);

/*
 * conn_timer - call fn(c) once after `ms` milliseconds, on the loop
 * thread, unless the connection is closing or gone by then.  One timer
 * per connection: a new call replaces the pending one; ms < 0 cancels.
 * Used for delays after failed logins.  Returns 0 or -1.
 */
int	conn_timer(struct conn *c, int ms, void (*fn)(struct conn *c))
	    WARN_UNUSED_RESULT;

#endif
