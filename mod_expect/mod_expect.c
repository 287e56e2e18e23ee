/*
 * mod_expect.c - the module: its record, its directives, the hook that
 * judges each request (translate_name or fixups, see judge_in_fixups), and
 * the registration of every glue file's hooks.  The one file that knows
 * all the others.
 *
 * The decision itself lives in expect_policy.c, which knows nothing of
 * httpd; this file only translates a request_rec into its input and
 * applies its outcome.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_strings.h"

#include "mod_expect_config.h"
#include "mod_expect_bodywatch.h"
#include "mod_expect_stats.h"
#include "mod_expect_status.h"

static const char *set_shm_file(cmd_parms *cmd, void *dconf, const char *arg)
{
    expect_srv_conf *conf = expect_srv_config(cmd->server);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    (void)dconf;
    if (err != NULL) {
        return err;
    }
    conf->shm_path = ap_server_root_relative(cmd->pool, arg);
    if (conf->shm_path == NULL) {
        return apr_psprintf(cmd->pool, "%s: invalid path '%s'", cmd->cmd->name, arg);
    }
    return NULL;
}

static const char *set_event_slots(cmd_parms *cmd, void *dconf, const char *arg)
{
    expect_srv_conf *conf = expect_srv_config(cmd->server);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    char *end = NULL;
    apr_int64_t n;
    (void)dconf;
    if (err != NULL) {
        return err;
    }
    n = apr_strtoi64(arg, &end, 10);
    if (end == arg || *end != '\0' || n < 0 || n > EXPECT_SHM_MAX_RING_SLOTS) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a number from 0 to %u",
                            cmd->cmd->name, arg, (unsigned)EXPECT_SHM_MAX_RING_SLOTS);
    }
    conf->event_slots = (int)n;
    return NULL;
}

/*
 * Where requests are judged, chosen once per configuration generation.
 *
 * The per-directory value of ExpectPolicy/ExpectStrict is final only in
 * fixups, after httpd's location, directory and file walks and its access
 * checks.  But where no Expect* directive sits in any section, that value
 * is the server's for every URL, and the same decision can be made in
 * translate_name, before all of that work (about 5,000 instructions of a
 * rejected request): mod_expect then answers as early as a server-context
 * mod_rewrite rule or an <If> would.  Only one of the two hooks is
 * registered, so a request without Expect pays for one hook, not two.
 */
static int judge_in_fixups;

static int expect_fixups(request_rec *r);

