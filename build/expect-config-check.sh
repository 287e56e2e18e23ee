#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# expect-config-check: which lines of an Apache configuration would stop
# apache2 once mod_expect is no longer loaded.
#
# usage: expect-config-check [CONFDIR|FILE]...
#
# Reads what apache2 reads: CONFDIR/apache2.conf (or httpd.conf) and every
# file its Include and IncludeOptional lines pull in, relative to the
# ServerRoot (CONFDIR), in apache2's order.  Without arguments: /etc/apache2
# and each instance /etc/apache2-NAME.  Names every Expect* directive that
# is not inside <IfModule expect_module> (or <IfModule mod_expect.c>), and
# every LoadModule of expect_module, as FILE:LINE, then says how to fix
# them.  The module's own mods-enabled/expect.load and expect.conf are left
# out: disabling or removing the module takes them away.
#
# Exit status: 0 nothing found, 1 lines found, 2 usage error.
# Run by the Debian package's prerm before the module is disabled, and by
# `make uninstall`.  POSIX sh and awk only: it runs from a maintainer
# script.
LC_ALL=C
export LC_ALL
TAB=$(printf '\t')
MAX_DEPTH=64

case ${1:-} in
    -h|--help)
        sed -n '3,19s/^# \{0,1\}//p' "$0"
        exit 0 ;;
    -*)
        echo "expect-config-check: unknown option $1 (usage: expect-config-check [CONFDIR|FILE]...)" >&2
        exit 2 ;;
esac

# One file's lines, as events for the loop in scan(), tab-separated:
#   E LINE TEXT     an Expect* directive outside <IfModule expect_module>
#   L LINE TEXT     LoadModule expect_module, likewise
#   I LINE PATH     an Include or IncludeOptional, likewise
#   R LINE PATH     a ServerRoot
# Sections are tracked per file, as apache2 requires them to close in the
# file that opens them; an Include inside <IfModule expect_module> is
# skipped, as apache2 skips it when the module is absent.
PARSE='
function unquote(s) {
    if (s ~ /^"/) { sub(/^"/, "", s); sub(/".*$/, "", s); return s }
    sub(/[ \t].*$/, "", s)
    return s
}
{
    line = $0
    if (cont != "") { sub(/^[ \t]+/, "", line); text = cont " " line; cont = "" }
    else { text = line; start = NR }
    if (text ~ /\\$/) { sub(/[ \t]*\\$/, "", text); cont = text; next }
    sub(/^[ \t]+/, "", text); sub(/[ \t\r]+$/, "", text)
    if (text == "" || text ~ /^#/) next
    if (text ~ /^<\//) { if (depth > 0) { if (guard[depth]) guarded--; depth-- } next }
    if (text ~ /^</) {
        name = tolower(text); sub(/^</, "", name); sub(/[ \t>].*$/, "", name)
        arg = text; sub(/^<[^ \t>]*[ \t]*/, "", arg); sub(/>.*$/, "", arg)
        sub(/[ \t]+$/, "", arg); gsub(/"/, "", arg); arg = tolower(arg)
        depth++
        guard[depth] = (name == "ifmodule" && (arg == "expect_module" || arg == "mod_expect.c"))
        if (guard[depth]) guarded++
        next
    }
    if (guarded) next
    word = tolower(text); sub(/[ \t].*$/, "", word)
    rest = text; sub(/^[^ \t]*[ \t]*/, "", rest)
    if (word ~ /^expect[a-z0-9]/) print "E\t" start "\t" text
    else if (word == "loadmodule" && unquote(rest) == "expect_module") print "L\t" start "\t" text
    else if (word == "include" || word == "includeoptional") print "I\t" start "\t" unquote(rest)
    else if (word == "serverroot") print "R\t" start "\t" unquote(rest)
}'

# The files a pattern names, in apache2's order: wildcards expanded, a
# directory read with everything under it.
expand() {
    case $1 in
        *[*?[]*)
            # Every character but the wildcards is quoted for eval.
            quoted=$(printf '%s\n' "$1" | sed 's/[^][*?/A-Za-z0-9._-]/\\&/g')
            eval "set -- $quoted" ;;
    esac
    for m in "$@"; do
        if [ -d "$m" ]; then
            find -L "$m" -type f | sort
        elif [ -e "$m" ]; then
            printf '%s\n' "$m"
        fi
    done
}

# scan FILE ROOT DEPTH: prints FILE:LINE: TEXT for each line found.
scan() {
    if [ "$3" -gt "$MAX_DEPTH" ]; then
        echo "expect-config-check: includes nested deeper than $MAX_DEPTH at $1; not followed" >&2
        return
    fi
    if [ ! -r "$1" ]; then
        echo "expect-config-check: cannot read $1" >&2
        return
    fi
    case $1 in
        */mods-enabled/expect.load|*/mods-enabled/expect.conf) return ;;
    esac
    awk "$PARSE" "$1" | while IFS="$TAB" read -r kind line arg; do
        case $kind in
            E|L) printf '%s:%s: %s\n' "$1" "$line" "$arg" ;;
            R) srvroot=${arg%/} ;;
            I)
                case $arg in
                    *'${'*)
                        echo "expect-config-check: $1:$line: not followed (a variable): Include $arg" >&2
                        continue ;;
                    /*) ;;
                    *) arg=${srvroot:-$2}/$arg ;;
                esac
                expand "$arg" | while IFS= read -r f; do
                    scan "$f" "${srvroot:-$2}" $(($3 + 1))
                done ;;
        esac
    done
}

if [ $# -eq 0 ]; then
    set -- /etc/apache2
    for d in /etc/apache2-*; do
        if [ -d "$d" ]; then set -- "$@" "$d"; fi
    done
fi

found=""
for t in "$@"; do
    if [ -d "$t" ]; then
        root=${t%/}
        if [ -f "$root/apache2.conf" ]; then main=$root/apache2.conf
        elif [ -f "$root/httpd.conf" ]; then main=$root/httpd.conf
        else continue
        fi
    elif [ -f "$t" ]; then
        main=$t
        root=$(dirname "$t")
    else
        continue
    fi
    out=$(srvroot=""; scan "$main" "$root" 0 | awk '!seen[$0]++')
    if [ -n "$out" ]; then
        found="$found$out
"
    fi
done

if [ -z "$found" ]; then
    exit 0
fi
cat <<EOF
These lines of the enabled Apache configuration need mod_expect.  Once it
is disabled (a2dismod expect) or removed, apache2 refuses them ("Invalid
command 'ExpectPolicy'") and does not start, restart or reload:

$(printf '%s' "$found" | sed 's/^/  /')

Fix each before disabling or removing mod_expect:
  - delete it, if the server no longer needs it; or
  - put it inside <IfModule expect_module> ... </IfModule>, and it applies
    only while the module is loaded.  A policy such as ExpectPolicy reject
    then stops applying without a word when the module is absent: see
    "IfModule: when and when not" in mod_expect.md;
  - a LoadModule expect_module line: delete it with the module.
Then check with: apache2ctl configtest
EOF
exit 1
