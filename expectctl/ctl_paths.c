/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_paths.c - where the segment is: -s PATH, else $EXPECTCTL_SHM, else
 * -i NAME (the Debian instance apache2-NAME, whose runtime directory is
 * httpd's with "-NAME" appended, as its envvars file sets APACHE_RUN_DIR),
 * else mod_expect.shm in httpd's runtime directory.  That directory is
 * learnt from apxs at configure time (EXPECT_RUNTIMEDIR), so it is Debian's
 * /var/run/apache2 there and /run/httpd on a Fedora-style layout;
 * $EXPECTCTL_RUNDIR replaces it (for tests, and for unusual layouts).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ctl.h"

#ifndef EXPECT_RUNTIMEDIR
#define EXPECT_RUNTIMEDIR "/var/run/apache2"
#endif

#define SHM_NAME "mod_expect.shm"

const char *ctl_runtime_dir(void)
{
    const char *env = getenv("EXPECTCTL_RUNDIR");

    return env != NULL && *env != '\0' ? env : EXPECT_RUNTIMEDIR;
}

int ctl_instance_name_ok(const char *name)
{
    size_t i, n = strlen(name);

    if (n == 0 || n > 64 || name[0] == '.' || name[0] == '-') {
        return 0;
    }
    for (i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '.' || c == '_' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

int ctl_segment_path(const ctl_opts_t *o, char *buf, size_t len)
{
    int n;

    if (o->shm_path != NULL) {
        n = snprintf(buf, len, "%s", o->shm_path);
    }
    else if (o->instance != NULL) {
        n = snprintf(buf, len, "%s-%s/" SHM_NAME, ctl_runtime_dir(), o->instance);
    }
    else {
        n = snprintf(buf, len, "%s/" SHM_NAME, ctl_runtime_dir());
    }
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

int ctl_list_instances(FILE *out)
{
    char parent[1024], base[256], path[2048];
    const char *rd = ctl_runtime_dir(), *slash = strrchr(rd, '/');
    struct dirent *de;
    struct stat st;
    size_t blen;
    DIR *d;
    int found = 0;

    if (slash == NULL || (size_t)(slash - rd) >= sizeof(parent)
        || strlen(slash + 1) >= sizeof(base)) {
        return 0;
    }
    memcpy(parent, rd, (size_t)(slash - rd));
    parent[slash - rd] = '\0';
    if (parent[0] == '\0') {
        strcpy(parent, "/");
    }
    snprintf(base, sizeof(base), "%s-", slash + 1);
    blen = strlen(base);
    if ((d = opendir(parent)) == NULL) {
        return 0;
    }
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, base, blen) != 0
            || !ctl_instance_name_ok(de->d_name + blen)) {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s/" SHM_NAME, strcmp(parent, "/") ? parent : "",
                 de->d_name);
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            if (out != NULL) {
                fprintf(out, "  %s  (expectctl -i %s)\n", path, de->d_name + blen);
            }
            found++;
        }
    }
    closedir(d);
    return found;
}
