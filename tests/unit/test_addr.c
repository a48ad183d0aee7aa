/*
 * test_addr.c - unit tests for RFC 5321 path and mailbox parsing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/addr.h"

/* Input flags. */
#define NUL_OK		0x01	/* allow_null */
#define UTF8		0x02	/* utf8 */

/* Expected attributes of a parsed path. */
#define QUOTED		0x01
#define LITERAL		0x02
#define ISNULL		0x04

/* Repeated characters for the length limits. */
#define A10	"aaaaaaaaaa"
#define A60	A10 A10 A10 A10 A10 A10
#define A61	A60 "a"
#define A62	A60 "aa"
#define A63	A60 "aaa"
#define A64	A60 "aaaa"
#define A65	A60 "aaaaa"
#define D189	A63 "." A63 "." A61	/* 189-octet domain */
#define D190	A63 "." A63 "." A62
#define D252	A63 "." A63 "." A63 "." A60
#define D253	A63 "." A63 "." A63 "." A61
#define D255	A63 "." A63 "." A63 "." A63
#define D256	A63 "." A63 "." A63 "." A62 ".a"

/* An addr_parse_path case. */
struct path_case {
	const char	*name;
	const char	*in;
	unsigned	 flags;		/* NUL_OK, UTF8 */
	enum addr_err	 err;
	const char	*local;		/* on success */
	const char	*domain;
	const char	*route;		/* NULL: "" */
	const char	*rest;		/* text after '>'; NULL: "" */
	unsigned	 attrs;		/* QUOTED, LITERAL, ISNULL */
};

