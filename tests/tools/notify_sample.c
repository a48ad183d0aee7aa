/*
 * notify_sample.c - the HTML part of a sample `postroom send` report for
 * one status, on standard output.  Used by `make docs-images` to render
 * the screenshots in docs/images/; not installed.
 *
 * usage: notify_sample success|failure|warning|info
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/buf.h"
#include "notify/notify.h"

#define SAMPLE_WHEN	1772449200	/* a fixed date: stable images */

/* One sample per status: what a backup job or a cron script would say. */
static const struct {
	const char		*title;
	const char		*body;
	struct notify_field	 fields[6];
	size_t			 nfields;
} samples[] = {
	[NOTIFY_SUCCESS] = {
		"Nightly backup of db01 completed",
		"All 14 databases were dumped, compressed and copied to the "
		"off-site store.\nThe oldest set (30 days) was pruned.",
		{ { "Job", "nightly-db01" }, { "Duration", "12 min 41 s" },
		  { "Size", "18.4 GB (compressed 4.2 GB)" },
		  { "Destination", "s3://backups-eu-west/db01/2026-03-02/" },
		  { "Next run", "Tue 03:00" } }, 5 },
	[NOTIFY_FAILURE] = {
		"Backup of fileserver failed",
		"rsync exited with code 23 after 3 retries.\n"
		"  rsync: send_files failed to open "
		"\"/srv/share/finance/Q1 <draft>.xlsx\": Permission denied "
		"(13)",
		{ { "Job", "fs01-weekly" }, { "Exit code", "23" },
		  { "Duration", "47 min 3 s" },
		  { "Log", "/var/log/backup/fs01-weekly-2026-03-02T0300.log" },
		  { "Last success", "2026-02-23 03:46" } }, 5 },
	[NOTIFY_WARNING] = {
		"Disk space low on /var",
		"The volume will be full in about 3 days at the current "
		"rate.",
		{ { "Host", "mail02" }, { "Mount point", "/var" },
		  { "Used", "91 % (182 GB of 200 GB)" },
		  { "Threshold", "85 %" } }, 4 },
	[NOTIFY_INFO] = {
		"Certificate renewed for mail.example.com",
		"The new certificate is in place and postroom reloaded it.",
		{ { "Subject", "CN=mail.example.com" },
		  { "Valid until", "2026-05-31" },
		  { "Fingerprint", "SHA256:3F:A2:19:C4:7B:0E:D5:61:88:2A:F0:"
		    "9C:4D:E7:13:B6:52:0F:AA:C9:7E:31:64:D8:05:BB:2E:90:47:"
		    "1C:F3:6A" } }, 3 },
};

int
main(int argc, char **argv)
{
	struct notify_msg m = { 0 };
	enum notify_status st;
	struct buf out;
	char err[256];

	if (argc != 2 || !notify_status_parse(argv[1], &st)) {
		fprintf(stderr, "usage: notify_sample "
		    "success|failure|warning|info\n");
		return 2;
	}
	m.app_name = "backup";
	m.status = st;
	m.title = samples[st].title;
	m.body = samples[st].body;
	m.fields = samples[st].fields;
	m.nfields = samples[st].nfields;
	m.hostname = "backup01.example.com";
	m.when = SAMPLE_WHEN;
	buf_init(&out, 1 << 20);
	if (notify_html(&m, &out, err, sizeof(err)) == -1) {
		fprintf(stderr, "notify_sample: %s\n", err);
		buf_clear(&out);
		return 1;
	}
	fwrite(out.data, 1, out.len, stdout);
	buf_clear(&out);
	return fflush(stdout) == 0 ? 0 : 1;
}
