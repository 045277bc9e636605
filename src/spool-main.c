/*
 * spool-main.c — calltrail-spool, the agent's side of the spool.
 *
 *   calltrail-spool put [-d SPOOL] [-c FILE] [FILE|-]
 *   calltrail-spool email-from-metadata STRING
 *
 * The voice agent runs this once per finished session (put) and, at job
 * start, to read the visitor's email from the participant metadata the
 * token service minted (email-from-metadata).  Everything it does is in
 * libcalltrail (record.c, spool.c); this file turns results into exit
 * codes the agent can act on (sysexits, see calltrail-spool(1)).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <json-c/json.h>

#include "ct_record.h"
#include "ct_spool.h"
#include "ct_email.h"
#include "ct_json.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

/* participant.metadata is small (the token service writes ~100 bytes);
 * anything much larger is not ours and is ignored like garbage. */
#define METADATA_MAX (64 * 1024)

static const char *prog = "calltrail-spool";

static void usage(FILE *f)
{
	fprintf(f,
	"usage: calltrail-spool put [-d SPOOL] [-c FILE] [FILE|-]\n"
	"       calltrail-spool email-from-metadata STRING\n"
	"       calltrail-spool --help | --version\n"
	"\n"
	"Commands:\n"
	"  put                  validate one session record (a JSON object of at\n"
	"                       most 1 MiB, from FILE or standard input) and write\n"
	"                       it into the spool's new/ directory; print its path\n"
	"  email-from-metadata  print the user_email held in a LiveKit participant\n"
	"                       metadata string, or nothing; always exits 0\n"
	"\n"
	"Options of put:\n"
	"  -d SPOOL             the spool directory (default: spool_dir of the\n"
	"                       configuration, %s/spool/calltrail)\n"
	"  -c FILE              configuration file (default $CALLTRAIL_CONF, else\n"
	"                       %s)\n"
	"\n"
	"Exit status: 0 written; 64 usage error; 65 invalid record (the message\n"
	"names the field; nothing written); 66 FILE cannot be read; 70 internal\n"
	"error (out of memory); 74 the spool cannot be written (nothing left\n"
	"behind); 78 configuration error.\n"
	"See calltrail-spool(1).\n", CT_LOCALSTATEDIR, ct_conf_default_path());
}

static void put_usage(FILE *f)
{
	fprintf(f,
	"usage: calltrail-spool put [-d SPOOL] [-c FILE] [FILE|-]\n"
	"Validate one session record and write it into SPOOL/new/ (tmp/, fsync,\n"
	"rename).  Reads standard input when FILE is - or absent.  Prints the\n"
	"path of the record.  Exit 0 written, 65 invalid (nothing written),\n"
	"66 unreadable FILE, 70 out of memory, 74 spool I/O error,\n"
	"78 configuration error.\n");
}

static void efm_usage(FILE *f)
{
	fprintf(f,
	"usage: calltrail-spool email-from-metadata STRING\n"
	"Print the user_email of a participant metadata string (a JSON object)\n"
	"followed by a newline, when it is present and a valid email address;\n"
	"print nothing otherwise.  Exits 0 either way.\n");
}

/* Read all of fd into b, refusing (CT_ERR_TOOBIG) past max bytes without
 * reading further: stdin may be endless. */
static int readall(int fd, size_t max, struct ct_buf *b)
{
	char chunk[65536];
	ssize_t n;
	int rc;

	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return CT_ERR_IO;
		if (n == 0)
			return CT_OK;
		if (b->len + (size_t)n > max)
			return CT_ERR_TOOBIG;
		if ((rc = ct_buf_add(b, chunk, (size_t)n)) != CT_OK)
			return rc;
	}
}