static const struct path_case path_cases[] = {
	/* Plain paths. */
	{ "simple", "<a@b>", 0, ADDR_OK, "a", "b", NULL, NULL, 0 },
	{ "dotted", "<first.last@mail.example.com>", 0, ADDR_OK,
	    "first.last", "mail.example.com", NULL, NULL, 0 },
	{ "case kept", "<Joe.User@Example.COM>", 0, ADDR_OK, "Joe.User",
	    "Example.COM", NULL, NULL, 0 },
	{ "atext specials", "<!#$%&'*+-/=?^_`{|}~@b>", 0, ADDR_OK,
	    "!#$%&'*+-/=?^_`{|}~", "b", NULL, NULL, 0 },
	{ "digits", "<123@456.com>", 0, ADDR_OK, "123", "456.com", NULL,
	    NULL, 0 },
	{ "hyphen label", "<a@a-b.c-d>", 0, ADDR_OK, "a", "a-b.c-d", NULL,
	    NULL, 0 },
	{ "double hyphen label", "<a@xn--bcher-kva.de>", 0, ADDR_OK, "a",
	    "xn--bcher-kva.de", NULL, NULL, 0 },
	{ "rest kept", "<a@b> SIZE=1", 0, ADDR_OK, "a", "b", NULL,
	    " SIZE=1", 0 },
	{ "rest ctrl not ours", "<a@b>\r\n", 0, ADDR_OK, "a", "b", NULL,
	    "\r\n", 0 },
	{ "second bracket", "<a@b>>", 0, ADDR_OK, "a", "b", NULL, ">", 0 },

	/* Null path. */
	{ "null allowed", "<>", NUL_OK, ADDR_OK, "", "", NULL, NULL,
	    ISNULL },
	{ "null rest", "<> SIZE=1", NUL_OK, ADDR_OK, "", "", NULL, " SIZE=1",
	    ISNULL },
	{ "null refused", "<>", 0, ADDR_ERR_NULL, NULL, NULL, NULL, NULL,
	    0 },
	{ "null with space", "< >", NUL_OK, ADDR_ERR_SYNTAX, NULL, NULL,
	    NULL, NULL, 0 },

	/* Brackets and spaces. */
	{ "empty", "", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL, NULL, 0 },
	{ "no brackets", "a@b", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL, NULL,
	    0 },
	{ "leading space", " <a@b>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL,
	    NULL, 0 },
	{ "open only", "<", NUL_OK, ADDR_ERR_SYNTAX, NULL, NULL, NULL, NULL,
	    0 },
	{ "unclosed", "<a@b", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL, NULL,
	    0 },
	{ "space inside front", "< a@b>", 0, ADDR_ERR_SYNTAX, NULL, NULL,
	    NULL, NULL, 0 },
	{ "space inside back", "<a@b >", 0, ADDR_ERR_SYNTAX, NULL, NULL,
	    NULL, NULL, 0 },
	{ "space in local", "<a b@c>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL,
	    NULL, 0 },
	{ "nested", "<<a@b>>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL, NULL,
	    0 },
	{ "nul cuts", "<a\0@b>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL, NULL,
	    0 },

	/* Local part. */
	{ "no at", "<ab>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL, NULL, 0 },
	{ "empty local", "<@b>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL, NULL,
	    0 },
	{ "empty domain", "<a@>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL,
	    NULL, 0 },
	{ "leading dot", "<.a@b>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL,
	    NULL, 0 },
	{ "trailing dot", "<a.@b>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL,
	    NULL, 0 },
	{ "double dot", "<a..b@c>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL,
	    NULL, 0 },
	{ "bracket in local", "<a[b@c>", 0, ADDR_ERR_SYNTAX, NULL, NULL,
	    NULL, NULL, 0 },
	{ "backslash unquoted", "<a\\b@c>", 0, ADDR_ERR_SYNTAX, NULL, NULL,
	    NULL, NULL, 0 },
	{ "comma in local", "<a,b@c>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL,
	    NULL, 0 },
	{ "comment", "<a(x)@b>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL, NULL,
	    0 },

	/* Quoted local part. */
	{ "quoted", "<\"a b\"@c>", 0, ADDR_OK, "a b", "c", NULL, NULL,
	    QUOTED },
	{ "quoted plain", "<\"ab\"@c>", 0, ADDR_OK, "ab", "c", NULL, NULL,
	    QUOTED },
	{ "quoted escaped quote", "<\"a\\\"b\"@c>", 0, ADDR_OK, "a\"b", "c",
	    NULL, NULL, QUOTED },
	{ "quoted escaped backslash", "<\"a\\\\b\"@c>", 0, ADDR_OK, "a\\b",
	    "c", NULL, NULL, QUOTED },
	{ "quoted escaped letter", "<\"\\a\"@c>", 0, ADDR_OK, "a", "c", NULL,
	    NULL, QUOTED },
	{ "quoted escaped space", "<\"\\ \"@c>", 0, ADDR_OK, " ", "c", NULL,
	    NULL, QUOTED },
	{ "quoted gt", "<\"a>b\"@c>", 0, ADDR_OK, "a>b", "c", NULL, NULL,
	    QUOTED },
	{ "quoted specials", "<\"a@b,c:d;e<>()[]\"@c>", 0, ADDR_OK,
	    "a@b,c:d;e<>()[]", "c", NULL, NULL, QUOTED },
	{ "quoted dots", "<\".a..b.\"@c>", 0, ADDR_OK, ".a..b.", "c", NULL,
	    NULL, QUOTED },
	{ "quoted empty", "<\"\"@c>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL,
	    NULL, 0 },
	{ "quoted unterminated", "<\"ab@c>", 0, ADDR_ERR_SYNTAX, NULL, NULL,
	    NULL, NULL, 0 },
	{ "quoted then text", "<\"a\"b@c>", 0, ADDR_ERR_SYNTAX, NULL, NULL,
	    NULL, NULL, 0 },
	{ "text then quoted", "<a\"b\"@c>", 0, ADDR_ERR_SYNTAX, NULL, NULL,
	    NULL, NULL, 0 },
	{ "quoted dot atom mix", "<\"a\".b@c>", 0, ADDR_ERR_SYNTAX, NULL,
	    NULL, NULL, NULL, 0 },
	{ "quoted ends backslash", "<\"a\\\"@c>", 0, ADDR_ERR_SYNTAX, NULL,
	    NULL, NULL, NULL, 0 },

	/* Open-relay probe shapes: parsed literally, never rerouted. */
	{ "percent hack", "<user%other@host>", 0, ADDR_OK, "user%other",
	    "host", NULL, NULL, 0 },
	{ "bang path", "<other!user@host>", 0, ADDR_OK, "other!user",
	    "host", NULL, NULL, 0 },
	{ "quoted at", "<\"user@other\"@host>", 0, ADDR_OK, "user@other",
	    "host", NULL, NULL, QUOTED },
	{ "route probe", "<@host:user@other>", 0, ADDR_OK, "user", "other",
	    "@host", NULL, 0 },
	{ "double at", "<user@other@host>", 0, ADDR_ERR_SYNTAX, NULL, NULL,
	    NULL, NULL, 0 },
	{ "percent quoted at", "<\"user%other\"@host>", 0, ADDR_OK,
	    "user%other", "host", NULL, NULL, QUOTED },

	/* Source routes. */
	{ "route two", "<@a,@b.c:x@y>", 0, ADDR_OK, "x", "y", "@a,@b.c",
	    NULL, 0 },
	{ "route three", "<@a,@b,@c:x@[1.2.3.4]>", 0, ADDR_OK, "x",
	    "[1.2.3.4]", "@a,@b,@c", NULL, LITERAL },
	{ "route no colon", "<@a x@y>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL,
	    NULL, 0 },
	{ "route no at", "<@a,b:x@y>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL,
	    NULL, 0 },
	{ "route empty", "<@:x@y>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL,
	    NULL, 0 },
	{ "route literal", "<@[1.2.3.4]:x@y>", 0, ADDR_ERR_SYNTAX, NULL,
	    NULL, NULL, NULL, 0 },
	{ "route only", "<@a:>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL, NULL,
	    0 },
	{ "route double colon", "<@a:@b:x@y>", 0, ADDR_ERR_SYNTAX, NULL,
	    NULL, NULL, NULL, 0 },
	{ "route trailing comma", "<@a,:x@y>", 0, ADDR_ERR_SYNTAX, NULL,
	    NULL, NULL, NULL, 0 },
	{ "route semicolon", "<@a;@b:x@y>", 0, ADDR_ERR_SYNTAX, NULL, NULL,
	    NULL, NULL, 0 },

	/* Domains. */
	{ "leading hyphen", "<a@-b.c>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL,
	    NULL, 0 },
	{ "trailing hyphen", "<a@b-.c>", 0, ADDR_ERR_SYNTAX, NULL, NULL,
	    NULL, NULL, 0 },
	{ "domain double dot", "<a@b..c>", 0, ADDR_ERR_SYNTAX, NULL, NULL,
	    NULL, NULL, 0 },
	{ "domain leading dot", "<a@.b>", 0, ADDR_ERR_SYNTAX, NULL, NULL,
	    NULL, NULL, 0 },
	{ "domain trailing dot", "<a@b.>", 0, ADDR_ERR_SYNTAX, NULL, NULL,
	    NULL, NULL, 0 },
	{ "underscore domain", "<a@b_c.d>", 0, ADDR_ERR_SYNTAX, NULL, NULL,
	    NULL, NULL, 0 },
	{ "numeric domain", "<a@1.2.3.4>", 0, ADDR_OK, "a", "1.2.3.4", NULL,
	    NULL, 0 },
	{ "label 63", "<a@" A63 ".com>", 0, ADDR_OK, "a", A63 ".com", NULL,
	    NULL, 0 },
	{ "label 64", "<a@" A64 ".com>", 0, ADDR_ERR_TOO_LONG, NULL, NULL,
	    NULL, NULL, 0 },

	/* Address literals (RFC 5321 4.1.3). */
	{ "v4", "<a@[192.0.2.1]>", 0, ADDR_OK, "a", "[192.0.2.1]", NULL,
	    NULL, LITERAL },
	{ "v4 max", "<a@[255.255.255.255]>", 0, ADDR_OK, "a",
	    "[255.255.255.255]", NULL, NULL, LITERAL },
	{ "v4 zeros", "<a@[0.0.0.0]>", 0, ADDR_OK, "a", "[0.0.0.0]", NULL,
	    NULL, LITERAL },
	{ "v4 leading zeros", "<a@[01.002.3.4]>", 0, ADDR_OK, "a",
	    "[01.002.3.4]", NULL, NULL, LITERAL },
	{ "v4 256", "<a@[256.1.1.1]>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL,
	    NULL, 0 },
	{ "v4 four digits", "<a@[0001.1.1.1]>", 0, ADDR_ERR_SYNTAX, NULL,
	    NULL, NULL, NULL, 0 },
	{ "v4 three parts", "<a@[1.2.3]>", 0, ADDR_ERR_SYNTAX, NULL, NULL,
	    NULL, NULL, 0 },
	{ "v4 five parts", "<a@[1.2.3.4.5]>", 0, ADDR_ERR_SYNTAX, NULL, NULL,
	    NULL, NULL, 0 },
	{ "v4 empty part", "<a@[1..3.4]>", 0, ADDR_ERR_SYNTAX, NULL, NULL,
	    NULL, NULL, 0 },
	{ "v4 trailing dot", "<a@[1.2.3.4.]>", 0, ADDR_ERR_SYNTAX, NULL,
	    NULL, NULL, NULL, 0 },
	{ "v4 hex", "<a@[0x1.2.3.4]>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL,
	    NULL, 0 },
	{ "v4 space", "<a@[ 1.2.3.4]>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL,
	    NULL, 0 },
	{ "v4 unclosed", "<a@[1.2.3.4>", 0, ADDR_ERR_SYNTAX, NULL, NULL,
	    NULL, NULL, 0 },
	{ "v4 then label", "<a@[1.2.3.4].com>", 0, ADDR_ERR_SYNTAX, NULL,
	    NULL, NULL, NULL, 0 },
	{ "literal empty", "<a@[]>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL,
	    NULL, 0 },
	{ "v6 loopback", "<a@[IPv6:::1]>", 0, ADDR_OK, "a", "[IPv6:::1]",
	    NULL, NULL, LITERAL },
	{ "v6 full", "<a@[IPv6:2001:db8:0:0:0:0:0:1]>", 0, ADDR_OK, "a",
	    "[IPv6:2001:db8:0:0:0:0:0:1]", NULL, NULL, LITERAL },
	{ "v6 tag case", "<a@[ipv6:2001:DB8::1]>", 0, ADDR_OK, "a",
	    "[ipv6:2001:DB8::1]", NULL, NULL, LITERAL },
	{ "v6 with v4", "<a@[IPv6:::ffff:192.0.2.1]>", 0, ADDR_OK, "a",
	    "[IPv6:::ffff:192.0.2.1]", NULL, NULL, LITERAL },
	{ "v6 bad hex", "<a@[IPv6:2001:db8::g]>", 0, ADDR_ERR_SYNTAX, NULL,
	    NULL, NULL, NULL, 0 },
	{ "v6 two gaps", "<a@[IPv6:1::2::3]>", 0, ADDR_ERR_SYNTAX, NULL,
	    NULL, NULL, NULL, 0 },
	{ "v6 nine groups", "<a@[IPv6:1:2:3:4:5:6:7:8:9]>", 0,
	    ADDR_ERR_SYNTAX, NULL, NULL, NULL, NULL, 0 },
	{ "v6 empty", "<a@[IPv6:]>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL,
	    NULL, 0 },
	{ "v6 zone", "<a@[IPv6:fe80::1%eth0]>", 0, ADDR_ERR_SYNTAX, NULL,
	    NULL, NULL, NULL, 0 },
	{ "v6 untagged", "<a@[::1]>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL,
	    NULL, 0 },
	{ "v6 tag v4", "<a@[IPv6:1.2.3.4]>", 0, ADDR_ERR_SYNTAX, NULL, NULL,
	    NULL, NULL, 0 },
	{ "v6 too long", "<a@[IPv6:0000:0000:0000:0000:0000:0000:000.000."
	    "000.0000]>", 0, ADDR_ERR_SYNTAX, NULL, NULL, NULL, NULL, 0 },
	{ "general literal", "<a@[x400:c=us]>", 0, ADDR_ERR_SYNTAX, NULL,
	    NULL, NULL, NULL, 0 },
	{ "general literal v4", "<a@[tag:1.2.3.4]>", 0, ADDR_ERR_SYNTAX,
	    NULL, NULL, NULL, NULL, 0 },
	{ "literal gt", "<a@[1.2>.3.4]>", 0, ADDR_ERR_SYNTAX, NULL, NULL,
	    NULL, NULL, 0 },

	/* Length limits, exactly at and one over (RFC 5321 4.5.3.1). */
	{ "local 64", "<" A64 "@b>", 0, ADDR_OK, A64, "b", NULL, NULL, 0 },
	{ "local 65", "<" A65 "@b>", 0, ADDR_ERR_TOO_LONG, NULL, NULL, NULL,
	    NULL, 0 },
	{ "quoted 64", "<\"" A62 "\"@b>", 0, ADDR_OK, A62, "b", NULL, NULL,
	    QUOTED },
	{ "quoted 65", "<\"" A63 "\"@b>", 0, ADDR_ERR_TOO_LONG, NULL, NULL,
	    NULL, NULL, 0 },
	{ "quoted escapes count", "<\"" A60 "\\a\\a\"@b>", 0,
	    ADDR_ERR_TOO_LONG, NULL, NULL, NULL, NULL, 0 },
	{ "path 256", "<" A64 "@" D189 ">", 0, ADDR_OK, A64, D189, NULL, NULL,
	    0 },
	{ "path 257", "<" A64 "@" D190 ">", 0, ADDR_ERR_TOO_LONG, NULL, NULL,
	    NULL, NULL, 0 },
	{ "path domain 252", "<a@" D252 ">", 0, ADDR_OK, "a", D252, NULL,
	    NULL, 0 },
	{ "path domain 253", "<a@" D253 ">", 0, ADDR_ERR_TOO_LONG, NULL,
	    NULL, NULL, NULL, 0 },
	{ "path domain 256", "<a@" D256 ">", 0, ADDR_ERR_TOO_LONG, NULL,
	    NULL, NULL, NULL, 0 },
	{ "path route 256", "<@" D189 ":" A61 "@b>", 0, ADDR_OK, A61, "b",
	    "@" D189, NULL, 0 },
	{ "path route 257", "<@" D189 ":" A62 "@b>", 0, ADDR_ERR_TOO_LONG,
	    NULL, NULL, NULL, NULL, 0 },
	{ "route domain 256", "<@" D256 ":a@b>", 0, ADDR_ERR_TOO_LONG, NULL,
	    NULL, NULL, NULL, 0 },

	/* UTF-8 (RFC 6531) and its absence. */
	{ "utf8 local", "<j\xc3\xb6rg@b>", UTF8, ADDR_OK, "j\xc3\xb6rg", "b",
	    NULL, NULL, 0 },
	{ "utf8 local no flag", "<j\xc3\xb6rg@b>", 0, ADDR_ERR_8BIT, NULL,
	    NULL, NULL, NULL, 0 },
	{ "utf8 domain", "<a@b\xc3\xbc" "cher.de>", UTF8, ADDR_OK, "a",
	    "b\xc3\xbc" "cher.de", NULL, NULL, 0 },
	{ "utf8 domain no flag", "<a@b\xc3\xbc" "cher.de>", 0, ADDR_ERR_8BIT,
	    NULL, NULL, NULL, NULL, 0 },
	{ "utf8 label start", "<a@\xc3\xbc.de>", UTF8, ADDR_OK, "a",
	    "\xc3\xbc.de", NULL, NULL, 0 },
	{ "utf8 cjk", "<\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90."
	    "\xe5\xb9\xbf\xe5\x91\x8a>", UTF8, ADDR_OK,
	    "\xe7\x94\xa8\xe6\x88\xb7", "\xe4\xbe\x8b\xe5\xad\x90."
	    "\xe5\xb9\xbf\xe5\x91\x8a", NULL, NULL, 0 },
	{ "utf8 4 byte", "<\xf0\x9f\x98\x80@b>", UTF8, ADDR_OK,
	    "\xf0\x9f\x98\x80", "b", NULL, NULL, 0 },
	{ "utf8 max", "<\xf4\x8f\xbf\xbf@b>", UTF8, ADDR_OK,
	    "\xf4\x8f\xbf\xbf", "b", NULL, NULL, 0 },
	{ "utf8 nbsp", "<a\xc2\xa0@b>", UTF8, ADDR_OK, "a\xc2\xa0", "b",
	    NULL, NULL, 0 },
	{ "utf8 quoted", "<\"\xc3\xa9 x\"@b>", UTF8, ADDR_OK, "\xc3\xa9 x",
	    "b", NULL, NULL, QUOTED },
	{ "utf8 quoted no flag", "<\"\xc3\xa9\"@b>", 0, ADDR_ERR_8BIT, NULL,
	    NULL, NULL, NULL, 0 },
	{ "utf8 quoted pair", "<\"\\\xc3\xa9\"@b>", UTF8, ADDR_ERR_SYNTAX,
	    NULL, NULL, NULL, NULL, 0 },
	{ "utf8 route", "<@\xc3\xbc.de:a@b>", UTF8, ADDR_OK, "a", "b",
	    "@\xc3\xbc.de", NULL, 0 },
	{ "utf8 in literal", "<a@[1.2.3.\xc3\xa9]>", UTF8, ADDR_ERR_SYNTAX,
	    NULL, NULL, NULL, NULL, 0 },
	{ "utf8 after path", "<a@b>\xc3\xa9", 0, ADDR_OK, "a", "b", NULL,
	    "\xc3\xa9", 0 },
	{ "overlong 2", "<\xc0\xaf@b>", UTF8, ADDR_ERR_SYNTAX, NULL, NULL,
	    NULL, NULL, 0 },
	{ "overlong 2 c1", "<\xc1\xbf@b>", UTF8, ADDR_ERR_SYNTAX, NULL, NULL,
	    NULL, NULL, 0 },
	{ "overlong 3", "<\xe0\x80\xaf@b>", UTF8, ADDR_ERR_SYNTAX, NULL,
	    NULL, NULL, NULL, 0 },
	{ "overlong 4", "<\xf0\x80\x80\xaf@b>", UTF8, ADDR_ERR_SYNTAX, NULL,
	    NULL, NULL, NULL, 0 },
	{ "overlong nul", "<a\xc0\x80@b>", UTF8, ADDR_ERR_SYNTAX, NULL, NULL,
	    NULL, NULL, 0 },
	{ "surrogate high", "<\xed\xa0\x80@b>", UTF8, ADDR_ERR_SYNTAX, NULL,
	    NULL, NULL, NULL, 0 },
	{ "surrogate low", "<\xed\xbf\xbf@b>", UTF8, ADDR_ERR_SYNTAX, NULL,
	    NULL, NULL, NULL, 0 },
	{ "above max", "<\xf4\x90\x80\x80@b>", UTF8, ADDR_ERR_SYNTAX, NULL,
	    NULL, NULL, NULL, 0 },
	{ "lead f5", "<\xf5\x80\x80\x80@b>", UTF8, ADDR_ERR_SYNTAX, NULL,
	    NULL, NULL, NULL, 0 },
	{ "lead ff", "<\xff@b>", UTF8, ADDR_ERR_SYNTAX, NULL, NULL, NULL,
	    NULL, 0 },
	{ "lone continuation", "<a\x80@b>", UTF8, ADDR_ERR_SYNTAX, NULL,
	    NULL, NULL, NULL, 0 },
	{ "truncated 2", "<a\xc3@b>", UTF8, ADDR_ERR_SYNTAX, NULL, NULL,
	    NULL, NULL, 0 },
	{ "truncated 3", "<a\xe2\x82@b>", UTF8, ADDR_ERR_SYNTAX, NULL, NULL,
	    NULL, NULL, 0 },
	{ "truncated at end", "<a@b\xf0\x9f\x98", UTF8, ADDR_ERR_SYNTAX,
	    NULL, NULL, NULL, NULL, 0 },
	{ "c1 first", "<a\xc2\x80@b>", UTF8, ADDR_ERR_CTRL, NULL, NULL, NULL,
	    NULL, 0 },
	{ "c1 nel", "<a\xc2\x85@b>", UTF8, ADDR_ERR_CTRL, NULL, NULL, NULL,
	    NULL, 0 },
	{ "c1 last", "<a@b\xc2\x9f>", UTF8, ADDR_ERR_CTRL, NULL, NULL, NULL,
	    NULL, 0 },
	{ "c1 quoted", "<\"\xc2\x8d\"@b>", UTF8, ADDR_ERR_CTRL, NULL, NULL,
	    NULL, NULL, 0 },
	{ "c1 no flag", "<a\xc2\x85@b>", 0, ADDR_ERR_8BIT, NULL, NULL, NULL,
	    NULL, 0 },
	{ "utf8 local 64", "<" A62 "\xc3\xa9@b>", UTF8, ADDR_OK,
	    A62 "\xc3\xa9", "b", NULL, NULL, 0 },
	{ "utf8 local 65", "<" A63 "\xc3\xa9@b>", UTF8, ADDR_ERR_TOO_LONG,
	    NULL, NULL, NULL, NULL, 0 },
	{ "utf8 hyphen end", "<a@\xc3\xbc-.de>", UTF8, ADDR_ERR_SYNTAX, NULL,
	    NULL, NULL, NULL, 0 },

	/* Control characters, reported before grammar errors. */
	{ "cr", "<a\r@b>", 0, ADDR_ERR_CTRL, NULL, NULL, NULL, NULL, 0 },
	{ "lf", "<a@b\n>", 0, ADDR_ERR_CTRL, NULL, NULL, NULL, NULL, 0 },
	{ "crlf injection", "<a@b\r\nRCPT TO:<c@d>", 0, ADDR_ERR_CTRL, NULL,
	    NULL, NULL, NULL, 0 },
	{ "tab", "<a\t@b>", 0, ADDR_ERR_CTRL, NULL, NULL, NULL, NULL, 0 },
	{ "del", "<a\x7f@b>", 0, ADDR_ERR_CTRL, NULL, NULL, NULL, NULL, 0 },
	{ "esc", "<\x1b[0ma@b>", 0, ADDR_ERR_CTRL, NULL, NULL, NULL, NULL,
	    0 },
	{ "quoted cr", "<\"a\rb\"@c>", 0, ADDR_ERR_CTRL, NULL, NULL, NULL,
	    NULL, 0 },
	{ "quoted escaped lf", "<\"a\\\nb\"@c>", 0, ADDR_ERR_CTRL, NULL,
	    NULL, NULL, NULL, 0 },
	{ "quoted tab", "<\"a\tb\"@c>", 0, ADDR_ERR_CTRL, NULL, NULL, NULL,
	    NULL, 0 },
	{ "route ctrl", "<@a\x01:b@c>", 0, ADDR_ERR_CTRL, NULL, NULL, NULL,
	    NULL, 0 },
	{ "literal ctrl", "<a@[1.2.3.4\x1f]>", 0, ADDR_ERR_CTRL, NULL, NULL,
	    NULL, NULL, 0 },
	{ "ctrl unclosed", "<a@b\r", 0, ADDR_ERR_CTRL, NULL, NULL, NULL,
	    NULL, 0 },
	{ "ctrl before 8bit", "<\r\xc3\xa9@b>", 0, ADDR_ERR_CTRL, NULL,
	    NULL, NULL, NULL, 0 },
	{ "ctrl utf8", "<a\r@b>", UTF8, ADDR_ERR_CTRL, NULL, NULL, NULL,
	    NULL, 0 },
	{ "ctrl in null", "<\r>", NUL_OK, ADDR_ERR_CTRL, NULL, NULL, NULL,
	    NULL, 0 },
};

/* str_or_empty - s, or "" for NULL */
static const char *
str_or_empty(const char *s)
{
	return s != NULL ? s : "";
}

/* check_path - one parsed path against its case */
static void
check_path(const struct path_case *c, enum addr_err e,
    const struct addr_path *p, const char *end)
{
	if (e != c->err)
		fail_msg("case %s: error %d (%s), want %d", c->name, e,
		    addr_strerror(e), c->err);
	if (e != ADDR_OK) {
		if (p->null || p->local[0] || p->domain[0] || p->route[0] ||
		    p->quoted || p->literal)
			fail_msg("case %s: path not cleared", c->name);
		return;
	}
	if (strcmp(p->local, c->local) != 0 ||
	    strcmp(p->domain, c->domain) != 0 ||
	    strcmp(p->route, str_or_empty(c->route)) != 0 ||
	    strcmp(end, str_or_empty(c->rest)) != 0)
		fail_msg("case %s: got local '%s' domain '%s' route '%s' "
		    "rest '%s'", c->name, p->local, p->domain, p->route, end);
	if (p->quoted != ((c->attrs & QUOTED) != 0) ||
	    p->literal != ((c->attrs & LITERAL) != 0) ||
	    p->null != ((c->attrs & ISNULL) != 0))
		fail_msg("case %s: flags quoted %d literal %d null %d",
		    c->name, p->quoted, p->literal, p->null);
}

/* test_path_table - run every addr_parse_path case */
static void
test_path_table(void **state)
{
	const struct path_case *c;
	struct addr_path p;
	const char *end;
	enum addr_err e;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(path_cases); i++) {
		c = &path_cases[i];
		end = "unset";
		memset(&p, 'x', sizeof(p));
		e = addr_parse_path(c->in, (c->flags & NUL_OK) != 0,
		    (c->flags & UTF8) != 0, &p, &end);
		check_path(c, e, &p, end);
		/* end may be NULL. */
		e = addr_parse_path(c->in, (c->flags & NUL_OK) != 0,
		    (c->flags & UTF8) != 0, &p, NULL);
		assert_int_equal(e, c->err);
	}
}

