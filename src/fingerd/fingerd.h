/*
 * fingerd.h - the finger service (RFC 1288, XMail's FINGER server).
 *
 * One query line per connection: `user@domain` or `user` (then POP3Domain,
 * else RootDomain), optionally prefixed by `/W`.  For a local account or
 * mailing list (aliases resolved) the reply is
 *
 *	EMail       : user@domain
 *	  Real Name : <RealName from user.tab, or ??>
 *	  Home Page : <HomePage from user.tab, or ??>
 *
 * and for an unknown user nothing at all.  finger.ipmap.tab decides which
 * peers may connect.  Mailing-list members are not disclosed (XMail listed
 * them); forwarding ("indirect") and user-listing queries are refused.
 */
#ifndef POSTROOM_FINGERD_FINGERD_H
#define POSTROOM_FINGERD_FINGERD_H

#include <stdbool.h>

struct ev_service;

#define FINGERD_LINE_MAX	512	/* longest query line */

/*
 * fingerd_service_init - fill in `svc` for the finger protocol.  `log`
 * enables the `finger` service log (-Fl).
 */
void	fingerd_service_init(struct ev_service *svc, int timeout,
	    int max_sessions, bool log);

#endif
