/* awscred_internal.h: what the AWS client's files share: the settings files as the AWS tools write them
 * (used by sqs.c for the region and the endpoint too), and the credential provider's sources. awscred.c
 * finds the source and keeps its credentials fresh; awscred_fetch.c asks each kind of source; awscred_read.c
 * reads their answers. Private to src/receive/. */
#ifndef LEVEE_AWSCRED_INTERNAL_H
#define LEVEE_AWSCRED_INTERNAL_H

#include "levee/awscred.h"
#include "levee/curl.h"

#include <pthread.h>
#include <stdatomic.h>

/* ---- settings ---- */

/* getenv, with an empty value taken as unset. */
const char *aw_env(const char *name);
char *aw_trim(char *s);
/* The value of key in [section] of an INI file as the AWS tools write them (NULL when the file, the
 * section or the key is absent, or the value empty; to free). Indented lines continue a nested setting
 * and are skipped. */
char *aw_ini_get(const char *path, const char *section, const char *key);

typedef struct aw_profile {
    char name[256];
    char credentials[1024], config[1024];
    char config_section[300];
} aw_profile;

/* The profile name (NULL: $AWS_PROFILE, else "default") and the files (AWS_SHARED_CREDENTIALS_FILE,
 * AWS_CONFIG_FILE, else under home, else $HOME). */
void aw_profile_init(aw_profile *p, const char *name, const char *home);
/* Another profile of the same files. */
void aw_profile_other(aw_profile *p, const aw_profile *of, const char *name);
/* A setting of the profile: from the credentials file first, then the config file (*from says which;
 * from may be NULL). */
char *aw_profile_get(const aw_profile *p, const char *key, const char **from);

/* ---- sources ---- */

typedef enum aw_kind {
    AW_STATIC,
    AW_WEB_IDENTITY,
    AW_ASSUME_ROLE,
    AW_SSO,
    AW_PROCESS,
    AW_CONTAINER,
    AW_INSTANCE,
} aw_kind;

typedef struct aw_source aw_source;
struct aw_source {
    aw_kind kind;
    char *desc;          /* where the credentials come from, for messages */
    char *hint;          /* what to check when AWS refuses them */
    lv_awscred_keys held;
    int64_t fetched_ms;  /* last attempt to fetch them */
    /* web identity, assume role */
    char *role_arn, *session_name, *token_file, *external_id;
    unsigned duration;   /* DurationSeconds (0: STS's default) */
    aw_source *base;     /* assume role: the source profile's credentials */
    char *sts_endpoint;  /* where STS is asked (ends with '/') */
    char *sts_region;    /* the region its requests are signed for */
    /* IAM Identity Center */
    char *sso_profile, *sso_start_url, *sso_region, *sso_account, *sso_role, *sso_cache, *sso_endpoint;
    char *sso_oidc;      /* where an sso_session's login is renewed (NULL: a login without sso_session) */
    /* credential_process */
    char *command;
    /* container, instance */
    char *url;
};

struct lv_awscred {
    atomic_uint refs;
    pthread_mutex_t lock;
    pthread_cond_t refreshed;
    bool refreshing;     /* a thread is fetching top's credentials again (outside the lock) */
    aw_source *top;
    uint64_t generation; /* changes when top's credentials do */
    CURL *curl;          /* used by one thread at a time: the one opening, or the one refreshing */
    lv_buf answer;
    bool answer_too_big;
    char errbuf[CURL_ERROR_SIZE];
};

void aw_source_free(aw_source *s);

/* Fetches s's credentials into *out (s->base's are fresh already). LV_EINVAL: refused or set up wrong;
 * LV_EIO: the source could not be reached or failed. */
lv_status aw_fetch(lv_awscred *p, aw_source *s, lv_awscred_keys *out, lv_error *err);

#endif
