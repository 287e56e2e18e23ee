/*
 * mod_expect_config.c - the configuration structs' life: creation with
 * UNSET sentinels, explicit merges, and the few accessors every glue file
 * shares.  The directives that fill them are in mod_expect.c.
 */
#include "httpd.h"
#include "http_config.h"

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
    conf->slot = -1;
    conf->judge = EXPECT_UNSET;
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
    conf->slot = -1;
    conf->judge = add->judge != EXPECT_UNSET ? add->judge : base->judge;
    conf->judge_at = add->judge != EXPECT_UNSET ? add->judge_at : base->judge_at;
    conf->section_at = add->section_at;
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