/* test_path_utf8_superset - every case valid without utf8 is valid with */
static void
test_path_utf8_superset(void **state)
{
	const struct path_case *c;
	struct addr_path p, q;
	const char *end;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(path_cases); i++) {
		c = &path_cases[i];
		if (c->err != ADDR_OK || (c->flags & UTF8) != 0)
			continue;
		assert_int_equal(addr_parse_path(c->in, true, false, &p, &end),
		    ADDR_OK);
		assert_int_equal(addr_parse_path(c->in, true, true, &q, &end),
		    ADDR_OK);
		assert_memory_equal(&p, &q, sizeof(p));
	}
}

/* A template with '#' where a bad byte goes. */
static const char *const ctrl_templates[] = {
	"<#a@b>", "<a#@b>", "<a@b#>", "<a@#b>", "<a@b.#c>", "<\"a#\"@b>",
	"<\"a\\#\"@b>", "<\"#\"@b>", "<@r#:a@b>", "<@r,@#s:a@b>",
	"<a@[1.2.3.4#]>", "<a@[IPv6:#::1]>", "<#>", "<a#", "<\"a#",
};

/* fill - the template with '#' replaced by byte c */
static void
fill(char *out, size_t size, const char *tpl, int c)
{
	size_t i;

	assert_true(strlen(tpl) < size);
	for (i = 0; tpl[i] != '\0'; i++)
		out[i] = tpl[i] == '#' ? (char)c : tpl[i];
	out[i] = '\0';
}

