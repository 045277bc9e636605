/*
 * t/awscred-drv.c — drives the credential chain for t/awscred.sh.
 *
 *   awscred-drv [-c CONF] [-n COUNT] [-i MS] [-f] get
 *       COUNT gets (default 1), MS milliseconds apart; -f forces
 *       all of them (the server said ExpiredToken).  One line per get:
 *         source=SOURCE key=ACCESS_KEY_ID token=yes|no expires_in=SECONDS
 *       never the secret key or the token themselves.
 *   awscred-drv [-c CONF] region
 *       the region ct_aws_region picks.
 *   awscred-drv split LINE
 *       the words of a credential_process line, one per line.
 *
 * An error prints "error CODE: MESSAGE" on stdout and exits 1 (78 for a
 * configuration error).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ct_awscredint.h"
#include "ct_time.h"

static int
fail(int rc, const char *err)
{
	printf("error %s: %s\n", rc == CT_ERR_CONFIG ? "configuration" : rc == CT_ERR_REMOTE ?
	       "remote" : rc == CT_ERR_TEMP ? "temporary" : ct_strerror(rc), err);
	return rc == CT_ERR_CONFIG ? 78 : 1;
}

int
main(int argc, char **argv)
{
	struct ct_awscred_chain *ch = NULL;
	const struct ct_awscred *cr;
	const char *conf = NULL;
	char err[CT_ERRLEN], region[64];
	struct ct_conf c;
	long n = 1, ms = 0, i;
	int opt, force = 0, rc, ret = 0;

	while ((opt = getopt(argc, argv, "c:n:i:f")) != -1) {
		switch (opt) {
		case 'c': conf = optarg; break;
		case 'n': n = atol(optarg); break;
		case 'i': ms = atol(optarg); break;
		case 'f': force = 1; break;
		default:  return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		return 2;
	if (strcmp(argv[0], "split") == 0 && argc == 2) {
		char *words[16], *line = strdup(argv[1]);

		if (line == NULL || ct_awscred_split(line, words, 16) != CT_OK) {
			puts("error");
			free(line);
			return 1;
		}
		for (i = 0; words[i]; i++)
			printf("[%s]\n", words[i]);
		free(line);
		return 0;
	}
	memset(&c, 0, sizeof(c));
	if ((rc = ct_conf_load(&c, conf, err)) != CT_OK)
		return fail(rc, err);
	if (strcmp(argv[0], "region") == 0) {
		if ((rc = ct_aws_region(&c, region, sizeof(region), err)) != CT_OK)
			ret = fail(rc, err);
		else
			puts(region);
		goto out;
	}
	if ((rc = ct_awscred_open(&c, &ch, err)) != CT_OK) {
		ret = fail(rc, err);
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

		if (i > 0 && ms > 0)
			nanosleep(&ts, NULL);
		if ((rc = ct_awscred_get(ch, force, &cr, err)) != CT_OK) {
			ret = fail(rc, err);
			goto out;
		}
		printf("source=%s key=%s token=%s expires_in=%lld\n", cr->source,
		       cr->access_key, cr->token[0] ? "yes" : "no",
		       cr->expires_us ? (long long)((cr->expires_us - ct_time_now_us()) / 1000000)
		                      : -1LL);
		fflush(stdout);
	}
out:
	ct_awscred_close(ch);
	ct_conf_free(&c);
	return ret;
}