static int cmd_put(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct ct_conf c;
	struct ct_spool s = CT_SPOOL_INIT;
	struct ct_record r;
	struct ct_buf b;
	char err[CT_ERRLEN] = "", path[PATH_MAX];
	const char *dir = NULL, *conf = NULL, *file = "-";
	int ch, fd = -1, rc, ex = EX_SOFTWARE, loaded = 0;

	ct_buf_init(&b, CT_RECORD_MAX + 1);
	memset(&r, 0, sizeof(r));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "+c:d:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': conf = optarg; break;
		case 'd': dir = optarg; break;
		case 'h': put_usage(stdout); ex = 0; goto out;
		default:  put_usage(stderr); ex = EX_USAGE; goto out;
		}
	}
	if (argc - optind > 1) {
		put_usage(stderr);
		ex = EX_USAGE;
		goto out;
	}
	if (argc - optind == 1)
		file = argv[optind];

	/* The configuration is read even with -d: a broken file is a broken
	 * host, and the agent should hear about it now, not at export. */
	if (ct_conf_load(&c, conf, err) != CT_OK) {
		fprintf(stderr, "%s: %s\n", prog, err);
		ex = EX_CONFIG;
		goto out;
	}
	loaded = 1;
	if (dir == NULL)
		dir = c.spool_dir;

	if (strcmp(file, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "%s: put: open \"%s\" failed: %s\n", prog, file,
		        strerror(errno));
		ex = EX_NOINPUT;
		goto out;
	}
	rc = readall(fd, CT_RECORD_MAX, &b);
	if (rc == CT_ERR_TOOBIG) {
		fprintf(stderr, "%s: put: invalid record: record: larger than %d "
		        "bytes; nothing written\n", prog, CT_RECORD_MAX);
		ex = EX_DATAERR;
		goto out;
	}
	if (rc != CT_OK) {
		fprintf(stderr, "%s: put: read \"%s\" failed: %s\n", prog,
		        fd == STDIN_FILENO ? "standard input" : file,
		        rc == CT_ERR_IO ? strerror(errno) : ct_strerror(rc));
		ex = rc == CT_ERR_IO ? EX_NOINPUT : EX_SOFTWARE;
		goto out;
	}
	if ((rc = ct_record_parse(b.p ? b.p : "", b.len, &r, err)) != CT_OK) {
		fprintf(stderr, "%s: put: invalid record: %s; nothing written\n",
		        prog, err);
		ex = rc == CT_ERR_NOMEM ? EX_SOFTWARE : EX_DATAERR;
		goto out;
	}
	if (ct_spool_open(&s, dir, CT_SPOOL_CREATE_DROP, err) != CT_OK ||
	    ct_spool_put(&s, b.p, b.len, path, err) != CT_OK) {
		fprintf(stderr, "%s: put: %s; the record was not spooled\n", prog, err);
		ex = EX_IOERR;
		goto out;
	}
	printf("%s\n", path);
	/* The record is stored: a closed stdout is worth a warning, not a
	 * failure the agent would answer by keeping a second copy. */
	if (fflush(stdout) != 0)
		fprintf(stderr, "%s: put: stored %s but could not print it: %s\n",
		        prog, path, strerror(errno));
	ex = 0;
out:
	if (fd > STDIN_FILENO)
		close(fd);
	ct_record_free(&r);
	ct_spool_close(&s);
	ct_buf_free(&b);
	if (loaded)
		ct_conf_free(&c);
	return ex;
}

/*
 * The graceful fallback the agent relies on: any input prints either a
 * valid address or nothing, and exits 0.  An address that breaks the
 * email rules is not printed — the agent then asks the visitor, which is
 * better than carrying a bad address into the record (put would refuse
 * the record for it).
 */
static int cmd_email(int argc, char **argv)
{
	struct json_object *o = NULL;
	const char *v, *why;
	char email[CT_EMAIL_MAX + 1];
	size_t len;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 ||
	                  strcmp(argv[1], "-h") == 0)) {
		efm_usage(stdout);
		return 0;
	}
	if (argc != 2) {
		efm_usage(stderr);
		return EX_USAGE;
	}
	len = strlen(argv[1]);
	if (len == 0 || len > METADATA_MAX ||
	    ct_json_parse(argv[1], len, CT_JSON_DEPTH, &o, NULL) != CT_OK)
		goto out;
	if (!json_object_is_type(o, json_type_object) ||
	    (v = ct_json_str(o, "user_email")) == NULL)
		goto out;
	if (ct_email_check(v, strlen(v), email, &why) == CT_OK && email[0] != '\0')
		printf("%s\n", email);
out:
	json_object_put(o);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EX_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("calltrail-spool (calltrail) %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "put") == 0)
		return cmd_put(argc - 1, argv + 1);
	if (strcmp(argv[1], "email-from-metadata") == 0)
		return cmd_email(argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown command \"%.64s\"\n", prog, argv[1]);
	usage(stderr);
	return EX_USAGE;
}