/* test_path_every_ctrl - each C0 control and DEL anywhere is CTRL */
static void
test_path_every_ctrl(void **state)
{
	struct addr_path p;
	const char *end;
	char in[64];
	size_t i;
	int c;

	(void)state;
	for (c = 1; c < 0x80; c++) {
		if (c >= 0x20 && c != 0x7f)
			continue;
		for (i = 0; i < nitems(ctrl_templates); i++) {
			fill(in, sizeof(in), ctrl_templates[i], c);
			assert_int_equal(addr_parse_path(in, true, false, &p,
			    &end), ADDR_ERR_CTRL);
			assert_int_equal(addr_parse_path(in, true, true, &p,
			    &end), ADDR_ERR_CTRL);
			assert_int_equal(addr_parse_mailbox(in + 1, true, &p),
			    ADDR_ERR_CTRL);
		}
	}
}

/* test_path_every_8bit - each byte >= 0x80 is 8BIT without utf8 */
static void
test_path_every_8bit(void **state)
{
	struct addr_path p;
	const char *end;
	char in[64];
	size_t i;
	int c;

	(void)state;
	for (c = 0x80; c < 0x100; c++) {
		for (i = 0; i < nitems(ctrl_templates); i++) {
			fill(in, sizeof(in), ctrl_templates[i], c);
			assert_int_equal(addr_parse_path(in, true, false, &p,
			    &end), ADDR_ERR_8BIT);
			/* A lone byte >= 0x80 is never well-formed UTF-8. */
			assert_int_not_equal(addr_parse_path(in, true, true,
			    &p, &end), ADDR_OK);
		}
	}
}

