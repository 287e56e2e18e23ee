/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mod_expect.c - the module: its record, its directives, the hook that
 * judges each request (fixups, or translate_name with ExpectJudge early), and
 * the registration of every glue file's hooks.  The one file that knows
 * all the others.
 *
 * The decision itself lives in expect_policy.c, which knows nothing of
 * httpd; this file only translates a request_rec into its input and
 * applies its outcome.
 */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mod_core.h"
#include "mpm_common.h"
#include "apr_lib.h"
#include "apr_strings.h"

#include "mod_expect_config.h"
#include "mod_expect_bodywatch.h"
#include "mod_expect_eventlog.h"
#include "mod_expect_stats.h"
#include "mod_expect_status.h"
#include "mod_expect_unknown.h"

/*
 * What apache2 -t can tell of ExpectShmFile's directory, as sshd's
 * StrictModes does: it exists, it is a directory, and nobody but root (or
 * the user httpd starts as) can write it.  In a directory others can
 * write, any local user could plant PATH.new or PATH.ctl and stop httpd
 * from building its segment.
 */
static const char *check_shm_dir(cmd_parms *cmd, const char *path)
{
    char *dir = apr_pstrdup(cmd->pool, path), *slash = strrchr(dir, '/');
    struct stat st;

    if (slash == NULL) {
        return NULL;  /* ap_server_root_relative made it absolute */
    }
    *(slash == dir ? slash + 1 : slash) = '\0';
    if (stat(dir, &st) != 0) {
        return apr_psprintf(cmd->pool, "%s: the directory %s of %s %s", cmd->cmd->name,
                            dir, path, errno == ENOENT ? "does not exist"
                                                       : "cannot be examined");
    }
    if (!S_ISDIR(st.st_mode)) {
        return apr_psprintf(cmd->pool, "%s: %s (the directory of %s) is not a directory",
                            cmd->cmd->name, dir, path);
    }
    if (st.st_uid != 0 && st.st_uid != geteuid()) {
        return apr_psprintf(cmd->pool, "%s: the directory %s is owned by uid %lu; it must "
                            "belong to root, so that no other user can plant files in it",
                            cmd->cmd->name, dir, (unsigned long)st.st_uid);
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        return apr_psprintf(cmd->pool, "%s: the directory %s is writable by %s (mode %04o); "
                            "any user who can write it could stop httpd from building its "
                            "segment: use a directory only root can write, such as the "
                            "runtime directory", cmd->cmd->name, dir,
                            (st.st_mode & S_IWOTH) ? "every user" : "its group",
                            (unsigned)(st.st_mode & 07777));
    }
    return NULL;
}

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
    return check_shm_dir(cmd, conf->shm_path);
}

/* A number in [lo, hi], or a message naming the directive. */
static const char *parse_bounded(cmd_parms *cmd, const char *arg, apr_int64_t lo,
                                 apr_int64_t hi, apr_int64_t *out)
{
    char *end = NULL;
    apr_int64_t n = apr_strtoi64(arg, &end, 10);

    if (end == arg || *end != '\0' || n < lo || n > hi) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a number from %" APR_INT64_T_FMT
                            " to %" APR_INT64_T_FMT, cmd->cmd->name, arg, lo, hi);
    }
    *out = n;
    return NULL;
}

static const char *set_event_slots(cmd_parms *cmd, void *dconf, const char *arg)
{
    expect_srv_conf *conf = expect_srv_config(cmd->server);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_int64_t n;
    (void)dconf;

    if (err == NULL
        && (err = parse_bounded(cmd, arg, 0, EXPECT_SHM_MAX_RING_SLOTS, &n)) == NULL) {
        conf->event_slots = (int)n;
    }
    return err;
}

static const char *set_retry_window(cmd_parms *cmd, void *dconf, const char *arg)
{
    expect_srv_conf *conf = expect_srv_config(cmd->server);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_int64_t n;
    (void)dconf;

    if (err == NULL && (err = parse_bounded(cmd, arg, 0, EXPECT_RETRY_WINDOW_MAX, &n)) == NULL) {
        conf->retry_window = (int)n;
    }
    return err;
}