/* Sections that are not per-directory: what is in them is server config. */
static int is_server_section(const char *name)
{
    static const char *const names[] = {
        "<VirtualHost", "<IfModule", "<IfDefine", "<IfVersion", "<IfFile",
        "<IfDirective", "<IfSection", NULL
    };
    const char *const *n;

    for (n = names; *n != NULL; n++) {
        if (strcasecmp(name, *n) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Is any ExpectPolicy or ExpectStrict inside a per-directory section? */
static int policy_in_section(const ap_directive_t *d, int in_section)
{
    for (; d != NULL; d = d->next) {
        if (in_section && (strcasecmp(d->directive, "ExpectPolicy") == 0
                           || strcasecmp(d->directive, "ExpectStrict") == 0)) {
            return 1;
        }
        if (d->first_child != NULL
            && policy_in_section(d->first_child,
                                 in_section || !is_server_section(d->directive))) {
            return 1;
        }
    }
    return 0;
}

/*
 * The scan of the configuration tree decides; this is the backstop for a
 * per-directory directive it did not see (one added by another module's
 * code, say).  Registering a hook here is sound: httpd deregisters every
 * hook before it reads each generation's configuration and sorts them all
 * after the directives have run.
 */
static void note_section(cmd_parms *cmd)
{
    if (cmd->path != NULL && !judge_in_fixups
        && ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_RUN_MPM) {
        judge_in_fixups = 1;
        ap_hook_fixups(expect_fixups, NULL, NULL, APR_HOOK_REALLY_FIRST);
    }
}

static const char *set_policy(cmd_parms *cmd, void *dconf, const char *arg)
{
    expect_dir_conf *conf = dconf;
    expect_policy_t p = expect_policy_parse(arg);
    /* Not even by AllowOverrideList: the judging hook is chosen from the
     * server's configuration, which .htaccess files are not part of. */
    const char *err = ap_check_cmd_context(cmd, NOT_IN_HTACCESS);

    if (err != NULL) {
        return err;
    }
    if (p == EXPECT_POLICY_UNSET) {
        return apr_psprintf(cmd->pool,
                            "%s: unknown value '%s'; allowed values are "
                            EXPECT_POLICY_CHOICES,
                            cmd->cmd->name, arg);
    }
    conf->policy = p;
    note_section(cmd);
    return NULL;
}

static const char *set_strict(cmd_parms *cmd, void *dconf, int flag)
{
    expect_dir_conf *conf = dconf;
    const char *err = ap_check_cmd_context(cmd, NOT_IN_HTACCESS);

    if (err != NULL) {
        return err;
    }
    conf->strict = flag ? 1 : 0;
    note_section(cmd);
    return NULL;
}

/*
 * The hooks below are split in two: a tiny inline test that every request
 * pays (budgeted in make check-perf), and a separate, never-inlined part
 * that only requests with something to do reach, so its stack frame and
 * saved registers cost the others nothing.
 */
static int expect_judge(request_rec *r) __attribute__((noinline));

static int expect_fixups(request_rec *r)
{
    /* A request without "Expect: 100-continue" costs this one test. */
    if (!r->expecting_100) {
        return DECLINED;
    }
    return expect_judge(r);
}

static int expect_translate(request_rec *r)
{
    if (!r->expecting_100 || judge_in_fixups) {
        return DECLINED;
    }
    return expect_judge(r);
}

static int expect_judge(request_rec *r)
{
    const expect_dir_conf *conf;
    const char *cl;
    expect_input_t in;
    expect_outcome_t out;
    const char *name;

    conf = expect_dir_config(r->per_dir_config);
    in.expecting_100 = 1;
    in.initial = r->main == NULL && r->prev == NULL;  /* ap_is_initial_req() */
    in.http11 = r->proto_num >= HTTP_VERSION(1, 1);
    /* A Content-Length starting 1-9 is content whatever else was sent;
     * only otherwise is Transfer-Encoding looked up. */
    cl = apr_table_get(r->headers_in, "Content-Length");
    in.has_content = (cl != NULL && cl[0] >= '1' && cl[0] <= '9')
        || expect_has_content(apr_table_get(r->headers_in, "Transfer-Encoding"), cl);
    /* A runtime override from expectctl wins everywhere in the vhost. */
    in.policy = expect_stats_override(r);
    if (in.policy == EXPECT_POLICY_UNSET) {
        in.policy = (conf->policy == EXPECT_POLICY_UNSET) ? EXPECT_POLICY_DEFAULT
                                                          : conf->policy;
    }
    in.strict = (conf->strict == EXPECT_UNSET) ? 0 : conf->strict;

    expect_decide(&in, &out);
    name = expect_decision_name(out.decision);
    if (name == NULL) {
        return DECLINED;
    }
    /* Only initial requests get here, once each: nothing to replace. */
    apr_table_addn(r->notes, EXPECT_NOTE, name);
    expect_stats_decided(r, &out);

    if (out.clear_expecting) {
        r->expecting_100 = 0;
    }
    if (out.decision == EXPECT_DECIDE_IGNORE
        || (out.decision == EXPECT_DECIDE_HTTP10 && !out.clear_expecting)) {
        /* Content goes on without a 100: keep-alive only if it gets read. */
        expect_body_watch(r, out.decision);
    }
    if (out.status == HTTP_EXPECTATION_FAILED) {
        /*
         * r->expecting_100 stays set: httpd then neither reads the body nor
         * keeps the connection, so whatever the client sends next is
         * discarded by lingering close instead of being parsed as a request.
         */
        r->connection->keepalive = AP_CONN_CLOSE;
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, EXPLOGNO(0001)
                      "rejecting Expect: 100-continue on %s %s (%s)",
                      r->method, r->uri,
                      out.why == EXPECT_WHY_STRICT
                          ? "ExpectStrict On and the request has no content"
                          : "ExpectPolicy reject");
        return HTTP_EXPECTATION_FAILED;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, EXPLOGNO(0002)
                  "Expect: 100-continue on %s %s: %s", r->method, r->uri, name);
    return DECLINED;
}

/*
 * httpd gives an internal redirect (an ErrorDocument, a rewrite) fresh
 * r->notes, and mod_log_config reads %{...}n from the last request of the
 * chain; carry the decision there so %{expect-decision}n still shows it.
 */
static void carry_note(request_rec *r)
{
    const char *decision;
    request_rec *last;

    decision = apr_table_get(r->notes, EXPECT_NOTE);
    if (decision != NULL) {
        for (last = r->next; last->next != NULL; last = last->next) {
            continue;
        }
        apr_table_setn(last->notes, EXPECT_NOTE, decision);
    }
}

static int expect_log_slow(request_rec *r) __attribute__((noinline));

static int expect_log_slow(request_rec *r)
{
    if (r->next != NULL) {
        carry_note(r);
    }
    return expect_stats_log_transaction(r);
}

/* Nothing to do unless the request ended in 417 or was redirected. */
static int expect_log_transaction(request_rec *r)
{
    if (r->next == NULL && r->status != HTTP_EXPECTATION_FAILED) {
        return DECLINED;
    }
    return expect_log_slow(r);
}

static int expect_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    (void)pconf;
    (void)plog;
    (void)ptemp;
    /* REALLY_FIRST either way: mod_rewrite and mod_proxy translate and fix
     * up at FIRST, and a request they redirect or proxy must already have
     * been judged. */
    judge_in_fixups = policy_in_section(ap_conftree, 0);
    if (judge_in_fixups) {
        ap_hook_fixups(expect_fixups, NULL, NULL, APR_HOOK_REALLY_FIRST);
    }
    else {
        ap_hook_translate_name(expect_translate, NULL, NULL, APR_HOOK_REALLY_FIRST);
    }
    return OK;
}

static int expect_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                              apr_pool_t *ptemp, server_rec *s)
{
    (void)plog;
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, EXPLOGNO(0015)
                 "judging Expect: 100-continue in %s",
                 judge_in_fixups ? "fixups (an Expect* directive is in a section)"
                                 : "translate_name (no Expect* directive is in a section)");
    return expect_stats_post_config(pconf, ptemp, s);
}