/* A mailbox or domain case. */
struct str_case {
	const char	*name;
	const char	*in;
	bool		 utf8;
	enum addr_err	 err;		/* domain_ok: OK or not */
	const char	*local;
	const char	*domain;
};

static const struct str_case mailbox_cases[] = {
	{ "simple", "a@b", false, ADDR_OK, "a", "b" },
	{ "quoted", "\"a b\"@c", false, ADDR_OK, "a b", "c" },
	{ "literal", "a@[1.2.3.4]", false, ADDR_OK, "a", "[1.2.3.4]" },
	{ "utf8", "\xc3\xa9@b", true, ADDR_OK, "\xc3\xa9", "b" },
	{ "utf8 no flag", "\xc3\xa9@b", false, ADDR_ERR_8BIT, NULL, NULL },
	{ "brackets", "<a@b>", false, ADDR_ERR_SYNTAX, NULL, NULL },
	{ "route", "@r:a@b", false, ADDR_ERR_SYNTAX, NULL, NULL },
	{ "trailing space", "a@b ", false, ADDR_ERR_SYNTAX, NULL, NULL },
	{ "trailing gt", "a@b>", false, ADDR_ERR_SYNTAX, NULL, NULL },
	{ "double at", "a@b@c", false, ADDR_ERR_SYNTAX, NULL, NULL },
	{ "empty", "", false, ADDR_ERR_SYNTAX, NULL, NULL },
	{ "no domain", "postmaster", false, ADDR_ERR_SYNTAX, NULL, NULL },
	{ "crlf", "a@b\r\n", false, ADDR_ERR_CTRL, NULL, NULL },
	{ "254", A64 "@" D189, false, ADDR_OK, A64, D189 },
	{ "255", A64 "@" D190, false, ADDR_ERR_TOO_LONG, NULL, NULL },
	{ "local 65", A65 "@b", false, ADDR_ERR_TOO_LONG, NULL, NULL },
};

