/* Typed wrappers of libcurl's variadic calls; see ckpt_curl.h for why. */
#include "ckpt_curl.h"

CURLcode ckpt_curl_setopt_long(CURL *h, CURLoption opt, long v) { return curl_easy_setopt(h, opt, v); }
CURLcode ckpt_curl_setopt_off(CURL *h, CURLoption opt, curl_off_t v) { return curl_easy_setopt(h, opt, v); }
CURLcode ckpt_curl_setopt_str(CURL *h, CURLoption opt, const char *s) { return curl_easy_setopt(h, opt, s); }
CURLcode ckpt_curl_setopt_ptr(CURL *h, CURLoption opt, void *p) { return curl_easy_setopt(h, opt, p); }

static CURLcode set_cb(CURL *h, CURLoption fopt, CURLoption dopt, ckpt_curl_data_cb f, void *user)
{
	CURLcode rc = curl_easy_setopt(h, fopt, f);
	return rc != CURLE_OK ? rc : curl_easy_setopt(h, dopt, user);
}

CURLcode ckpt_curl_set_write(CURL *h, ckpt_curl_data_cb f, void *user)
{
	return set_cb(h, CURLOPT_WRITEFUNCTION, CURLOPT_WRITEDATA, f, user);
}

CURLcode ckpt_curl_set_read(CURL *h, ckpt_curl_data_cb f, void *user)
{
	return set_cb(h, CURLOPT_READFUNCTION, CURLOPT_READDATA, f, user);
}

CURLcode ckpt_curl_set_header(CURL *h, ckpt_curl_data_cb f, void *user)
{
	return set_cb(h, CURLOPT_HEADERFUNCTION, CURLOPT_HEADERDATA, f, user);
}

CURLcode ckpt_curl_getinfo_long(CURL *h, CURLINFO info, long *out) { return curl_easy_getinfo(h, info, out); }
