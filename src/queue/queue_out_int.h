/*
 * queue_out_int.h - what the outbound scheduler (queue_out.c) shares with
 * the recipient callout (queue_verify.c).  Loop 0 only, except where said.
 */
#ifndef POSTROOM_QUEUE_QUEUE_OUT_INT_H
#define POSTROOM_QUEUE_QUEUE_OUT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "core/dns.h"

struct config;

/* qo_own_name - is this host name one of ours (RFC 5321 5.1)?  Any thread. */
bool	qo_own_name(const struct config *cfg, const char *host);

/* qo_is_self - is this address, with `port`, our own SMTP server? */
bool	qo_is_self(const struct sockaddr_storage *ss, int port);

/* qo_helo - the EHLO name: HeloDomain, else the host name put in buf. */
const char	*qo_helo(const struct config *cfg, char *buf, size_t size);

/* qo_family - the address families of lookups (-M4/-M6/-M5/-M7). */
enum dns_family	qo_family(void);

/* qo_default_port - SmtpMXPort (25), or 24 for LMTP.  Any thread. */
int	qo_default_port(const struct config *cfg, bool lmtp);

/* qo_resolver - the loop-0 resolver for the current SmartDNSHost. */
struct dns_resolver	*qo_resolver(const struct config *cfg);

/* queue_verify_stop - shutdown: end every callout (queue_verify.c). */
void	queue_verify_stop(void);

#endif
