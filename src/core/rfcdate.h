/*
 * rfcdate.h - dates in RFC 5322 form ("Sun, 22 Nov 2026 01:48:48 +0000").
 *
 * XMail wrote the day without zero padding and printed "-0000" for UTC (a
 * sign quirk, XMAIL-FACTS 4.6); postroom writes a correct offset.
 */
#ifndef POSTROOM_CORE_RFCDATE_H
#define POSTROOM_CORE_RFCDATE_H

#include <stddef.h>
#include <time.h>

#define RFCDATE_MAX	40

/* rfcdate - local time `t` as an RFC 5322 date-time into out; returns out. */
const char	*rfcdate(time_t t, char *out, size_t size);

#endif
