/* ids.c — identifiers from the CSPRNG (OpenSSL RAND_bytes): identities,
 * room names and spool file names must not be guessable or collide. */
#include <openssl/rand.h>

#include "calltrail.h"

#define CT_ID_MAXBYTES 64

int
ct_id_hex(char *out, size_t nbytes)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[CT_ID_MAXBYTES];
	size_t i;

	if (nbytes > sizeof(r))
		return CT_ERR_TOOBIG;
	if (RAND_bytes(r, (int)nbytes) != 1)
		return CT_ERR_CRYPTO;
	for (i = 0; i < nbytes; i++) {
		out[2 * i] = hex[r[i] >> 4];
		out[2 * i + 1] = hex[r[i] & 15];
	}
	out[2 * nbytes] = '\0';
	return CT_OK;
}

/* Each char takes 5 bits of its own random byte: 256 is a multiple of 32,
 * so the masking keeps the distribution uniform. */
int
ct_id_base32(char *out, size_t nchars)
{
	static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
	unsigned char r[CT_ID_MAXBYTES];
	size_t i;

	if (nchars > sizeof(r))
		return CT_ERR_TOOBIG;
	if (RAND_bytes(r, (int)nchars) != 1)
		return CT_ERR_CRYPTO;
	for (i = 0; i < nchars; i++)
		out[i] = b32[r[i] & 31];
	out[nchars] = '\0';
	return CT_OK;
}
