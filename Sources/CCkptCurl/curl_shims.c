/* libcurl loaded at first use, and typed wrappers of its variadic calls; see ckpt_curl.h. */
/* curl.h's typecheck-gcc.h turns curl_easy_setopt/getinfo into macros, which would expand
 * inside the calls through the table below. */
#define CURL_DISABLE_TYPECHECK
#include "ckpt_curl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* Every libcurl function ckpt calls. The table's members (each typed from curl.h's own
 * prototype), the dlsym loop and the shims below all come from this list. */
#define CKPT_CURL_FUNCTIONS(X) \
	X(curl_global_init)    \
	X(curl_easy_init)      \
	X(curl_easy_cleanup)   \
	X(curl_easy_reset)     \
	X(curl_easy_perform)   \
	X(curl_easy_strerror)  \
	X(curl_easy_setopt)    \
	X(curl_easy_getinfo)   \
	X(curl_slist_append)   \
	X(curl_slist_free_all)

struct curl_table {
#define MEMBER(name) __typeof__(&name) name;
	CKPT_CURL_FUNCTIONS(MEMBER)
#undef MEMBER
};

/* dlopen(soname) and dlsym of every function into *t. On failure: -1, the reason in err, and
 * nothing left open. *handle is the library on success. */
static int resolve(const char *soname, struct curl_table *t, void **handle, char *err, size_t errlen)
{
	void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *why = dlerror();
		snprintf(err, errlen, "%s", why ? why : "dlopen failed");
		return -1;
	}
#define SYM(name)                                                                          \
	t->name = (__typeof__(t->name))dlsym(h, #name);                                    \
	if (!t->name) {                                                                    \
		snprintf(err, errlen, "%s: no function %s", soname, #name);                \
		goto out_close;                                                            \
	}
	CKPT_CURL_FUNCTIONS(SYM)
#undef SYM
	*handle = h;
	return 0;

out_close:
	dlclose(h);
	return -1;
}

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
/* Written once inside pthread_once, read only after it: pthread_once orders the two. */
static struct curl_table curl;
static int load_result = -1;
static char load_error[512];

static void load(void)
{
	void *handle;
	if (resolve(CKPT_CURL_SONAME, &curl, &handle, load_error, sizeof(load_error)) < 0)
		return;
	/* Not thread-safe in libcurl 7.88: done here, once, before any handle exists. */
	CURLcode rc = curl.curl_global_init(CURL_GLOBAL_DEFAULT);
	if (rc != CURLE_OK) {
		snprintf(load_error, sizeof(load_error), "curl_global_init failed: %s",
			 curl.curl_easy_strerror(rc));
		return;  /* the library stays loaded, unused: dlclose could unmap what it set up */
	}
	__atomic_store_n(&load_result, 0, __ATOMIC_RELEASE);  /* ckpt_curl_loaded reads it outside the once */
}

int ckpt_curl_load(void)
{
	pthread_once(&load_once, load);
	return load_result;
}

const char *ckpt_curl_load_error(void)
{
	pthread_once(&load_once, load);
	return load_error;
}

int ckpt_curl_loaded(void)
{
	return __atomic_load_n(&load_result, __ATOMIC_ACQUIRE) == 0;
}

int ckpt_curl_probe(const char *soname, char *err, size_t errlen)
{
	struct curl_table t;
	void *handle;
	if (resolve(soname, &t, &handle, err, errlen) < 0)
		return -1;
	dlclose(handle);
	return 0;
}

/* The shims. `ready()` is false until ckpt_curl_load() succeeded; then the table is set. */
static inline int ready(void) { return ckpt_curl_loaded(); }

CURL *ckpt_curl_easy_init(void) { return ready() ? curl.curl_easy_init() : NULL; }
void ckpt_curl_easy_cleanup(CURL *h) { if (ready()) curl.curl_easy_cleanup(h); }
void ckpt_curl_easy_reset(CURL *h) { if (ready()) curl.curl_easy_reset(h); }
CURLcode ckpt_curl_easy_perform(CURL *h) { return ready() ? curl.curl_easy_perform(h) : CURLE_FAILED_INIT; }

const char *ckpt_curl_easy_strerror(CURLcode rc)
{
	return ready() ? curl.curl_easy_strerror(rc) : "libcurl is not loaded";
}

struct curl_slist *ckpt_curl_slist_append(struct curl_slist *list, const char *s)
{
	return ready() ? curl.curl_slist_append(list, s) : NULL;
}

void ckpt_curl_slist_free_all(struct curl_slist *list) { if (ready()) curl.curl_slist_free_all(list); }

/* Each setopt passes exactly one argument of the type libcurl reads for `opt`. */
#define SETOPT(h, opt, v) (ready() ? curl.curl_easy_setopt((h), (opt), (v)) : CURLE_FAILED_INIT)

CURLcode ckpt_curl_setopt_long(CURL *h, CURLoption opt, long v) { return SETOPT(h, opt, v); }
CURLcode ckpt_curl_setopt_off(CURL *h, CURLoption opt, curl_off_t v) { return SETOPT(h, opt, v); }
CURLcode ckpt_curl_setopt_str(CURL *h, CURLoption opt, const char *s) { return SETOPT(h, opt, s); }
CURLcode ckpt_curl_setopt_ptr(CURL *h, CURLoption opt, void *p) { return SETOPT(h, opt, p); }

static CURLcode set_cb(CURL *h, CURLoption fopt, CURLoption dopt, ckpt_curl_data_cb f, void *user)
{
	CURLcode rc = SETOPT(h, fopt, f);
	return rc != CURLE_OK ? rc : SETOPT(h, dopt, user);
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

CURLcode ckpt_curl_getinfo_long(CURL *h, CURLINFO info, long *out)
{
	return ready() ? curl.curl_easy_getinfo(h, info, out) : CURLE_FAILED_INIT;
}
