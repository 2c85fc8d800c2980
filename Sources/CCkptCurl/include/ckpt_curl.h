/* libcurl for Swift: the object store's HTTP client (Sources/CkptStore).
 *
 * Why this target exists:
 * - ckpt does not link libcurl. Loading it and its dependency tree (libssl/libcrypto,
 *   nghttp2, libssh2, GSSAPI, LDAP...) at every start costs ~6 MiB of peak RSS in a
 *   listener that never uploads. The first store use calls ckpt_curl_load(), which
 *   dlopen()s libcurl.so.4 once and resolves the functions it uses; only then do the other
 *   shims work. <curl/curl.h> is included for its types and constants only: Swift must
 *   call the ckpt_curl_* shims, never a curl_* function (those symbols are not linked).
 * - curl_easy_setopt and curl_easy_getinfo are C variadic functions, which Swift cannot
 *   call. Each setopt/getinfo shim is one typed call of them, named for the argument type it
 *   passes. Callbacks are set together with their user data.
 * Nothing else lives here: requests, signing (CURLOPT_AWS_SIGV4) and retries are configured
 * from Swift. */
#ifndef CKPT_CURL_H
#define CKPT_CURL_H
#include <curl/curl.h>
#include <stddef.h>

/* The soname ckpt loads: Debian's libcurl4 (the OpenSSL flavour libcurl4-openssl-dev builds against). */
#define CKPT_CURL_SONAME "libcurl.so.4"

/* Loads CKPT_CURL_SONAME (dlopen RTLD_NOW | RTLD_LOCAL), resolves every function the shims
 * call and runs curl_global_init, once per process (pthread_once); later calls return the
 * first call's result. 0 on success; -1 if the library or one of its functions could not be
 * loaded: ckpt_curl_load_error() says why. Thread-safe. */
int ckpt_curl_load(void);
/* Why ckpt_curl_load() failed (dlerror's text, or the missing function); "" when it did not. */
const char *ckpt_curl_load_error(void);
/* 1 once ckpt_curl_load() succeeded, else 0. */
int ckpt_curl_loaded(void);
/* For tests: the same dlopen + dlsym of every function from `soname`, then dlclose; the
 * process's loaded table is not touched. 0 if all resolved, else -1 and the reason in err. */
int ckpt_curl_probe(const char *soname, char *err, size_t errlen);

/* Each shim below calls the libcurl function of the same name. Before a successful
 * ckpt_curl_load() they do nothing and fail: CURLE_FAILED_INIT, NULL, or the message
 * "libcurl is not loaded". */
CURL *ckpt_curl_easy_init(void);
void ckpt_curl_easy_cleanup(CURL *h);
void ckpt_curl_easy_reset(CURL *h);
CURLcode ckpt_curl_easy_perform(CURL *h);
const char *ckpt_curl_easy_strerror(CURLcode rc);
/* curl_slist_append: NULL when out of memory (the list passed in is then still valid). */
struct curl_slist *ckpt_curl_slist_append(struct curl_slist *list, const char *s);
void ckpt_curl_slist_free_all(struct curl_slist *list);

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