/* test_mailbox_table - run every addr_parse_mailbox case */
static void
test_mailbox_table(void **state)
{
	const struct str_case *c;
	struct addr_path p;
	enum addr_err e;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(mailbox_cases); i++) {
		c = &mailbox_cases[i];
		e = addr_parse_mailbox(c->in, c->utf8, &p);
		if (e != c->err)
			fail_msg("case %s: error %d, want %d", c->name, e,
			    c->err);
		if (e == ADDR_OK && (strcmp(p.local, c->local) != 0 ||
		    strcmp(p.domain, c->domain) != 0))
			fail_msg("case %s: got '%s' '%s'", c->name, p.local,
			    p.domain);
		if (e == ADDR_OK && (p.null || p.route[0] != '\0'))
			fail_msg("case %s: null or route", c->name);
	}
}

static const struct str_case domain_cases[] = {
	{ "simple", "example.com", false, ADDR_OK, NULL, NULL },
	{ "one label", "localhost", false, ADDR_OK, NULL, NULL },
	{ "v4", "[192.0.2.1]", false, ADDR_OK, NULL, NULL },
	{ "v6", "[IPv6:2001:db8::1]", false, ADDR_OK, NULL, NULL },
	{ "255", D255, false, ADDR_OK, NULL, NULL },
	{ "252", D252, false, ADDR_OK, NULL, NULL },
	{ "256", D256, false, ADDR_ERR_TOO_LONG, NULL, NULL },
	{ "label 64", A64 ".com", false, ADDR_ERR_TOO_LONG, NULL, NULL },
	{ "empty", "", false, ADDR_ERR_SYNTAX, NULL, NULL },
	{ "trailing dot", "example.com.", false, ADDR_ERR_SYNTAX, NULL,
	    NULL },
	{ "underscore", "a_b.com", false, ADDR_ERR_SYNTAX, NULL, NULL },
	{ "space", "a b", false, ADDR_ERR_SYNTAX, NULL, NULL },
	{ "at", "a@b", false, ADDR_ERR_SYNTAX, NULL, NULL },
	{ "general literal", "[x:y]", false, ADDR_ERR_SYNTAX, NULL, NULL },
	{ "bad v4", "[1.2.3.256]", false, ADDR_ERR_SYNTAX, NULL, NULL },
	{ "literal trailing", "[1.2.3.4]x", false, ADDR_ERR_SYNTAX, NULL,
	    NULL },
	{ "u-label", "b\xc3\xbc" "cher.de", true, ADDR_OK, NULL, NULL },
	{ "u-label no flag", "b\xc3\xbc" "cher.de", false, ADDR_ERR_8BIT,
	    NULL, NULL },
	{ "bad utf8", "b\xc3.de", true, ADDR_ERR_SYNTAX, NULL, NULL },
	{ "c1", "b\xc2\x85.de", true, ADDR_ERR_CTRL, NULL, NULL },
	{ "cr", "example.com\r", false, ADDR_ERR_CTRL, NULL, NULL },
};