static const char *set_retry_slots(cmd_parms *cmd, void *dconf, const char *arg)
{
    expect_srv_conf *conf = expect_srv_config(cmd->server);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_int64_t n;
    (void)dconf;

    if (err != NULL || (err = parse_bounded(cmd, arg, 0, EXPECT_SHM_MAX_PENDING, &n)) != NULL) {
        return err;
    }
    if (n % EXPECT_PENDING_WAYS != 0) {
        return apr_psprintf(cmd->pool, "%s: %s is not a multiple of %u (the table is made "
                            "of buckets of %u)", cmd->cmd->name, arg,
                            (unsigned)EXPECT_PENDING_WAYS, (unsigned)EXPECT_PENDING_WAYS);
    }
    conf->retry_slots = (int)n;
    return NULL;
}

/*
 * Where requests are judged.
 *
 * By default in fixups, as the design says: after httpd's location,
 * directory and file walks and its access checks, so that a 401, 403, 413
 * or redirect goes out before any 417 and no body is sent twice, and the
 * per-directory ExpectPolicy/ExpectStrict is final.  `ExpectJudge early`
 * moves a server's judging to translate_name, before all of that (where a
 * server-context mod_rewrite rule answers); it is refused in check_config
 * wherever a per-directory policy applies, since none is known that early.
 *
 * Only the hooks some server uses are registered, so a request without
 * Expect pays for one hook's test when every server judges in one place.
 * pre_config registers them from a scan of the configuration tree; the
 * ExpectJudge handler is the backstop for what the scan cannot see, and
 * check_config verifies that every server's hook is there.
 */
static int hooked_fixups, hooked_early;
/* Both hooks are registered: each must leave the other's servers alone. */
static int both_hooked;
/* How many servers judge where, for the log. */
static int judged_early, judged_fixups;

static int expect_fixups(request_rec *r);
static int expect_translate(request_rec *r);

/* Registering a hook while directives run is sound: httpd deregisters
 * every hook before it reads each generation's configuration and sorts
 * them all after the directives have run. */
static void hook_judge(int judge)
{
    /* REALLY_FIRST either way: mod_rewrite and mod_proxy translate and fix
     * up at FIRST, and a request they redirect or proxy must already have
     * been judged. */
    if (judge == EXPECT_JUDGE_EARLY && !hooked_early) {
        hooked_early = 1;
        ap_hook_translate_name(expect_translate, NULL, NULL, APR_HOOK_REALLY_FIRST);
    }
    else if (judge == EXPECT_JUDGE_FIXUPS && !hooked_fixups) {
        hooked_fixups = 1;
        ap_hook_fixups(expect_fixups, NULL, NULL, APR_HOOK_REALLY_FIRST);
    }
}

typedef struct {
    int main_early;   /* the main server surely says early */
    int any_early;    /* ExpectJudge early anywhere, even in a false <IfDefine> */
    int vhost_fixups; /* a vhost says fixups */
} judge_scan_t;

/* A section that is surely in effect: only <IfModule> naming this module. */
static int surely_applies(const ap_directive_t *d)
{
    return strcasecmp(d->directive, "<IfModule") == 0 && d->args != NULL
           && (strncasecmp(d->args, "expect_module", 13) == 0
               || strncasecmp(d->args, "mod_expect.c", 12) == 0);
}

static void scan_judge(const ap_directive_t *d, int top, int in_vhost, judge_scan_t *sc)
{
    for (; d != NULL; d = d->next) {
        if (strcasecmp(d->directive, "ExpectJudge") == 0 && d->args != NULL) {
            int early = strncasecmp(d->args, "early", 5) == 0;
            sc->any_early |= early;
            if (top) {
                sc->main_early = early;
            }
            else if (in_vhost && !early) {
                sc->vhost_fixups = 1;
            }
        }
        if (d->first_child != NULL) {
            int vhost = strcasecmp(d->directive, "<VirtualHost") == 0;
            scan_judge(d->first_child, top && !vhost && surely_applies(d),
                       in_vhost || vhost, sc);
        }
    }
}

static const char *set_judge(cmd_parms *cmd, void *dconf, const char *arg)
{
    expect_srv_conf *conf = expect_srv_config(cmd->server);
    (void)dconf;

    if (strcasecmp(arg, "fixups") == 0) {
        conf->judge = EXPECT_JUDGE_FIXUPS;
    }
    else if (strcasecmp(arg, "early") == 0) {
        conf->judge = EXPECT_JUDGE_EARLY;
    }
    else {
        return apr_psprintf(cmd->pool, "%s: unknown value '%s'; allowed values are "
                            "fixups and early", cmd->cmd->name, arg);
    }
    conf->judge_at = apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename,
                                  cmd->directive->line_num);
    hook_judge(conf->judge);
    return NULL;
}

