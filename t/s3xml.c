/*
 * t/s3xml.c — the XML reader (src/xml.c), the S3 error replies read with
 * it (s3_error_parse) and where requests for a bucket go (s3_address).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_s3int.h"
#include "ct_xml.h"
#include "tap.h"

struct seen {
	char out[4096];
	int stop_at;                /* return 99 on this call (1-based), 0: never */
	int calls;
};

static int collect(void *arg, size_t which, const char *text, size_t len)
{
	struct seen *s = arg;
	size_t n = strlen(s->out);

	s->calls++;
	snprintf(s->out + n, sizeof(s->out) - n, "%zu=%.*s;", which, (int)len, text);
	return s->calls == s->stop_at ? 99 : 0;
}

static int parse(const char *xml, struct seen *s, char *err)
{
	static const char *const paths[] = {
		"ListBucketResult/Contents/Key", "ListBucketResult/IsTruncated",
		"ListBucketResult/Contents",
	};
	memset(s->out, 0, sizeof(s->out));
	s->calls = 0;
	err[0] = '\0';
	return ct_xml_parse(xml, strlen(xml), paths, 3, collect, s, err);
}

int main(void)
{
	struct seen s = { .stop_at = 0 };
	char err[CT_ERRLEN], code[64], msg[128], region[64], *base, *host, *big;
	const char *x;
	int ps;

	plan(33);
	/* -- ct_xml_parse ------------------------------------------------ */
	is_int(CT_OK, parse("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	    "<Name>b</Name><Contents><Key>a&amp;b&#x3D;&lt;c&gt;</Key><Size>3</Size></Contents>"
	    "<Contents><Key>z\xc3\xa9</Key></Contents><IsTruncated>false</IsTruncated>"
	    "</ListBucketResult>", &s, err), "an S3 listing parses (%s)", err);
	is_str("0=a&b=<c>;2=;0=z\xc3\xa9;2=;1=false;", s.out,
	       "wanted elements in document order, entities decoded, nested ones too");
	parse("<ListBucketResult><Contents><Key>k</Key></Contents></ListBucketResult>", &s, err);
	is_str("0=k;2=;", s.out, "a wanted element's own text leaves out its children's");
	parse("<Other><Contents><Key>k</Key></Contents></Other>", &s, err);
	is_str("", s.out, "paths are matched from the root");
	is_int(CT_ERR_INPUT, parse("<ListBucketResult><Contents><Key>k</Contents>", &s, err),
	       "mismatched tags are CT_ERR_INPUT");
	ok(strstr(err, "XML:") != NULL, "... with a message (%s)", err);
	is_int(CT_ERR_INPUT, parse("<ListBucketResult><IsTruncated>true</IsTruncated>", &s, err),
	       "a document cut short is CT_ERR_INPUT");
	is_int(CT_ERR_INPUT, parse("", &s, err), "an empty reply is CT_ERR_INPUT");
	is_int(CT_ERR_INPUT, parse("<!DOCTYPE x [<!ENTITY a \"aaaa\">]><ListBucketResult>"
	       "<IsTruncated>&a;</IsTruncated></ListBucketResult>", &s, err),
	       "a DOCTYPE with entities is refused");
	is_str("", s.out, "... before any text is handed out");
	is_int(CT_ERR_INPUT, parse("<!DOCTYPE ListBucketResult SYSTEM \"file:///etc/passwd\">"
	       "<ListBucketResult/>", &s, err), "an external DOCTYPE is refused");
	is_int(CT_ERR_INPUT, parse("<ListBucketResult><IsTruncated>&foo;</IsTruncated>"
	       "</ListBucketResult>", &s, err), "an undefined entity is refused");
	is_int(CT_ERR_INPUT, parse("<ListBucketResult><IsTruncated>&#1;</IsTruncated>"
	       "</ListBucketResult>", &s, err), "a character XML forbids is refused");
	{
		char deep[1024] = "";
		for (int i = 0; i < CT_XML_DEPTH + 1; i++)
			strcat(deep, "<a>");
		for (int i = 0; i < CT_XML_DEPTH + 1; i++)
			strcat(deep, "</a>");
		is_int(CT_ERR_INPUT, parse(deep, &s, err), "nesting deeper than CT_XML_DEPTH is refused");
		ok(strstr(err, "deep") != NULL, "... saying so (%s)", err);
	}
	big = malloc(CT_XML_TEXT_MAX + 200);
	strcpy(big, "<ListBucketResult><IsTruncated>");
	memset(big + strlen(big), 'x', CT_XML_TEXT_MAX + 1);
	strcpy(big + 31 + CT_XML_TEXT_MAX + 1, "</IsTruncated></ListBucketResult>");
	is_int(CT_ERR_INPUT, parse(big, &s, err), "text over CT_XML_TEXT_MAX is refused");
	strcpy(big + 31 + CT_XML_TEXT_MAX, "</IsTruncated></ListBucketResult>");
	is_int(CT_OK, parse(big, &s, err), "text of exactly CT_XML_TEXT_MAX bytes is read");
	free(big);
	s.stop_at = 2;
	is_int(99, parse("<ListBucketResult><Contents><Key>a</Key></Contents>"
	       "<Contents><Key>b</Key></Contents></ListBucketResult>", &s, err),
	       "a callback's non-zero return stops the parse and is returned");
	is_str("0=a;2=;", s.out, "... and nothing follows it");
	s.stop_at = 0;

	/* -- S3 error replies -------------------------------------------- */
	x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>"
	    "AuthorizationHeaderMalformed</Code><Message>the region 'us-east-1' is wrong; "
	    "expecting 'eu-west-1'</Message><Region>eu-west-1</Region><RequestId>x</RequestId>"
	    "</Error>";
	s3_error_parse(x, strlen(x), code, sizeof(code), msg, sizeof(msg), region, sizeof(region));
	is_str("AuthorizationHeaderMalformed", code, "an error reply's Code");
	is_str("eu-west-1", region, "... its Region");
	ok(strncmp(msg, "the region", 10) == 0, "... its Message (%s)", msg);
	s3_error_parse("<html>Bad Gateway", 17, code, sizeof(code), msg, sizeof(msg), region,
	               sizeof(region));
	is_str("", code, "a reply that is not XML gives no code");
	x = "<Error><Code>Bad\xe2\x80\x8b</Code></Error>";
	s3_error_parse(x, strlen(x), code, 5, msg,
	               sizeof(msg), region, sizeof(region));
	is_str("Bad?", code, "codes are printable ASCII, cut to their buffer");

	/* -- addressing ------------------------------------------------- */
	s3_address(NULL, "my-bucket", "eu-west-1", &base, &host, &ps, err);
	is_str("https://my-bucket.s3.eu-west-1.amazonaws.com", base,
	       "AWS: virtual-hosted style");
	ok(ps == 0 && strcmp(host, "my-bucket.s3.eu-west-1.amazonaws.com") == 0,
	   "... Host is BUCKET.s3.REGION.amazonaws.com, the path has no bucket");
	free(base); free(host);
	s3_address("", "my.bucket", "us-west-2", &base, &host, &ps, err);
	is_str("https://s3.us-west-2.amazonaws.com", base,
	       "a bucket name with a dot: path style (its TLS name would not match)");
	ok(ps == 1, "... with the bucket in the path");
	free(base); free(host);
	s3_address("http://127.0.0.1:9000/", "my-bucket", "us-east-1", &base, &host, &ps, err);
	is_str("http://127.0.0.1:9000", base, "an endpoint: path style on its authority");
	ok(ps == 1 && strcmp(host, "127.0.0.1:9000") == 0, "... Host is HOST:PORT");
	free(base); free(host);
	is_int(CT_ERR_CONFIG, s3_address("ftp://x", "b-b", "us-east-1", &base, &host, &ps, err),
	       "an endpoint that is not http(s) is a configuration error");
	is_int(CT_ERR_CONFIG, s3_address("https://h/path", "b-b", "us-east-1", &base, &host, &ps,
	       err), "an endpoint with a path is a configuration error");
	ok(base == NULL && host == NULL, "... leaving nothing allocated");
	return done();
}
