/*
 * ctrld_int.h - internals shared by the ctrld_*.c files: the command
 * table, the request/result a command works on, XMail's error numbers.
 *
 * The session (ctrld_session.c) splits a command line with tab_split,
 * finds the command with ctrld_cmd_find, checks the parameter count, and
 * runs cmd->run on a worker thread with a ctrld_req; it then sends the
 * RESSTRING for res->code and, for 100, the listing (dot-stuffed, CRLF
 * line ends, ending with "."), after installing a new configuration
 * snapshot when res->reload is set.  Commands with CTRLD_F_UPLOAD first
 * get cmd->check on the loop thread; when it passes the session replies
 * "+00101 OK", reads the dot-stuffed lines up to "." (at most
 * CTRLD_UPLOAD_MAX octets) and runs cmd->run with them in req->data.
 */
#ifndef POSTROOM_CTRLD_CTRLD_INT_H
#define POSTROOM_CTRLD_CTRLD_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/compat.h"
#include "ctrld/ctrld.h"

struct config;

#define CTRLD_LINE_MAX		8192		/* command line, no CRLF */
#define CTRLD_ARGS_MAX		64		/* fields of a command line */
#define CTRLD_UPLOAD_MAX	(16u << 20)	/* 00101 data */
#define CTRLD_LIST_MAX		(128u << 20)	/* 00100 listing */
#define CTRLD_PRODUCT		"postroom CTRL Server"

/*
 * XMail 1.27 error numbers (Errors.h order) used by postroom; a reply
 * shows -N as "-%05d <text>".
 */
enum ctrld_err {
	CTRLD_E_MEMORY		= 2,	/* Memory allocation error */
	CTRLD_E_USERS_FILE	= 9,	/* Users table file not found */
	CTRLD_E_FILE_CREATE	= 10,	/* Unable to create file */
	CTRLD_E_USER_NOT_FOUND	= 12,
	CTRLD_E_USER_EXIST	= 13,
	CTRLD_E_FILE_OPEN	= 19,	/* Unable to open file */
	CTRLD_E_FILE_STRUCT	= 20,	/* Invalid file structure */
	CTRLD_E_BAD_PASSWORD	= 24,	/* Invalid password */
	CTRLD_E_ALIAS_EXIST	= 26,
	CTRLD_E_ALIAS_NOT_FOUND	= 28,
	CTRLD_E_BAD_ADDRESS	= 33,	/* Bad email address */
	CTRLD_E_LINK_EXIST	= 44,	/* POP3 link already exist */
	CTRLD_E_LINK_NOT_FOUND	= 46,
	CTRLD_E_NOT_MLIST	= 50,	/* User is not a mailing list */
	CTRLD_E_MLUSER_EXIST	= 52,
	CTRLD_E_MLUSER_NOT_FOUND = 53,
	CTRLD_E_SPOOL_FILE	= 55,	/* Invalid spool file */
	CTRLD_E_DOMAIN_NOT_HANDLED = 59,
	CTRLD_E_EXALIAS_EXIST	= 67,
	CTRLD_E_EXALIAS_NOT_FOUND = 69,
	CTRLD_E_SYNTAX		= 103,	/* Bad CTRL command syntax */
	CTRLD_E_DOMAIN_EXIST	= 104,
	CTRLD_E_BAD_LOGIN	= 105,	/* Bad controller login */
	CTRLD_E_NO_MPROC	= 116,	/* User mail processing file not present */
	CTRLD_E_NOT_CUSTDOM	= 120,	/* Not a custom domain */
	CTRLD_E_BUSY		= 129,	/* Server too busy, retry later */
	CTRLD_E_IP_DENIED	= 130,	/* Server does not like Your IP */
	CTRLD_E_RECORD_NOT_FOUND = 157,	/* Record not found in TAB file */
	CTRLD_E_LINE_TOO_LONG	= 162,	/* Stream line too long */
	CTRLD_E_BAD_CHARS	= 190,	/* Bad characters in command line */
	CTRLD_E_UVAR_NOT_FOUND	= 192,
	CTRLD_E_ADOMAIN_FILE	= 204,
	CTRLD_E_ADOMAIN_EXIST	= 205,
	CTRLD_E_ADOMAIN_NOT_FOUND = 206,
	CTRLD_E_LISTDIR		= 211,	/* Listing directory not found */
	CTRLD_E_BAD_PATH	= 214,	/* Error in relative path syntax */
	CTRLD_E_RFCNAME		= 216,	/* Name does not respect RFC822 */
	CTRLD_E_INVALID_PARAM	= 230,
	CTRLD_E_ALREADY_EXIST	= 231,
	CTRLD_E_TLS_ACTIVE	= 242,	/* TLS link already active */
	CTRLD_E_NOT_FOUND	= 246,
	CTRLD_E_TLS_DISABLED	= 249,
};

