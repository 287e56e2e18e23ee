/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mod_expect_config.c - the configuration structs' life: creation with
 * UNSET sentinels, explicit merges, and the few accessors every glue file
 * shares.  The directives that fill them are in mod_expect.c.
 */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "ap_listen.h"
#include "apr_hash.h"
#include "apr_strings.h"

#include "mod_expect_config.h"

void *expect_create_dir_conf(apr_pool_t *p, char *dir)
{
    expect_dir_conf *conf = apr_pcalloc(p, sizeof(*conf));
    (void)dir;
    conf->policy = EXPECT_POLICY_UNSET;
    conf->strict = EXPECT_UNSET;
    return conf;
}

void *expect_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    const expect_dir_conf *base = basev;
    const expect_dir_conf *add = addv;
    expect_dir_conf *conf = apr_palloc(p, sizeof(*conf));

    conf->policy = (add->policy != EXPECT_POLICY_UNSET) ? add->policy : base->policy;
    conf->strict = (add->strict != EXPECT_UNSET) ? add->strict : base->strict;
    return conf;
}

void *expect_create_srv_conf(apr_pool_t *p, server_rec *s)
{
    expect_srv_conf *conf = apr_pcalloc(p, sizeof(*conf));
    (void)s;
    conf->event_slots = EXPECT_UNSET;
    conf->retry_window = EXPECT_UNSET;
    conf->retry_slots = EXPECT_UNSET;
    conf->slot = -1;
    conf->judge = EXPECT_UNSET;
    conf->unknown = EXPECT_UNSET;
    return conf;
}

/*
 * The segment settings are global; slot and name are set per generation.
 * A vhost inherits the main server's ExpectJudge; section_at stays the
 * vhost's own (check_config looks at the main server's too).
 */
void *expect_merge_srv_conf(apr_pool_t *p, void *basev, void *addv)
{
    const expect_srv_conf *base = basev;
    const expect_srv_conf *add = addv;
    expect_srv_conf *conf = apr_pcalloc(p, sizeof(*conf));

    conf->shm_path = base->shm_path;
    conf->event_slots = base->event_slots;
    conf->retry_window = base->retry_window;
    conf->retry_slots = base->retry_slots;
    conf->slot = -1;
    conf->judge = add->judge != EXPECT_UNSET ? add->judge : base->judge;
    conf->judge_at = add->judge != EXPECT_UNSET ? add->judge_at : base->judge_at;
    conf->section_at = add->section_at;
    conf->unknown = add->unknown != EXPECT_UNSET ? add->unknown : base->unknown;
    return conf;
}

expect_policy_t expect_configured_policy(const expect_dir_conf *dc)
{
    return dc->policy == EXPECT_POLICY_UNSET ? EXPECT_POLICY_DEFAULT : dc->policy;
}

int expect_configured_strict(const expect_dir_conf *dc)
{
    return dc->strict == EXPECT_UNSET ? 0 : dc->strict;
}

static const expect_shm_t *segment;

const expect_shm_t *expect_config_segment(void)
{
    return segment;
}

void expect_config_set_segment(const expect_shm_t *shm)
{
    segment = shm;
}

static apr_port_t vhost_port(const server_rec *s)
{
    if (s->addrs != NULL && s->addrs->host_port != 0) {
        return s->addrs->host_port;
    }
    if (s->port != 0) {
        return s->port;
    }
    if (ap_listeners != NULL && ap_listeners->bind_addr != NULL) {
        return ap_listeners->bind_addr->port;
    }
    return 0;
}

/* The vhost's first address as apache2 -S shows it; "*" for a wildcard
 * or the main server. */
static const char *vhost_addr(apr_pool_t *p, const server_rec *s)
{
    char *ip = NULL;

    if (!s->is_virtual || s->addrs == NULL || s->addrs->host_addr == NULL
        || apr_sockaddr_ip_get(&ip, s->addrs->host_addr) != APR_SUCCESS || ip == NULL
        || strcmp(ip, "0.0.0.0") == 0 || strcmp(ip, "::") == 0) {
        return "*";
    }
    return s->addrs->host_addr->family == APR_INET6 ? apr_pstrcat(p, "[", ip, "]", NULL) : ip;
}

/* How often each name occurs among the servers, by the current names. */
static apr_hash_t *count_names(apr_pool_t *ptemp, server_rec *s)
{
    apr_hash_t *seen = apr_hash_make(ptemp);
    int *n;

    for (; s != NULL; s = s->next) {
        const char *name = expect_srv_config(s)->name;
        n = apr_hash_get(seen, name, APR_HASH_KEY_STRING);
        if (n == NULL) {
            n = apr_pcalloc(ptemp, sizeof(*n));
            apr_hash_set(seen, name, APR_HASH_KEY_STRING, n);
        }
        (*n)++;
    }
    return seen;
}

void expect_config_name_vhosts(apr_pool_t *p, apr_pool_t *ptemp, server_rec *s)
{
    apr_hash_t *seen;
    server_rec *v;
    int *n;

    for (v = s; v != NULL; v = v->next) {
        expect_srv_conf *sc = expect_srv_config(v);
        sc->name = apr_psprintf(p, "%s:%u",
                                v->server_hostname ? v->server_hostname : "localhost",
                                (unsigned)vhost_port(v));
    }
    /* Two IP-based vhosts may share name and port: add the address. */
    seen = count_names(ptemp, s);
    for (v = s; v != NULL; v = v->next) {
        expect_srv_conf *sc = expect_srv_config(v);
        n = apr_hash_get(seen, sc->name, APR_HASH_KEY_STRING);
        if (*n > 1) {
            sc->name = apr_pstrcat(p, sc->name, "@", vhost_addr(ptemp, v), NULL);
        }
    }
    /* Still the same (the same address too): add where each is defined.
     * Not a number by position: another vhost added in between would shift
     * the numbers, and an override or counters would follow the number to
     * another vhost.  A moved definition changes the name instead, and its
     * override is dropped rather than misapplied. */
    seen = count_names(ptemp, s);
    for (v = s; v != NULL; v = v->next) {
        expect_srv_conf *sc = expect_srv_config(v);
        const char *file = v->defn_name ? v->defn_name : "", *base = strrchr(file, '/');
        n = apr_hash_get(seen, sc->name, APR_HASH_KEY_STRING);
        if (*n > 1) {
            sc->name = apr_psprintf(p, "%s#%s:%u", sc->name, base ? base + 1 : file,
                                    v->defn_line_number);
        }
    }
}
