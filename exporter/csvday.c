/* csvday.c — placeholder until calltrail-export csv is written. */
#include "export.h"

int export_csv(struct ct_conf *c, int argc, char **argv)
{
	(void)c; (void)argc; (void)argv;
	return 70; /* EX_SOFTWARE: not built yet */
}
