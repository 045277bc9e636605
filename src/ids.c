/* ids.c — identifiers from the CSPRNG (OpenSSL RAND_bytes): identities,
 * room names and spool file names must not be guessable or collide.
 *
 * Each thread draws POOL bytes from RAND_bytes at a time and hands them
 * out: a RAND_bytes call costs about as much as the HMAC of a token
 * (bench/README.md), and a token needs 20 bytes.  A child process must
 * never hand out bytes its parent also holds, so a fork empties every
 * pool (the generation below), and bytes are wiped once used. */
#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "calltrail.h"

#define CT_ID_MAXBYTES 64
#define POOL           1024

static _Thread_local unsigned char pool[POOL];
static _Thread_local size_t pool_left;
static _Thread_local unsigned pool_gen;
static volatile unsigned fork_gen = 1;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void
forked(void)
{
	fork_gen++;
}

static void
register_fork(void)
{
	pthread_atfork(NULL, NULL, forked);
}

/* n (<= CT_ID_MAXBYTES) bytes from the CSPRNG into r. */
static int
draw(unsigned char *r, size_t n)
{
	pthread_once(&once, register_fork);
	if (pool_gen != fork_gen) {
		OPENSSL_cleanse(pool, sizeof(pool));
		pool_left = 0;
		pool_gen = fork_gen;
	}
	if (pool_left < n) {
		if (RAND_bytes(pool, POOL) != 1) {
			pool_left = 0;
			return CT_ERR_CRYPTO;
		}
		pool_left = POOL;
	}
	pool_left -= n;
	memcpy(r, pool + pool_left, n);
	OPENSSL_cleanse(pool + pool_left, n);
	return CT_OK;
}

int
ct_id_hex(char *out, size_t nbytes)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[CT_ID_MAXBYTES];
	size_t i;

	if (nbytes > sizeof(r))
		return CT_ERR_TOOBIG;
	if (draw(r, nbytes) != CT_OK)
		return CT_ERR_CRYPTO;
	for (i = 0; i < nbytes; i++) {
		out[2 * i] = hex[r[i] >> 4];
		out[2 * i + 1] = hex[r[i] & 15];
	}
	out[2 * nbytes] = '\0';
	OPENSSL_cleanse(r, nbytes);
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
	if (draw(r, nchars) != CT_OK)
		return CT_ERR_CRYPTO;
	for (i = 0; i < nchars; i++)
		out[i] = b32[r[i] & 31];
	out[nchars] = '\0';
	OPENSSL_cleanse(r, nchars);
	return CT_OK;
}