/* Remember where the first per-directory policy of this server's own
 * configuration is: ExpectJudge early is refused wherever one applies. */
static void note_section(cmd_parms *cmd)
{
    expect_srv_conf *sc;
    const ap_directive_t *sect;

    if (cmd->path == NULL) {
        return;
    }
    sc = expect_srv_config(cmd->server);
    if (sc->section_at == NULL) {
        /* A section's args end with its '>'. */
        sect = cmd->directive->parent;
        sc->section_at = apr_psprintf(cmd->pool, "%s in %s%s%s at %s:%d", cmd->cmd->name,
                                      sect ? sect->directive : "<a section",
                                      sect && sect->args ? " " : "",
                                      sect && sect->args ? sect->args : ">",
                                      cmd->directive->filename, cmd->directive->line_num);
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

/* Server-wide or per vhost: the vhost is known only after the head is
 * read, so the hooks that hide Expect from core are in whenever any server
 * says ignore, and each request is judged by its vhost's setting. */
static const char *set_unknown(cmd_parms *cmd, void *dconf, const char *arg)
{
    expect_srv_conf *conf = expect_srv_config(cmd->server);
    (void)dconf;

    if (strcasecmp(arg, "reject") == 0) {
        conf->unknown = EXPECT_UNKNOWN_REJECT;
    }
    else if (strcasecmp(arg, "ignore") == 0) {
        conf->unknown = EXPECT_UNKNOWN_IGNORE;
        expect_unknown_hook();
    }
    else {
        return apr_psprintf(cmd->pool, "%s: unknown value '%s'; allowed values are "
                            "reject and ignore", cmd->cmd->name, arg);
    }
    return NULL;
}

/*
 * The characters any client of the row understands unquoted: expectctl's
 * arguments (no leading '-', which it would take for an option), a shell
 * word, a Prometheus label and JSON.  Unique names are checked in
 * check_config, when every server is known.
 */
static const char *set_stats_name(cmd_parms *cmd, void *dconf, const char *arg)
{
    expect_srv_conf *conf = expect_srv_config(cmd->server);
    size_t i, len = strlen(arg);
    (void)dconf;

    for (i = 0; i < len; i++) {
        if (!apr_isalnum(arg[i]) && (i == 0 || strchr(".-_:@~+", arg[i]) == NULL)) {
            break;
        }
    }
    if (len == 0 || len >= EXPECT_SHM_NAME_LEN || i < len) {
        return apr_psprintf(cmd->pool, "%s: '%s' cannot name a row: use 1 to %d ASCII "
                            "letters, digits and . - _ : @ ~ +, starting with a letter or "
                            "digit", cmd->cmd->name, arg, EXPECT_SHM_NAME_LEN - 1);
    }
    conf->stats_name = arg;
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
 *
 * A request walks mod_expect.c (gathers its facts) -> expect_policy.c
 * (decides) -> mod_expect_stats.c (records) -> mod_expect_bodywatch.c,
 * and never back to a file it left (make check-arch checks it).
 */
static int expect_judge(request_rec *r, int phase) __attribute__((noinline));
static int expect_came_back(request_rec *r, int phase) __attribute__((noinline));
static void explain_rejection(request_rec *r, expect_why_t why) __attribute__((noinline));

/* What retry tracking needs of an initial upload while 417s are pending
 * in its vhost (the caller tested the gauges): the keys its client's 417
 * may be remembered by. */
static void gather_retry(const request_rec *r, expect_facts_t *f)
{
    const expect_shm_t *seg = expect_config_segment();
    const char *ua;

    if (seg == NULL || f->sc->slot < 0 || !f->in.initial || !f->in.has_content) {
        return;
    }
    ua = apr_table_get(r->headers_in, "User-Agent");
    f->retry_key = expect_request_retry_key(r, seg, f->sc->slot, r->useragent_ip, ua);
    f->retry_key_peer = strcmp(r->useragent_ip, r->connection->client_ip) == 0 ? 0
        : expect_request_retry_key(r, seg, f->sc->slot, r->connection->client_ip, ua);
}

/* The facts every judged request needs, read once. */
static void gather(request_rec *r, expect_facts_t *f)
{
    const expect_dir_conf *conf = expect_dir_config(r->per_dir_config);

    f->sc = expect_srv_config(r->server);
    f->in.expecting_100 = 1;   /* the judging hooks run only then */
    f->in.initial = r->main == NULL && r->prev == NULL;  /* ap_is_initial_req() */
    f->in.http11 = r->proto_num >= HTTP_VERSION(1, 1);
    f->content_length = apr_table_get(r->headers_in, "Content-Length");
    f->in.has_content = expect_content_given(r, f->content_length);
    /* A runtime override from expectctl wins everywhere in the vhost. */
    f->in.policy = expect_config_override(f->sc);
    if (f->in.policy == EXPECT_POLICY_UNSET) {
        f->in.policy = (conf->policy == EXPECT_POLICY_UNSET) ? EXPECT_POLICY_DEFAULT
                                                             : conf->policy;
    }
    f->in.strict = (conf->strict == EXPECT_UNSET) ? 0 : conf->strict;
    f->retry_key = 0;
}

/* A request without Expect while 417s are pending in its vhost: if it is
 * an upload whose client was 417'd, that 417 is retried. */
static int expect_came_back(request_rec *r, int phase)
{
    expect_facts_t f;

    f.sc = expect_srv_config(r->server);
    /* With both hooks in use, only the server's own place looks, once:
     * a second look would miss its own key and could take another
     * client's behind the same proxy (retry_key_peer). */
    if (both_hooked && f.sc->judge != phase) {
        return DECLINED;
    }
    f.in.initial = r->main == NULL && r->prev == NULL;
    f.content_length = apr_table_get(r->headers_in, "Content-Length");
    f.in.has_content = expect_content_given(r, f.content_length);
    f.retry_key = 0;
    gather_retry(r, &f);
    if (f.retry_key != 0) {
        expect_stats_record(r, &f, NULL);
    }
    return DECLINED;
}

/*
 * A request without "Expect: 100-continue" costs these two tests: its own
 * flag, then the count of 417s pending anywhere (and, while some are, in
 * its vhost).  While one is, it may be a 417'd client coming back, seen
 * here, as it arrives (an upload can take longer than ExpectRetryWindow to
 * finish).
 */
static int expect_fixups(request_rec *r)
{
    if (!r->expecting_100) {
        return expect_maybe_retry(expect_srv_config(r->server))
                   ? expect_came_back(r, EXPECT_JUDGE_FIXUPS) : DECLINED;
    }
    return expect_judge(r, EXPECT_JUDGE_FIXUPS);
}

static int expect_translate(request_rec *r)
{
    if (!r->expecting_100) {
        return expect_maybe_retry(expect_srv_config(r->server))
                   ? expect_came_back(r, EXPECT_JUDGE_EARLY) : DECLINED;
    }
    return expect_judge(r, EXPECT_JUDGE_EARLY);
}

static int expect_judge(request_rec *r, int phase)
{
    expect_facts_t f;
    expect_outcome_t out;
    const char *name;

    /* With one hook, every server judges there (check_config made sure). */
    if (both_hooked && expect_srv_config(r->server)->judge != phase) {
        return DECLINED;
    }
    gather(r, &f);
    expect_decide(&f.in, &out);
    name = expect_decision_name(out.decision);
    if (name == NULL) {
        return DECLINED;
    }
    /* Retry tracking needs the client's key only for an upload let
     * through while 417s are pending in its vhost. */
    if (out.status != HTTP_EXPECTATION_FAILED && expect_maybe_retry(f.sc)) {
        gather_retry(r, &f);
    }
    /* Only initial requests get here, once each: nothing to replace. */
    apr_table_addn(r->notes, EXPECT_NOTE, name);
    expect_stats_record(r, &f, &out);

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
        explain_rejection(r, out.why);
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
 * The body of mod_expect's own 417s, in the form of httpd's error pages.
 * httpd's canned 417 text is written for core's refusal of an unknown
 * expectation: it echoes "Expect: 100-continue" and then says that only
 * 100-continue is supported, which tells a client rejected by policy
 * nothing it can act on.  Static text: nothing from the request is echoed.
 */
#define EXPLAIN_HEAD DOCTYPE_HTML_2_0 \
    "<html><head>\n<title>417 Expectation Failed</title>\n</head><body>\n" \
    "<h1>Expectation Failed</h1>\n"
#define EXPLAIN_TAIL "</body></html>\n"

/* Each begins with the double quote that marks a custom response as a text
 * (see explain_rejection). */
static const char explain_policy[] = "\"" EXPLAIN_HEAD
    "<p>This URL does not accept requests with <code>Expect: 100-continue</code>.\n"
    "None of the request body was read.\n"
    "Send the request again without the <code>Expect</code> header.</p>\n"
    EXPLAIN_TAIL;

static const char explain_strict[] = "\"" EXPLAIN_HEAD
    "<p>This request has no body, so it must not send\n"
    "<code>Expect: 100-continue</code> (RFC 9110, section 10.1.1),\n"
    "and this URL refuses requests that do.\n"
    "Send the request again without the <code>Expect</code> header.</p>\n"
    EXPLAIN_TAIL;

/*
 * Give the 417 that text, unless something else already says what it
 * should be.  A text set as a custom response belongs to the request and
 * would win over the ErrorDocument of the request's configuration, so it
 * is set only when ap_response_code_string() finds no ErrorDocument 417
 * (nor another module's custom response) for this request: the one ap_die()
 * would use.  "ErrorDocument 417 default" finds none, and gets this text.
 * A leading double quote marks a custom response as a text, which
 * ap_send_error_response() strips, sending the rest as the body with its
 * error pages' Content-Type, text/html; charset=iso-8859-1.
 *
 * This does what ap_custom_response() does, into the same public field of
 * core's request config, but points at the static text where
 * ap_custom_response() would copy the whole page (about 700 instructions,
 * a fifth of a rejected request's cost in this module).  Nothing here
 * touches r->expecting_100 or reads the body.
 */
static void explain_rejection(request_rec *r, expect_why_t why)
{
    core_request_config *core;

    if (ap_response_code_string(r, ap_index_of_response(HTTP_EXPECTATION_FAILED)) != NULL) {
        return;
    }
    core = ap_get_core_module_config(r->request_config);
    if (core->response_code_strings == NULL) {
        core->response_code_strings =
            apr_pcalloc(r->pool, sizeof(*core->response_code_strings) * RESPONSE_CODES);
    }
    /* Never written through: ap_send_error_response() only reads it. */
    core->response_code_strings[ap_index_of_response(HTTP_EXPECTATION_FAILED)] =
        (char *)(uintptr_t)(why == EXPECT_WHY_STRICT ? explain_strict : explain_policy);
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
    judge_scan_t sc = {0, 0, 0};

    (void)pconf;
    (void)plog;
    (void)ptemp;
    hooked_fixups = hooked_early = both_hooked = 0;
    expect_unknown_reset();
    scan_judge(ap_conftree, 1, 0, &sc);
    if (!sc.main_early || sc.vhost_fixups) {
        hook_judge(EXPECT_JUDGE_FIXUPS);
    }
    if (sc.any_early) {
        hook_judge(EXPECT_JUDGE_EARLY);
    }
    return OK;
}

/*
 * Every server's judging place, resolved: ExpectJudge early where no
 * per-directory policy applies to the server (its own sections, or the
 * main server's, which every vhost inherits), and a hook for each place.
 */
static int expect_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                               apr_pool_t *ptemp, server_rec *s)
{
    const expect_srv_conf *mc = expect_srv_config(s);
    apr_array_header_t *names;
    const char *err;
    server_rec *v;
    int early = 0, fixups = 0;

    (void)pconf;
    (void)plog;
    for (v = s; v != NULL; v = v->next) {
        expect_srv_conf *sc = expect_srv_config(v);
        const char *section = sc->section_at ? sc->section_at : mc->section_at;

        if (sc->judge == EXPECT_UNSET) {
            sc->judge = EXPECT_JUDGE_FIXUPS;
        }
        if (sc->judge == EXPECT_JUDGE_EARLY && section != NULL) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, NULL, EXPLOGNO(0016)
                         "ExpectJudge early (%s) cannot apply to %s: %s applies to it, "
                         "and a per-directory policy is known only in fixups.  Remove "
                         "ExpectJudge early there, or move the policy out of its section",
                         sc->judge_at ? sc->judge_at : "inherited", expect_server_label(ptemp, v),
                         section);
            return !OK;
        }
        if ((sc->judge == EXPECT_JUDGE_EARLY && !hooked_early)
            || (sc->judge == EXPECT_JUDGE_FIXUPS && !hooked_fixups)) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, NULL, EXPLOGNO(0017)
                         "no judging hook for %s (ExpectJudge %s): please report "
                         "this configuration", expect_server_label(ptemp, v),
                         sc->judge == EXPECT_JUDGE_EARLY ? "early" : "fixups");
            return !OK;
        }
        if (sc->judge == EXPECT_JUDGE_EARLY) {
            early++;
        }
        else {
            fixups++;
        }
    }
    if ((err = expect_config_row_names(ptemp, ptemp, s, &names)) != NULL) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, NULL, EXPLOGNO(0018)
                     "%s", err);
        return !OK;
    }
    both_hooked = hooked_early && hooked_fixups;
    judged_early = early;
    judged_fixups = fixups;
    return OK;
}

