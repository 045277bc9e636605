/*
 * ct_ids.h — identifiers from the CSPRNG (ids.c).
 */
#ifndef CT_IDS_H
#define CT_IDS_H

#include "calltrail.h"

/* n random bytes from the CSPRNG as 2n lower-case hex chars + NUL. */
int ct_id_hex(char *out, size_t nbytes);
/* n random lower-case base32 (RFC 4648 alphabet) chars + NUL. */
int ct_id_base32(char *out, size_t nchars);

#endif /* CT_IDS_H */