/* test_domain_table - run every addr_domain_ok case */
static void
test_domain_table(void **state)
{
	const struct str_case *c;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(domain_cases); i++) {
		c = &domain_cases[i];
		if (addr_domain_ok(c->in, c->utf8) != (c->err == ADDR_OK))
			fail_msg("case %s: wrong answer", c->name);
	}
}

/* An addr_format case. */
struct format_case {
	const char	*name;
	bool		 null;
	const char	*local;
	const char	*domain;
	size_t		 size;		/* 0: a large buffer */
	int		 ret;
	const char	*out;
};

static const struct format_case format_cases[] = {
	{ "plain", false, "a", "b", 0, 0, "a@b" },
	{ "dots", false, "a.b.c", "d", 0, 0, "a.b.c@d" },
	{ "null", true, "", "", 0, 0, "" },
	{ "postmaster", false, "postmaster", "", 0, 0, "postmaster" },
	{ "space", false, "a b", "c", 0, 0, "\"a b\"@c" },
	{ "quote", false, "a\"b", "c", 0, 0, "\"a\\\"b\"@c" },
	{ "backslash", false, "a\\b", "c", 0, 0, "\"a\\\\b\"@c" },
	{ "leading dot", false, ".a", "c", 0, 0, "\".a\"@c" },
	{ "trailing dot", false, "a.", "c", 0, 0, "\"a.\"@c" },
	{ "double dot", false, "a..b", "c", 0, 0, "\"a..b\"@c" },
	{ "at", false, "a@b", "c", 0, 0, "\"a@b\"@c" },
	{ "empty local", false, "", "c", 0, 0, "\"\"@c" },
	{ "utf8", false, "\xc3\xa9", "c", 0, 0, "\xc3\xa9@c" },
	{ "literal", false, "a", "[1.2.3.4]", 0, 0, "a@[1.2.3.4]" },
	{ "exact size", false, "a", "b", 4, 0, "a@b" },
	{ "one short", false, "a", "b", 3, -1, "" },
	{ "quote short", false, "a b", "c", 6, -1, "" },
	{ "quote exact", false, "a b", "c", 8, 0, "\"a b\"@c" },
	{ "size 1 null", true, "", "", 1, 0, "" },
	{ "ctrl local", false, "a\rb", "c", 0, -1, "" },
	{ "ctrl domain", false, "a", "c\n", 0, -1, "" },
};

