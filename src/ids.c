/* ids.c — identifiers from the CSPRNG (OpenSSL RAND_bytes): identities,
 * room names and spool file names must not be guessable or collide.
 *
 * Each thread draws POOL bytes from RAND_bytes at a time and hands them
 * out: a RAND_bytes call costs about as much as the HMAC of a token
 * (bench/README.md), and a token needs 28 bytes (one per character of
 * its identity and room).  A child process must
 * never hand out bytes its parent also holds, so a fork empties every
 * pool (the generation below), and bytes are wiped once used. */
#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "calltrail.h"
#include "ct_ids.h"

#define CT_ID_MAXBYTES 128   /* characters in one id */
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

/* n characters, each from a random byte of its own masked to the size of
 * alphabet (16 or 32): 256 is a multiple of both, so the characters are
 * uniform. */
static int
chars(char *out, size_t n, const char *alphabet, unsigned mask)
{
	unsigned char r[CT_ID_MAXBYTES];
	size_t i;

	if (n > sizeof(r))
		return CT_ERR_TOOBIG;
	if (draw(r, n) != CT_OK)
		return CT_ERR_CRYPTO;
	for (i = 0; i < n; i++)
		out[i] = alphabet[r[i] & mask];
	out[n] = '\0';
	OPENSSL_cleanse(r, n);
	return CT_OK;
}

int
ct_id_hex(char *out, size_t nbytes)
{
	return chars(out, 2 * nbytes, "0123456789abcdef", 15);
}

int
ct_id_base32(char *out, size_t nchars)
{
	return chars(out, nchars, "abcdefghijklmnopqrstuvwxyz234567", 31);
}
