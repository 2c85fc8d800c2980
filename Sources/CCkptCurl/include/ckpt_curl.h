/* libcurl for Swift: the object store's HTTP client (Sources/CkptStore).
 *
 * Why this target exists: curl_easy_setopt and curl_easy_getinfo are C variadic functions,
 * which Swift cannot call. Each shim below is one typed call of them, named for the
 * argument type it passes. Callbacks are set together with their user data. Nothing else
 * lives here: requests, signing (CURLOPT_AWS_SIGV4) and retries are configured from Swift. */
#ifndef CKPT_CURL_H
#define CKPT_CURL_H
#include <curl/curl.h>
#include <stddef.h>

/* curl_easy_setopt(h, opt, (long)v): numeric and boolean options. */
CURLcode ckpt_curl_setopt_long(CURL *h, CURLoption opt, long v);
/* curl_easy_setopt(h, opt, (curl_off_t)v): 64-bit sizes (CURLOPT_INFILESIZE_LARGE). */
CURLcode ckpt_curl_setopt_off(CURL *h, CURLoption opt, curl_off_t v);
/* curl_easy_setopt(h, opt, s): string options; libcurl copies the string. */
CURLcode ckpt_curl_setopt_str(CURL *h, CURLoption opt, const char *s);
/* curl_easy_setopt(h, opt, p): object options (a struct curl_slist * of headers). */
CURLcode ckpt_curl_setopt_ptr(CURL *h, CURLoption opt, void *p);

/* The data callbacks, each with its user data (CURLOPT_*FUNCTION + CURLOPT_*DATA). */
typedef size_t (*ckpt_curl_data_cb)(char *ptr, size_t size, size_t nmemb, void *user);
CURLcode ckpt_curl_set_write(CURL *h, ckpt_curl_data_cb f, void *user);
CURLcode ckpt_curl_set_read(CURL *h, ckpt_curl_data_cb f, void *user);
CURLcode ckpt_curl_set_header(CURL *h, ckpt_curl_data_cb f, void *user);

/* curl_easy_getinfo(h, info, &long). */
CURLcode ckpt_curl_getinfo_long(CURL *h, CURLINFO info, long *out);

#endif
