/*
 * ctrld_cmd.c - the CTRL command table lookup, XMail's error texts and
 * the listing helpers shared by the command groups.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/tab.h"
#include "ctrld/ctrld_int.h"

#define CMD_READ_CHUNK	16384

/* ctrld_cmd_find - command by name, user commands first */
const struct ctrld_cmd *
ctrld_cmd_find(const char *name)
{
	size_t i;

	for (i = 0; i < ctrld_user_ncmds; i++)
		if (strcasecmp(ctrld_user_cmds[i].name, name) == 0)
			return &ctrld_user_cmds[i];
	for (i = 0; i < ctrld_sys_ncmds; i++)
		if (strcasecmp(ctrld_sys_cmds[i].name, name) == 0)
			return &ctrld_sys_cmds[i];
	return NULL;
}

/* XMail's texts (Errors.cpp) for the numbers postroom uses. */
static const struct {
	int		 code;
	const char	*text;
} err_texts[] = {
	{ CTRLD_E_MEMORY, "Memory allocation error" },
	{ CTRLD_E_USERS_FILE, "Users table file not found" },
	{ CTRLD_E_FILE_CREATE, "Unable to create file" },
	{ CTRLD_E_USER_NOT_FOUND, "User not found" },
	{ CTRLD_E_USER_EXIST, "User already exist" },
	{ CTRLD_E_FILE_OPEN, "Unable to open file" },
	{ CTRLD_E_FILE_STRUCT, "Invalid file structure" },
	{ CTRLD_E_BAD_PASSWORD, "Invalid password" },
	{ CTRLD_E_ALIAS_EXIST, "Alias already exist" },
	{ CTRLD_E_ALIAS_NOT_FOUND, "Alias not found" },
	{ CTRLD_E_BAD_ADDRESS, "Bad email address" },
	{ CTRLD_E_LINK_EXIST, "POP3 link already exist" },
	{ CTRLD_E_LINK_NOT_FOUND, "POP3 link not found" },
	{ CTRLD_E_NOT_MLIST, "User is not a mailing list" },
	{ CTRLD_E_MLUSER_EXIST, "Mailing list user already exist" },
	{ CTRLD_E_MLUSER_NOT_FOUND, "Mailing list user not found" },
	{ CTRLD_E_SPOOL_FILE, "Invalid spool file" },
	{ CTRLD_E_DOMAIN_NOT_HANDLED, "POP3 domain not handled" },
	{ CTRLD_E_EXALIAS_EXIST, "External alias already exist" },
	{ CTRLD_E_EXALIAS_NOT_FOUND, "External alias not found" },
	{ CTRLD_E_SYNTAX, "Bad CTRL command syntax" },
	{ CTRLD_E_DOMAIN_EXIST, "Domain already exist" },
	{ CTRLD_E_BAD_LOGIN, "Bad controller login" },
	{ CTRLD_E_NO_MPROC, "User mail processing file not present" },
	{ CTRLD_E_NOT_CUSTDOM, "Not a custom domain" },
	{ CTRLD_E_BUSY, "Server too busy, retry later" },
	{ CTRLD_E_IP_DENIED, "Server does not like Your IP" },
	{ CTRLD_E_RECORD_NOT_FOUND, "Record not found in TAB file" },
	{ CTRLD_E_LINE_TOO_LONG, "Stream line too long" },
	{ CTRLD_E_BAD_CHARS, "Bad characters in command line" },
	{ CTRLD_E_UVAR_NOT_FOUND, "User configuration variable not found" },
	{ CTRLD_E_ADOMAIN_FILE, "Domain aliases file not found" },
	{ CTRLD_E_ADOMAIN_EXIST, "Domain alias already exist" },
	{ CTRLD_E_ADOMAIN_NOT_FOUND, "Domain alias not found" },
	{ CTRLD_E_LISTDIR, "Listing directory not found" },
	{ CTRLD_E_BAD_PATH, "Error in relative path syntax" },
	{ CTRLD_E_RFCNAME, "Name does not respect RFC822" },
	{ CTRLD_E_INVALID_PARAM, "Invalid parameter" },
	{ CTRLD_E_ALREADY_EXIST, "Already exist" },
	{ CTRLD_E_TLS_ACTIVE, "TLS link already active" },
	{ CTRLD_E_NOT_FOUND, "Not found" },
	{ CTRLD_E_TLS_DISABLED, "TLS service disabled" },
};

/* ctrld_err_text - XMail's text for an error number */
const char *
ctrld_err_text(int code)
{
	size_t i;

	for (i = 0; i < nitems(err_texts); i++)
		if (err_texts[i].code == code)
			return err_texts[i].text;
	return "Unknown error code";
}

/* ctrld_fail - an error result with the default text */
void
ctrld_fail(struct ctrld_res *res, int code)
{
	res->code = -code;
	res->text[0] = '\0';
}

/*
 * list_prepare - make `list` usable: a zeroed result gets a buffer
 * bounded by CTRLD_LIST_MAX (max 0 means it was never initialised, so
 * nothing is allocated yet).
 */
static void
list_prepare(struct ctrld_res *res)
{
	if (res->list.max == 0)
		buf_init(&res->list, CTRLD_LIST_MAX);
}

/* ctrld_list_begin - an empty listing */
void
ctrld_list_begin(struct ctrld_res *res)
{
	list_prepare(res);
	res->code = 100;
}

/* ctrld_list_rec - one quoted TAB record in the listing */
int
ctrld_list_rec(struct ctrld_res *res, const char *const *fields, size_t n)
{
	list_prepare(res);
	if (tab_format(&res->list, fields, n, 0) == -1) {
		if (errno == EMSGSIZE)
			errno = EFBIG;
		return -1;
	}
	res->code = 100;
	return 0;
}

/* list_fd - append what is left to read from fd, then a final LF */
static int
list_fd(struct ctrld_res *res, int fd)
{
	char chunk[CMD_READ_CHUNK];
	size_t old = res->list.len;
	ssize_t n;

	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (buf_append(&res->list, chunk, (size_t)n) == -1) {
			errno = EFBIG;
			n = -1;
			break;
		}
	}
	if (n == 0 && res->list.len > old &&
	    res->list.data[res->list.len - 1] != '\n' &&
	    buf_putc(&res->list, '\n') == -1) {
		errno = EFBIG;
		n = -1;
	}
	return n == 0 ? 0 : -1;
}

/* ctrld_list_file - the lines of a regular file in the listing */
int
ctrld_list_file(struct ctrld_res *res, int dfd, const char *path)
{
	size_t old;
	struct stat st;
	int fd, rc = -1, save;

	list_prepare(res);
	old = res->list.len;
	fd = openat(dfd, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC | O_NOCTTY);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto out;
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		goto out;
	}
	if ((rc = list_fd(res, fd)) == 0)
		res->code = 100;
out:
	save = errno;
	(void)close(fd);
	if (rc == -1 && res->list.cap > 0) {
		res->list.len = old;
		res->list.data[old] = '\0';
	}
	errno = save;
	return rc;
}
