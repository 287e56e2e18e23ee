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
    conf->event_log = base->event_log;
    conf->slot = -1;
    conf->judge = add->judge != EXPECT_UNSET ? add->judge : base->judge;
    conf->judge_at = add->judge != EXPECT_UNSET ? add->judge_at : base->judge_at;
    conf->section_at = add->section_at;
    conf->unknown = add->unknown != EXPECT_UNSET ? add->unknown : base->unknown;
    /* A row name names one server: never inherited. */
    conf->stats_name = add->stats_name;
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

const expect_shm_t *expect_current_segment;
static const uint64_t no_pending;
const uint64_t *expect_pending_now = &no_pending;

void expect_config_set_segment(const expect_shm_t *shm)
{
    expect_current_segment = shm;
    expect_pending_now = shm != NULL && shm->hdr != NULL ? &shm->hdr->pending_now : &no_pending;
}

#define STR_(x) #x
#define STR(x) STR_(x)
const char *expect_config_state_key(apr_pool_t *p, const char *what, size_t size)
{
    return apr_psprintf(p, "mod_expect.%s.v" STR(EXPECT_SHM_LAYOUT_VERSION) ".%lu", what,
                        (unsigned long)size);
}

static const expect_carried_t *carried_now;

void expect_config_set_carried(const expect_carried_t *c)
{
    carried_now = c;
}

const expect_carried_t *expect_config_carried(void)
{
    return carried_now;
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

/*
 * Does the vhost's address tell it apart from what else a client reaching
 * that port could be talking to?  Not where httpd listens on the port at
 * that address only: every client of the port reaches it there, and the
 * name stays "name:port" (what the tests' and many one-address servers'
 * rows are).  The answer depends on the Listen lines and the vhost's own
 * address only, never on other vhosts.
 */
static int address_tells_apart(apr_pool_t *p, const server_rec *v, const char *addr,
                               apr_port_t port)
{
    const ap_listen_rec *l;
    char *ip;

    if (strcmp(addr, "*") == 0) {
        return 0;
    }
    for (l = ap_listeners; l != NULL; l = l->next) {
        if (l->bind_addr == NULL || l->bind_addr->port != port) {
            continue;
        }
        ip = NULL;
        if (apr_sockaddr_ip_get(&ip, l->bind_addr) != APR_SUCCESS || ip == NULL
            || l->bind_addr->family != v->addrs->host_addr->family
            || strcmp(strchr(addr, '[') ? apr_pstrcat(p, "[", ip, "]", NULL) : ip,
                      addr) != 0) {
            return 1;
        }
    }
    return 0;
}

/* The server's own ExpectStatsName: never the main server's, which a vhost
 * without directives of ours shares (or was copied from in post_config). */
static const char *own_stats_name(const server_rec *main, const server_rec *v)
{
    const expect_srv_conf *sc = expect_srv_config(v);

    return (v == main || sc->stats_name != expect_srv_config(main)->stats_name)
           ? sc->stats_name : NULL;
}

const char *expect_server_label(apr_pool_t *p, const server_rec *s)
{
    if (!s->is_virtual) {
        return "the main server";
    }
    return apr_psprintf(p, "virtual host %s (%s:%d)",
                        s->server_hostname ? s->server_hostname : "(unnamed)",
                        s->defn_name ? s->defn_name : "?", (int)s->defn_line_number);
}

/*
 * What identifies a vhost to a client, and nothing else: a line added
 * above it, a file renamed or another vhost added, moved or removed
 * changes no other row's name, so counters and overrides, which follow
 * the name across restarts, stay where they were.  Only true duplicates
 * (httpd routes by name to the first of them) need an order, and then
 * only among themselves: the first keeps the plain name.
 */
static const char *row_name(apr_pool_t *p, apr_pool_t *ptemp, server_rec *s,
                            const server_rec *v, apr_hash_t *dups)
{
    const char *name = own_stats_name(s, v), *base, *addr;
    apr_port_t port;
    int *n;

    if (v == s) {
        return name != NULL ? name : EXPECT_MAIN_ROW_NAME;
    }
    port = vhost_port(v);
    addr = vhost_addr(ptemp, v);
    if (!address_tells_apart(ptemp, v, addr, port)) {
        addr = NULL;
    }
    base = apr_psprintf(p, "%s:%u%s%s", v->server_hostname ? v->server_hostname : "localhost",
                        (unsigned)port, addr ? "@" : "", addr ? addr : "");
    /* Counted whether or not the vhost is named: naming one duplicate
     * leaves the others' numbers alone. */
    n = apr_hash_get(dups, base, APR_HASH_KEY_STRING);
    if (n == NULL) {
        n = apr_pcalloc(ptemp, sizeof(*n));
        apr_hash_set(dups, base, APR_HASH_KEY_STRING, n);
    }
    ++*n;
    return name != NULL ? name : *n == 1 ? base : apr_psprintf(p, "%s~%d", base, *n);
}

const char *expect_config_row_names(apr_pool_t *p, apr_pool_t *ptemp, server_rec *s,
                                    apr_array_header_t **out)
{
    apr_hash_t *dups = apr_hash_make(ptemp), *taken = apr_hash_make(ptemp);
    apr_array_header_t *servers = apr_array_make(ptemp, 16, sizeof(server_rec *));
    apr_array_header_t *names;
    const server_rec *other;
    const char *name;
    server_rec *v;
    int i;

    for (v = s; v != NULL; v = v->next) {
        APR_ARRAY_PUSH(servers, server_rec *) = v;
    }
    names = apr_array_make(p, servers->nelts, sizeof(const char *));
    names->nelts = servers->nelts;
    /* httpd puts each vhost it reads in front of the earlier ones: from
     * the end is configuration order, the order duplicates are routed in. */
    for (i = servers->nelts - 1; i >= 0; i--) {
        /* elts is a char *: through void *, as APR_ARRAY_IDX would cast it
         * (clang's -Wcast-align). */
        v = ((server_rec **)(void *)servers->elts)[i];
        name = row_name(p, ptemp, s, v, dups);
        other = apr_hash_get(taken, name, APR_HASH_KEY_STRING);
        if (other != NULL) {
            return apr_psprintf(ptemp, "%s and %s would both have the statistics row "
                                "'%s'; give one of them another ExpectStatsName",
                                expect_server_label(ptemp, other),
                                expect_server_label(ptemp, v), name);
        }
        apr_hash_set(taken, name, APR_HASH_KEY_STRING, v);
        ((const char **)(void *)names->elts)[i] = name;
    }
    *out = names;
    return NULL;
}

/* check_config has refused any configuration where two rows would share a
 * name, so the names are there. */
void expect_config_name_vhosts(apr_pool_t *p, apr_pool_t *ptemp, server_rec *s)
{
    apr_array_header_t *names = NULL;
    server_rec *v;
    int i = 0;

    if (expect_config_row_names(p, ptemp, s, &names) != NULL) {
        return;
    }
    for (v = s; v != NULL; v = v->next, i++) {
        expect_srv_config(v)->name = ((const char **)(void *)names->elts)[i];
    }
}