/* test_format_table - run every addr_format case */
static void
test_format_table(void **state)
{
	const struct format_case *c;
	struct addr_path p;
	char out[ADDR_PATH_MAX * 2];
	size_t i;
	int ret;

	(void)state;
	for (i = 0; i < nitems(format_cases); i++) {
		c = &format_cases[i];
		memset(&p, 0, sizeof(p));
		p.null = c->null;
		assert_true(str_copy(p.local, c->local, sizeof(p.local)));
		assert_true(str_copy(p.domain, c->domain, sizeof(p.domain)));
		memset(out, 'x', sizeof(out));
		ret = addr_format(&p, out, c->size ? c->size : sizeof(out));
		if (ret != c->ret || strcmp(out, c->out) != 0)
			fail_msg("case %s: ret %d out '%s'", c->name, ret,
			    out);
	}
	assert_int_equal(addr_format(&p, out, 0), -1);
}

/* test_format_round_trip - each valid path formats and parses back */
static void
test_format_round_trip(void **state)
{
	const struct path_case *c;
	struct addr_path p, q;
	char out[ADDR_PATH_MAX];
	const char *end;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(path_cases); i++) {
		c = &path_cases[i];
		if (c->err != ADDR_OK)
			continue;
		assert_int_equal(addr_parse_path(c->in, true,
		    (c->flags & UTF8) != 0, &p, &end), ADDR_OK);
		assert_int_equal(addr_format(&p, out, sizeof(out)), 0);
		if (p.null) {
			assert_string_equal(out, "");
			continue;
		}
		if (addr_parse_mailbox(out, (c->flags & UTF8) != 0, &q) !=
		    ADDR_OK)
			fail_msg("case %s: '%s' does not parse", c->name, out);
		assert_string_equal(q.local, p.local);
		assert_string_equal(q.domain, p.domain);
		assert_true(strlen(out) <= strlen(c->in));
	}
}

/* test_strerror - every error has its own text */
static void
test_strerror(void **state)
{
	static const enum addr_err all[] = { ADDR_OK, ADDR_ERR_SYNTAX,
	    ADDR_ERR_TOO_LONG, ADDR_ERR_8BIT, ADDR_ERR_CTRL, ADDR_ERR_NULL };
	size_t i, j;

	(void)state;
	for (i = 0; i < nitems(all); i++) {
		assert_non_null(addr_strerror(all[i]));
		for (j = 0; j < i; j++)
			assert_string_not_equal(addr_strerror(all[i]),
			    addr_strerror(all[j]));
	}
	assert_string_equal(addr_strerror((enum addr_err)99),
	    "unknown error");
}

/* main - run the group */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_table),
		cmocka_unit_test(test_path_utf8_superset),
		cmocka_unit_test(test_path_every_ctrl),
		cmocka_unit_test(test_path_every_8bit),
		cmocka_unit_test(test_mailbox_table),
		cmocka_unit_test(test_domain_table),
		cmocka_unit_test(test_format_table),
		cmocka_unit_test(test_format_round_trip),
		cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
