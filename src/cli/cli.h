/*
 * cli.h - the verbs of the postroom multi-call binary.
 *
 * Each verb gets argv with argv[0] set to the verb name and returns the
 * process exit status: 0 success, 1 failure, 2 usage error (bad option).
 */
#ifndef POSTROOM_CLI_CLI_H
#define POSTROOM_CLI_CLI_H

int	cli_init_main(int argc, char **argv);
int	cli_serve_main(int argc, char **argv);
int	cli_passwd_main(int argc, char **argv);
int	cli_mkusers_main(int argc, char **argv);
int	cli_sendmail_main(int argc, char **argv);
int	cli_queue_main(int argc, char **argv);
int	cli_ctl_main(int argc, char **argv);
int	cli_send_main(int argc, char **argv);

#endif
