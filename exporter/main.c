/*
 * main.c — calltrail-export: option parsing, configuration, dispatch.
 *
 *   calltrail-export [-c FILE] upload
 *   calltrail-export [-c FILE] csv --day DAY [--out DIR] [--source spool|target]
 *   calltrail-export [-c FILE] status [--json]
 *   calltrail-export [-c FILE] salesforce --day DAY [--source spool|target]
 *                    [--out DIR] [--dry-run]
 *
 * Everything a subcommand does lives in its own file (upload.c, csvday.c,
 * status.c); this file only decides which one runs and with what
 * configuration.  A configuration error stops the program here, before
 * any work, with one line naming the key (EX_CONFIG).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calltrail.h"
#include "ct_spool.h"
#include "export.h"

static void usage(FILE *f)
{
	fprintf(f,
	"usage: calltrail-export [-c FILE] COMMAND [ARGS]\n"
	"\n"
	"Commands:\n"
	"  upload                 gzip every record waiting in the spool's new/ and\n"
	"                         store it in the target, then move it to sent/DAY/\n"
	"                         (bad records go to failed/ with a .why)\n"
	"  csv --day DAY [--out DIR] [--source spool|target]\n"
	"                         write DIR/salesforce-leads-DAY.csv for DAY\n"
	"                         (YYYY-MM-DD, yesterday or today)\n"
	"  status [--json]        what waits in the spool and how the last upload went\n"
	"  salesforce --day DAY [--source spool|target] [--out DIR] [--dry-run]\n"
	"                         update the day's Leads (or Contacts) in Salesforce\n"
	"                         with Bulk API 2.0; DIR/salesforce-results-DAY.csv\n"
	"\n"
	"Options:\n"
	"  -c FILE                configuration file (default $CALLTRAIL_CONF, else\n"
	"                         %s)\n"
	"  -h, --help             this help; COMMAND --help for a command's\n"
	"  -V, --version          print the version\n"
	"\n"
	"Exit status: 0 done; 64 usage error; 65 Salesforce refused rows (salesforce);\n"
	"74 local I/O error (records kept); 75 some records left for the next run\n"
	"(target unreachable or refusing); 77 not run by the spool's owner, or\n"
	"Salesforce refused the sign-in; 78 configuration error (credentials included).\n"
	"See calltrail-export(8).\n", ct_conf_default_path());
}

/* ct_spool_check_owner, said the way a person fixes it; 0 when the
 * caller owns the spool (or it does not exist yet). */
static int spool_owner(const struct ct_conf *c, const char *cmd)
{
	char err[CT_ERRLEN] = "", who[64];
	struct passwd *pw;
	uid_t owner = 0;

	if (ct_spool_check_owner(c->spool_dir, &owner, err) != CT_ERR_PERM)
		return 0;   /* other trouble: the command reports it */
	/* sudo takes "#UID" for a user without a name */
	if ((pw = getpwuid(owner)) != NULL)
		snprintf(who, sizeof who, "%s", pw->pw_name);
	else
		snprintf(who, sizeof who, "'#%lu'", (unsigned long)owner);
	fprintf(stderr, "calltrail-export: %s: run it as the spool's owner: "
	        "sudo -u %s calltrail-export %s ...\n", err, who, cmd);
	return -1;
}

int main(int argc, char **argv)
{
	struct ct_conf c;
	char err[CT_ERRLEN] = "";
	const char *conf = NULL, *cmd;
	int i = 1, rc, loaded = 0;

	ct_log_init("calltrail-export");
	/* Global options come before the command; the command owns the rest. */
	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) {
			printf("calltrail-export %s\n", PACKAGE_VERSION);
			return 0;
		}
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			conf = argv[i + 1];
			i += 2;
		} else if (strncmp(argv[i], "-c", 2) == 0 && argv[i][2] != '\0') {
			conf = argv[i] + 2;
			i++;
		} else if (strcmp(argv[i], "-c") == 0) {
			fprintf(stderr, "calltrail-export: -c needs a file name\n");
			return EX_USAGE;
		} else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else {
			fprintf(stderr, "calltrail-export: unknown option \"%s\"\n", argv[i]);
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "calltrail-export: which command? (upload, csv, status or salesforce)\n");
		usage(stderr);
		return EX_USAGE;
	}
	cmd = argv[i];
	if (strcmp(cmd, "upload") != 0 && strcmp(cmd, "csv") != 0 &&
	    strcmp(cmd, "status") != 0 && strcmp(cmd, "salesforce") != 0) {
		fprintf(stderr, "calltrail-export: unknown command \"%s\"\n", cmd);
		usage(stderr);
		return EX_USAGE;
	}
	memset(&c, 0, sizeof c);
	if (ct_conf_load(&c, conf, err) != CT_OK) {
		fprintf(stderr, "calltrail-export: %s\n", err);
		return EX_CONFIG;
	}
	loaded = 1;
	/* Only the spool's owner may run an exporter: anyone else (root too)
	 * would leave files the owner cannot move, or read what is not
	 * theirs.  Checked before anything is touched. */
	if (spool_owner(&c, argv[i]) != 0) {
		rc = EX_NOPERM;
		goto out;
	}
	if (strcmp(cmd, "upload") == 0)
		rc = export_upload(&c, argc - i, argv + i);
	else if (strcmp(cmd, "csv") == 0)
		rc = export_csv(&c, argc - i, argv + i);
	else if (strcmp(cmd, "salesforce") == 0)
		rc = export_salesforce(&c, argc - i, argv + i);
	else
		rc = export_status(&c, argc - i, argv + i);
out:
	if (loaded)
		ct_conf_free(&c);
	return rc;
}
