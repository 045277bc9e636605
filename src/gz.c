/*
 * gz.c — deterministic gzip for exported objects.
 *
 * A retry after a lost reply must rewrite the same key with the same
 * bytes, so the gzip header carries nothing that changes between runs:
 * no file name, no comment, mtime 0 and OS 255 ("unknown"), level 6.
 * zlib's deflate is itself deterministic for a given level, window and
 * memLevel, which we pin here rather than trusting defaults.
 */
#include <string.h>
#include <zlib.h>

#include "calltrail.h"
#include "ct_gz.h"

#define GZ_LEVEL   6
#define GZ_WBITS   (15 + 16)   /* 32 KiB window, gzip wrapper */
#define GZ_MEM     8
#define GZ_CHUNK   16384

/* Append what zlib wrote into chunk (GZ_CHUNK bytes) to out, at most max
 * bytes in all (CT_ERR_TOOBIG, checked as it grows: a gzip bomb costs at
 * most max bytes) and within out's own cap. */
static int
drain(const z_stream *zs, const unsigned char *chunk, size_t max,
      struct ct_buf *out, const char *what, char *err)
{
	size_t got = GZ_CHUNK - zs->avail_out;
	int rc;

	if (out->len > max || got > max - out->len)
		return ct_seterr(err, CT_ERR_TOOBIG, "%s: output over %zu bytes", what, max);
	if ((rc = ct_buf_add(out, chunk, got)) != CT_OK)
		return ct_seterr(err, rc, "%s: output over its cap", what);
	return CT_OK;
}

/*
 * Compress data[0..len) into out (reset first) as one gzip member.
 * out's own cap applies (CT_ERR_TOOBIG); CT_ERR_NOMEM when zlib cannot
 * allocate.  zlib's avail_in is a uInt, so large inputs are fed in
 * slices.
 */
int ct_gz_compress(const void *data, size_t len, struct ct_buf *out, char *err)
{
	z_stream zs;
	gz_header hd;
	unsigned char chunk[GZ_CHUNK];
	const unsigned char *in = data;
	size_t left = len;
	int rc = CT_OK, zrc, inited = 0;

	ct_buf_reset(out);
	memset(&zs, 0, sizeof zs);
	zrc = deflateInit2(&zs, GZ_LEVEL, Z_DEFLATED, GZ_WBITS, GZ_MEM,
	                   Z_DEFAULT_STRATEGY);
	if (zrc != Z_OK) {
		rc = ct_seterr(err, zrc == Z_MEM_ERROR ? CT_ERR_NOMEM : CT_ERR_IO,
		               "gzip: deflateInit2 failed (%d)", zrc);
		goto out;
	}
	inited = 1;
	memset(&hd, 0, sizeof hd);
	hd.time = 0;
	hd.os = 255;
	if ((zrc = deflateSetHeader(&zs, &hd)) != Z_OK) {
		rc = ct_seterr(err, CT_ERR_IO, "gzip: deflateSetHeader failed (%d)", zrc);
		goto out;
	}
	do {
		uInt slice = left > (1u << 30) ? (1u << 30) : (uInt)left;
		int flush;

		zs.next_in = (Bytef *)(uintptr_t)in;
		zs.avail_in = slice;
		in += slice;
		left -= slice;
		flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
		do {
			zs.next_out = chunk;
			zs.avail_out = sizeof chunk;
			zrc = deflate(&zs, flush);
			if (zrc == Z_STREAM_ERROR) {
				rc = ct_seterr(err, CT_ERR_IO, "gzip: deflate failed");
				goto out;
			}
			if ((rc = drain(&zs, chunk, SIZE_MAX, out, "gzip", err)) != CT_OK)
				goto out;
		} while (zs.avail_out == 0);
	} while (left > 0);
	if (zrc != Z_STREAM_END)
		rc = ct_seterr(err, CT_ERR_IO, "gzip: deflate did not finish (%d)", zrc);
out:
	if (inited)
		deflateEnd(&zs);
	return rc;
}

/* What inflate's return zrc means for the caller: CT_OK while it makes
 * progress or at the member's end; CT_ERR_NOMEM; else CT_ERR_INPUT. */
static int inflated(const z_stream *zs, int zrc, char *err)
{
	if (zrc == Z_OK || zrc == Z_STREAM_END)
		return CT_OK;
	if (zrc == Z_MEM_ERROR)
		return ct_seterr(err, CT_ERR_NOMEM, "gunzip: out of memory");
	/* Z_BUF_ERROR here means no progress: input ran out. */
	return ct_seterr(err, CT_ERR_INPUT, "gunzip: %s",
	                 zrc == Z_BUF_ERROR ? "truncated stream"
	                 : zs->msg ? zs->msg : "corrupt stream");
}

/*
 * Gunzip exactly one member from data[0..len) into out (reset first).
 * More than max bytes of output is CT_ERR_TOOBIG (checked while
 * inflating, so a gzip bomb costs at most max bytes); a truncated stream,
 * a bad CRC or anything after the member is CT_ERR_INPUT.
 */
int ct_gz_decompress(const void *data, size_t len, size_t max,
                     struct ct_buf *out, char *err)
{
	z_stream zs;
	unsigned char chunk[GZ_CHUNK];
	int rc = CT_OK, zrc = Z_OK, inited = 0;

	ct_buf_reset(out);
	memset(&zs, 0, sizeof zs);
	if (len > UINT32_MAX) {
		rc = ct_seterr(err, CT_ERR_TOOBIG, "gunzip: input over 4 GiB");
		goto out;
	}
	zrc = inflateInit2(&zs, 15 + 16);   /* gzip only, not zlib or raw */
	if (zrc != Z_OK) {
		rc = ct_seterr(err, zrc == Z_MEM_ERROR ? CT_ERR_NOMEM : CT_ERR_IO,
		               "gunzip: inflateInit2 failed (%d)", zrc);
		goto out;
	}
	inited = 1;
	zs.next_in = (Bytef *)(uintptr_t)data;
	zs.avail_in = (uInt)len;
	while (zrc != Z_STREAM_END) {
		zs.next_out = chunk;
		zs.avail_out = sizeof chunk;
		zrc = inflate(&zs, Z_NO_FLUSH);
		if ((rc = inflated(&zs, zrc, err)) != CT_OK)
			goto out;
		if ((rc = drain(&zs, chunk, max, out, "gunzip", err)) != CT_OK)
			goto out;
		if (zrc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
			rc = ct_seterr(err, CT_ERR_INPUT, "gunzip: truncated stream");
			goto out;
		}
	}
	if (zs.avail_in != 0)
		rc = ct_seterr(err, CT_ERR_INPUT,
		               "gunzip: %u bytes of trailing data after the member",
		               zs.avail_in);
out:
	if (inited)
		inflateEnd(&zs);
	return rc;
}