static const command_rec expect_cmds[] = {
    AP_INIT_TAKE1("ExpectPolicy", set_policy, NULL, RSRC_CONF | ACCESS_CONF,
                  "What to do with Expect: 100-continue: continue, reject or ignore"),
    AP_INIT_FLAG("ExpectStrict", set_strict, NULL, RSRC_CONF | ACCESS_CONF,
                 "On: answer 417 to 100-continue on a request without content"),
    AP_INIT_TAKE1("ExpectShmFile", set_shm_file, NULL, RSRC_CONF,
                  "Path of the shared statistics segment expectctl attaches to"),
    AP_INIT_TAKE1("ExpectEventSlots", set_event_slots, NULL, RSRC_CONF,
                  "Number of recent 417 events kept; 0 records none"),
    {NULL}
};

static void register_hooks(apr_pool_t *p)
{
    (void)p;
    /* The judging hook is registered by expect_pre_config, which knows
     * the configuration. */
    ap_hook_pre_config(expect_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(expect_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    expect_status_register_hooks();
    expect_body_watch_register();
    /* Before mod_log_config (MIDDLE) formats the line; counts every 417. */
    ap_hook_log_transaction(expect_log_transaction, NULL, NULL, APR_HOOK_REALLY_FIRST);
}

AP_DECLARE_MODULE(expect) = {
    STANDARD20_MODULE_STUFF,
    expect_create_dir_conf,
    expect_merge_dir_conf,
    expect_create_srv_conf,
    expect_merge_srv_conf,
    expect_cmds,
    register_hooks,
    AP_MODULE_FLAG_NONE
};