static int expect_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                              apr_pool_t *ptemp, server_rec *s)
{
    const char *where, *path;
    int rc;

    (void)plog;
    where = !judged_early ? apr_psprintf(ptemp, "fixups for all %d servers", judged_fixups)
            : !judged_fixups ? apr_psprintf(ptemp, "translate_name for all %d servers "
                                             "(ExpectJudge early)", judged_early)
            : apr_psprintf(ptemp, "fixups for %d servers and in translate_name "
                           "for %d (ExpectJudge early)", judged_fixups, judged_early);
    /* Logged here, not in check_config: the error log is open now. */
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, EXPLOGNO(0015)
                 "judging Expect: 100-continue in %s", where);
    rc = expect_stats_post_config(pconf, ptemp, s);
    if (rc == OK) {
        rc = expect_eventlog_post_config(pconf, ptemp, s);
    }
    /* One line per start and restart, for whoever reads the log later (the
     * first, throw-away pass of the configuration says nothing). */
    if (rc == OK && ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        path = expect_stats_path();
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, EXPLOGNO(0003)
                     "mod_expect " EXPECT_BUILD_STRING " serving: segment %s, "
                     "layout %u, %d vhosts, "
                     "judging in %s", path ? path : "none (no statistics)",
                     (unsigned)EXPECT_SHM_LAYOUT_VERSION,
                     judged_fixups + judged_early, where);
    }
    return rc;
}

