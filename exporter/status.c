/* status.c — placeholder until calltrail-export status is written. */
#include "export.h"

int export_status(struct ct_conf *c, int argc, char **argv)
{
	(void)c; (void)argc; (void)argv;
	return 70; /* EX_SOFTWARE: not built yet */
}
