/*
 * pop3d_cmd.c - the POP3 command table, the dispatcher, and the commands
 * valid in more than one state (CAPA, STLS, QUIT).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"
#include "core/cmdtab.h"
#include "core/ev.h"
#include "core/line.h"
#include "core/log.h"
#include "core/tls.h"
#include "pop3d/pop3d_int.h"

/* cmd_capa - CAPA (RFC 2449 section 5) */
static void
cmd_capa(void *sess, char *arg)
{
	struct pop3d_session *s = sess;
	bool authz = s->state == POP3D_S_AUTH || s->state == POP3D_S_USER;

	(void)arg;
	(void)conn_printf(s->conn, "+OK Capability list follows\r\n"
	    "TOP\r\n%sUIDL\r\nPIPELINING\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
	    "%sIMPLEMENTATION " POP3D_PRODUCT "\r\n.\r\n",
	    pop3d_plain_ok(s) ? "USER\r\n" : "",
	    authz && pop3d_stls_ok(s) ? "STLS\r\n" : "");
}

/*
 * cmd_stls - STLS (RFC 2595 section 4).  Whatever the client sent after
 * the command is discarded by conn_starttls, never executed.
 */
static void
cmd_stls(void *sess, char *arg)
{
	struct pop3d_session *s = sess;

	(void)arg;
	if (conn_is_tls(s->conn) || conn_service(s->conn)->tls) {
		pop3d_err(s, "Command not permitted when TLS active");
		return;
	}
	if (!config_var_bool(s->cfg, "EnablePOP3-TLS", true)) {
		pop3d_err(s, "Command disabled");
		return;
	}
	if (!tls_server_available()) {
		pop3d_err(s, "Server TLS setup error");
		return;
	}
	pop3d_ok(s, "Begin TLS negotiation");
	if (conn_starttls(s->conn) == -1) {
		/* The client now expects a handshake: the session is over. */
		log_warn("pop3: peer=%s STLS failed to start",
		    conn_peer_ip(s->conn));
		conn_close(s->conn);
	}
}

/* cmd_quit - QUIT: UPDATE in TRANSACTION, else just close */
static void
cmd_quit(void *sess, char *arg)
{
	struct pop3d_session *s = sess;

	(void)arg;
	if (s->state == POP3D_S_TRANS) {
		pop3d_update(s);
		return;
	}
	pop3d_ok(s, POP3D_PRODUCT " closing session");
	conn_close(s->conn);
}

#define S(x)		(1u << (x))
#define TRANS		S(POP3D_S_TRANS)
#define ANY		(POP3D_AUTHZ | TRANS)

static const struct cmdtab_row pop3d_cmds[] = {
	{ "USER", POP3D_AUTHZ, 0, CMDTAB_ARG_REQ, pop3d_cmd_user },
	{ "PASS", S(POP3D_S_USER), CMDTAB_F_SENSITIVE, CMDTAB_ARG_REQ,
	    pop3d_cmd_pass },
	{ "APOP", POP3D_AUTHZ, CMDTAB_F_SENSITIVE, CMDTAB_ARG_REQ,
	    pop3d_cmd_apop },
	{ "CAPA", ANY, 0, CMDTAB_ARG_NONE, cmd_capa },
	{ "STLS", POP3D_AUTHZ, CMDTAB_F_GROUP_END, CMDTAB_ARG_NONE, cmd_stls },
	{ "STAT", TRANS, 0, CMDTAB_ARG_NONE, pop3d_cmd_stat },
	{ "LIST", TRANS, 0, CMDTAB_ARG_OPT, pop3d_cmd_list },
	{ "UIDL", TRANS, 0, CMDTAB_ARG_OPT, pop3d_cmd_uidl },
	{ "RETR", TRANS, 0, CMDTAB_ARG_REQ, pop3d_cmd_retr },
	{ "TOP", TRANS, 0, CMDTAB_ARG_REQ, pop3d_cmd_top },
	{ "DELE", TRANS, 0, CMDTAB_ARG_REQ, pop3d_cmd_dele },
	{ "NOOP", TRANS, 0, CMDTAB_ARG_NONE, pop3d_cmd_noop },
	{ "LAST", TRANS, 0, CMDTAB_ARG_NONE, pop3d_cmd_last },
	{ "RSET", TRANS, 0, CMDTAB_ARG_NONE, pop3d_cmd_rset },
	{ "QUIT", ANY, CMDTAB_F_GROUP_END, CMDTAB_ARG_NONE, cmd_quit },
};

/*
 * pop3d_cmd_dispatch - one command line.  Commands are ASCII (RFC 1939
 * section 3); only a PASS argument may hold other bytes (UTF-8 passwords).
 */
void
pop3d_cmd_dispatch(struct pop3d_session *s, char *line, size_t len)
{
	const struct cmdtab_row *row;

	if (line_has_8bit(line, len) && strncasecmp(line, "PASS ", 5) != 0) {
		pop3d_err(s, "Invalid command");
		return;
	}
	switch (cmdtab_dispatch(pop3d_cmds, nitems(pop3d_cmds), s->state, s,
	    line, &row)) {
	case CMDTAB_DONE:
		break;
	case CMDTAB_UNKNOWN:
		pop3d_err(s, "Invalid command");
		break;
	case CMDTAB_BAD_STATE:
		pop3d_err(s, "Command not valid here");
		break;
	case CMDTAB_BAD_ARG:
		pop3d_err(s, "Invalid syntax");
		break;
	}
}