static const command_rec expect_cmds[] = {
    AP_INIT_TAKE1("ExpectPolicy", set_policy, NULL, RSRC_CONF | ACCESS_CONF,
                  "What to do with Expect: 100-continue: continue, reject or ignore"),
    AP_INIT_FLAG("ExpectStrict", set_strict, NULL, RSRC_CONF | ACCESS_CONF,
                 "On: answer 417 to 100-continue on a request without content"),
    AP_INIT_TAKE1("ExpectUnknown", set_unknown, NULL, RSRC_CONF,
                  "Expectations other than 100-continue: reject (417, as httpd core) "
                  "or ignore (drop them, keep a 100-continue)"),
    AP_INIT_TAKE1("ExpectStatsName", set_stats_name, NULL, RSRC_CONF,
                  "The name of this server's statistics row, instead of the automatic one"),
    AP_INIT_TAKE1("ExpectJudge", set_judge, NULL, RSRC_CONF,
                  "Where requests are judged: fixups (default) or early (translate_name)"),
    AP_INIT_TAKE1("ExpectShmFile", set_shm_file, NULL, RSRC_CONF,
                  "Path of the shared statistics segment expectctl attaches to"),
    AP_INIT_TAKE1("ExpectEventSlots", set_event_slots, NULL, RSRC_CONF,
                  "Number of recent 417 events kept; 0 records none"),
    AP_INIT_TAKE1("ExpectEventLog", expect_eventlog_set, NULL, RSRC_CONF,
                  "Write every 417 as a JSON line to a file (relative to ServerRoot) "
                  "or to \"|program\", as CustomLog does; main server only"),
    AP_INIT_TAKE1("ExpectRetryWindow", set_retry_window, NULL, RSRC_CONF,
                  "Seconds a 417'd client has to come back before its 417 counts as "
                  "abandoned; 0 tracks nothing"),
    AP_INIT_TAKE1("ExpectRetrySlots", set_retry_slots, NULL, RSRC_CONF,
                  "Number of 417s retry tracking can wait on at once (a multiple of 8)"),
    {.name = NULL}
};

static void register_hooks(apr_pool_t *p)
{
    (void)p;
    /* The judging hooks are registered by expect_pre_config, which knows
     * the configuration. */
    ap_hook_pre_config(expect_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(expect_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(expect_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    expect_status_register_hooks();
    expect_body_watch_register();
    expect_unknown_register();
    /* Before mod_log_config (MIDDLE) formats the line; counts every 417. */
    ap_hook_log_transaction(expect_log_transaction, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_monitor(expect_stats_monitor, NULL, NULL, APR_HOOK_MIDDLE);
    /* After the sweep, which settles what is overdue. */
    ap_hook_monitor(expect_eventlog_monitor, NULL, NULL, APR_HOOK_LAST);
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