/*
 * ctrld_err_text - XMail's text for error number `code` (positive), e.g.
 * "User not found"; "Unknown error code" for numbers postroom never uses.
 */
const char	*ctrld_err_text(int code);

/* What a command works on (read-only for the command). */
struct ctrld_req {
	struct config		*cfg;		/* snapshot for this command */
	const struct ctrld_opts	*opts;
	const char		*mailroot;
	char		*const	*argv;		/* argv[0]: the command name */
	size_t			 argc;		/* 1 + parameters */
	const char		*data;		/* upload: un-stuffed lines,
						   each ending with "\n" */
	size_t			 datalen;	/* 0: empty upload */
	const char		*admin;		/* logged-in account */
	const char		*peer;		/* client IP, for logs */
};

/* What a command answers. */
struct ctrld_res {
	int		 code;		/* 0: "+00000 OK"; 100: "+00100 OK"
					   and `list`; -N: error N */
	char		 text[256];	/* error text instead of
					   ctrld_err_text(N), or "" */
	struct buf	 list;		/* code 100: lines ending with "\n"
					   (a "\r" before it is dropped);
					   not yet dot-stuffed */
	bool		 reload;	/* a MailRoot table changed */
};

/* Flags of a command. */
#define CTRLD_F_UPLOAD	0x01	/* "+00101 OK", then data (cfgfileset) */

struct ctrld_cmd {
	const char	*name;		/* lower case */
	unsigned	 min_params;	/* argc - 1 accepted, inclusive */
	unsigned	 max_params;
	unsigned	 flags;		/* CTRLD_F_* */
	unsigned	 secret;	/* bit i: argv[i] is a password, never
					   logged (shown as "*") */
	/*
	 * UPLOAD commands only (may be NULL): validate the parameters
	 * before "+00101 OK" is sent.  Runs on the loop thread: must not
	 * block (snapshot lookups and string checks only).  Returns 0 to
	 * go on, or -1 with res->code (and text) set.
	 */
	int	(*check)(const struct ctrld_req *req, struct ctrld_res *res);
	/* The command; runs on a worker thread and may block. */
	void	(*run)(const struct ctrld_req *req, struct ctrld_res *res);
};

/*
 * ctrld_cmd_find - the command named `name` (case-insensitive), or NULL.
 * "quit" is not in the table: the session handles it.
 */
const struct ctrld_cmd	*ctrld_cmd_find(const char *name);

/* The command groups ctrld_cmd_find searches (ctrld_user.c, ctrld_sys.c). */
extern const struct ctrld_cmd	ctrld_user_cmds[];
extern const size_t		ctrld_user_ncmds;
extern const struct ctrld_cmd	ctrld_sys_cmds[];
extern const size_t		ctrld_sys_ncmds;

/* ctrld_fail - res->code = -code, res->text = "" (default text). */
void	ctrld_fail(struct ctrld_res *res, int code);

/* ctrld_list_begin - an empty listing: "+00100 OK" even with no line. */
void	ctrld_list_begin(struct ctrld_res *res);

/*
 * ctrld_list_rec - append one listing line: the fields quoted and
 * TAB-separated as in TAB files (tab_format).  Sets res->code to 100.
 * Returns 0, or -1 (value cannot be written, or CTRLD_LIST_MAX reached).
 */
int	ctrld_list_rec(struct ctrld_res *res, const char *const *fields,
	    size_t n) WARN_UNUSED_RESULT;

/*
 * ctrld_list_file - append the lines of a regular file (`path` relative
 * to the directory descriptor `dfd`, or AT_FDCWD; a symbolic link at
 * `path` is not followed) to the listing; a last line without "\n" gets
 * one.  Sets res->code to 100.  Returns 0, or -1 with errno (ENOENT,
 * EFBIG over CTRLD_LIST_MAX, ELOOP for a link...) and the listing as it
 * was.
 */
int	ctrld_list_file(struct ctrld_res *res, int dfd, const char *path)
	    WARN_UNUSED_RESULT;

#endif
