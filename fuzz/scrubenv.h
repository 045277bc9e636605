/*
 * scrubenv.h — for the harnesses that load a configuration: remove every
 * variable ct_conf_load would read besides the file (LIVEKIT_*, AWS_*,
 * CALLTRAIL_*), so only the harness's own file configures the run.
 */
#ifndef CT_FUZZ_SCRUBENV_H
#define CT_FUZZ_SCRUBENV_H

#include <stdlib.h>
#include <string.h>

extern char **environ;

static void
scrubenv(void)
{
	char name[256];
	size_t i = 0;

	while (environ[i]) {
		const char *e = environ[i], *eq = strchr(e, '=');
		size_t n = eq ? (size_t)(eq - e) : strlen(e);

		if (n < sizeof(name) && (!strncmp(e, "LIVEKIT_", 8) || !strncmp(e, "AWS_", 4) ||
		                         !strncmp(e, "CALLTRAIL_", 10))) {
			memcpy(name, e, n);
			name[n] = '\0';
			unsetenv(name);
			i = 0;   /* environ was rearranged */
			continue;
		}
		i++;
	}
}

#endif /* CT_FUZZ_SCRUBENV_H */
