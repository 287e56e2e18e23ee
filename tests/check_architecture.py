#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""check_architecture.py - the source tree's structural rules, checked.

Run from anywhere; exits 1 and names every violation, 0 when all hold:

1. The #include graph among mod_expect/*.c and mod_expect/*.h has no
   cycle, counting a .c and its .h as one unit (a file "depends on" the
   unit whose header it includes).
2. The glue files (mod_expect_*.c/.h) include, of the module's own
   headers, only mod_expect_config.h, their own header and the core
   (expect_*.h); only mod_expect.c may include every glue header.
3. The core (expect_*.c/.h) includes no httpd header and no glue header:
   expectctl and the unit tests link it without httpd.
4. No file under expectctl/ includes an httpd header, except the one file
   allowed to ask httpd for the default runtime directory.  The probe
   engine (expectctl/probe/) includes, of the tree's headers, only its own
   and the core's; outside it only probe_engine.h (and probe.h, whose
   inline method check ctl_args.c uses) may be included: probe_run.h is
   the engine's own.
5. No function is defined in two places (static ones included) across
   mod_expect/, expectctl/, tests/unit/ and tests/fuzz/.
6. The segment's wire structs are defined in expect_shm_layout.h only.
7. Every source file git tracks (code, scripts, configuration, the man
   page) carries "SPDX-License-Identifier: Apache-2.0" in its first lines;
   LICENSE and NOTICE are at the top.  Markdown, fuzz corpora and Debian
   files whose format has no comments (changelog, copyright, source/format)
   are not source files.
8. Calls between files: which file's functions use which other file's
   functions (a function defined in one file, named in another's function
   bodies or, in a .c file, anywhere outside comments and strings, such as
   a table of function pointers).  Among expectctl/'s files (probe/
   included) there is no cycle, and no file of the probe engine calls a
   function of a file outside expectctl/probe/ in expectctl/ (a verb
   file).  `check_architecture.py --calls` prints the whole graph.
9. A judged request walks the module's files in one direction: from each
   of mod_expect.c's judging paths (expect_judge, expect_came_back), the
   calls into functions of the module's other .c files (static functions
   of mod_expect.c and static inline ones of the headers are followed
   into) go file by file and never back to a file already left, and at
   most two of them go into the statistics unit (mod_expect_stats.c).
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MOD = os.path.join(ROOT, "mod_expect")
LAYOUT = "expect_shm_layout.h"
# expectctl learns httpd's default runtime directory through this file only.
CTL_HTTPD_ALLOWED = {"expectctl/ctl_paths.c"}
HTTPD_HEADER = re.compile(
    r"^(httpd|http_[a-z_]+|ap_[a-z_]+|util_[a-z_]+|mod_[a-z_0-9]+|scoreboard|mpm_common)\.h$")
# The probe engine: its folder, and the headers the rest of expectctl may
# include (probe.h only for its inline probe_method_ok).
PROBE_DIR = "expectctl/probe/"
PROBE_PUBLIC = {"probe_engine.h", "probe.h"}
# Entry points every program or harness has once: not duplicates.
PER_PROGRAM = {"main", "LLVMFuzzerTestOneInput", "LLVMFuzzerInitialize"}

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^">]+)[">]', re.M)
FUNC_DEF = re.compile(
    r"^(?:static\s+)?(?:inline\s+)?(?:const\s+)?[A-Za-z_][A-Za-z0-9_ \t]*?[\s*]"
    r"([A-Za-z_][A-Za-z0-9_]*)\s*\([^;{}]*\)\s*(?:__attribute__\s*\(\([^;{}]*?\)\)\s*)?\{",
    re.M | re.S)

problems = []


def rel(path):
    return os.path.relpath(path, ROOT)


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def c_files(sub):
    """The .c and .h files under sub (a path relative to ROOT), recursively,
    as paths relative to ROOT, sorted."""
    out = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, sub)):
        dirnames.sort()
        out.extend(rel(os.path.join(dirpath, f)) for f in filenames if f.endswith((".c", ".h")))
    return sorted(out)


def includes(path):
    return INCLUDE.findall(strip_comments(read(path)))


def unit_of(name):
    return os.path.splitext(name)[0]


def check_include_graph():
    files = sorted(f for f in os.listdir(MOD) if f.endswith((".c", ".h")))
    local = set(files)
    graph = {}
    for f in files:
        u = unit_of(f)
        graph.setdefault(u, set())
        for inc in includes(os.path.join(MOD, f)):
            if inc in local and unit_of(inc) != u:
                graph[u].add(unit_of(inc))
    # Depth-first search for a back edge.
    state = {}

    def visit(u, stack):
        state[u] = 1
        for v in sorted(graph.get(u, ())):
            if state.get(v) == 1:
                cyc = stack[stack.index(v):] + [v]
                problems.append("include cycle: " + " -> ".join(cyc))
            elif v not in state:
                visit(v, stack + [v])
        state[u] = 2

    for u in sorted(graph):
        if u not in state:
            visit(u, [u])

    for f in files:
        incs = includes(os.path.join(MOD, f))
        own = [i for i in incs if i in local]
        u = unit_of(f)
        if f.startswith("mod_expect_"):
            allowed_glue = {"mod_expect_config.h", u + ".h"}
            for i in own:
                if i.startswith("mod_expect") and i not in allowed_glue:
                    problems.append("mod_expect/%s: a glue file includes %s; glue files "
                                    "depend only on mod_expect_config.h and the core" % (f, i))
        elif f.startswith("expect_"):
            for i in incs:
                if i.startswith("mod_expect") or HTTPD_HEADER.match(i):
                    problems.append("mod_expect/%s: the core includes %s" % (f, i))
        elif f != "mod_expect.c":
            problems.append("mod_expect/%s: neither core (expect_*) nor glue (mod_expect_*)" % f)


def check_expectctl():
    for r in c_files("expectctl"):
        engine = r.startswith(PROBE_DIR)
        for i in includes(os.path.join(ROOT, r)):
            if HTTPD_HEADER.match(os.path.basename(i)) and r not in CTL_HTTPD_ALLOWED:
                problems.append("%s includes httpd header %s (only %s may)"
                                % (r, i, ", ".join(sorted(CTL_HTTPD_ALLOWED))))
            if engine:
                # The engine's own headers, the core's, and system headers.
                here = os.path.join(ROOT, os.path.dirname(r), i)
                core = os.path.join(MOD, i)
                if os.path.isfile(here) and os.path.dirname(rel(here)) + "/" == PROBE_DIR:
                    continue
                if os.path.basename(i).startswith("expect_") and os.path.isfile(core):
                    continue
                if os.path.isfile(os.path.join(ROOT, "expectctl", i)) or os.path.isfile(here) \
                        or os.path.isfile(os.path.join(MOD, os.path.basename(i))):
                    problems.append("%s includes %s: the probe engine includes only its own "
                                    "headers (%s) and the core's" % (r, i, PROBE_DIR))
            elif os.path.dirname(os.path.normpath(os.path.join(os.path.dirname(r), i))) + "/" \
                    == PROBE_DIR and os.path.basename(i) not in PROBE_PUBLIC:
                problems.append("%s includes %s, the engine's own header: outside %s "
                                "include only %s" % (r, i, PROBE_DIR,
                                                     " and ".join(sorted(PROBE_PUBLIC))))


def check_functions():
    seen = {}
    for sub in ("mod_expect", "expectctl", "tests/unit", "tests/fuzz"):
        for r in c_files(sub):
            text = strip_comments(read(os.path.join(ROOT, r)))
            for m in FUNC_DEF.finditer(text):
                name = m.group(1)
                if name in PER_PROGRAM or name in KEYWORDS:
                    continue
                seen.setdefault(name, []).append(r)
    for name, where in sorted(seen.items()):
        if len(where) > 1:
            problems.append("function %s defined in %d places: %s"
                            % (name, len(where), ", ".join(where)))


def check_layout_structs():
    layout = read(os.path.join(MOD, LAYOUT))
    wire = set(re.findall(r"\}\s*([A-Za-z_][A-Za-z0-9_]*)\s*;", strip_comments(layout)))
    if not {"expect_shm_header_t", "expect_ctl_header_t", "expect_shm_event_t"} <= wire:
        problems.append("%s does not define the segment structs" % LAYOUT)
    for sub in ("mod_expect", "expectctl", "tests/unit", "tests/fuzz"):
        for r in c_files(sub):
            if r == "mod_expect/" + LAYOUT:
                continue
            text = strip_comments(read(os.path.join(ROOT, r)))
            for name in re.findall(r"\}\s*([A-Za-z_][A-Za-z0-9_]*)\s*;", text):
                if name in wire:
                    problems.append("%s defines segment struct %s" % (r, name))
            # A struct mirroring a header's first fields is a wire struct too.
            for body in re.findall(r"struct[^{;]*\{([^}]*)\}", text):
                if re.search(r"\blayout_version\b", body) and re.search(r"\bmagic\b", body):
                    problems.append("%s defines a struct with a segment header's fields" % r)


KEYWORDS = {"if", "for", "while", "switch", "return", "sizeof"}
IDENT = re.compile(r"(?<![.\w])(?<!->)([A-Za-z_][A-Za-z0-9_]*)")


TOKENS = re.compile(r"""/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'""", re.S)


def code_only(text):
    """Comments, string and character literals (in one pass: a // inside a
    string is no comment) and preprocessor lines blanked, line breaks kept:
    what is left is declarations and code."""
    def blank(m):
        t = m.group(0)
        return t[0] * 2 if t[0] in "\"'" else "\n" * t.count("\n")
    text = TOKENS.sub(blank, text)
    return re.sub(r"^[ \t]*#(?:[^\n]*\\\n)*[^\n]*", "", text, flags=re.M)


def function_bodies(text):
    """(name, static?, body) of each function defined in text (code_only'd)."""
    out = []
    for m in FUNC_DEF.finditer(text):
        if m.group(1) in KEYWORDS:
            continue
        depth, i = 0, m.end() - 1
        while i < len(text):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        out.append((m.group(1), m.group(0).startswith("static"), text[m.end():i]))
    return out


def call_graph(subs=("mod_expect", "expectctl")):
    """{file: {other file: a name it uses from there}} over the C files
    under subs: file uses a function other defines."""
    code = {r: code_only(read(os.path.join(ROOT, r))) for sub in subs for r in c_files(sub)}
    defined = {}
    bodies = {}
    for r, text in code.items():
        bodies[r] = function_bodies(text)
        for name, static, _ in bodies[r]:
            # A .c file's static functions are its own; a header's static
            # inline ones belong to every file that includes it.
            if not (static and r.endswith(".c")):
                defined.setdefault(name, r)
    graph = {}
    for r, text in code.items():
        # A header's uses are its inline functions' bodies; its prototypes
        # only name what another file defines.
        where = text if r.endswith(".c") else " ".join(b for _, _, b in bodies[r])
        edges = graph.setdefault(r, {})
        for name in IDENT.findall(where):
            other = defined.get(name)
            if other is not None and other != r:
                edges.setdefault(other, name)
    return graph


def find_cycles(graph, nodes):
    """(cycle, component) per strongly connected component of graph
    restricted to nodes with more than one node: the component's nodes, and
    one cycle through its first (a list, the first repeated at the end)."""
    index, low, on, stack, comps = {}, {}, set(), [], []

    def strong(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in nodes:
                continue
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(set(comp))

    for v in sorted(nodes):
        if v not in index:
            strong(v)
    cycles = []
    for comp in comps:
        # Breadth-first from the first file back to itself, inside comp.
        start = min(comp)
        prev = {start: None}
        queue = [start]
        end = None
        while queue and end is None:
            v = queue.pop(0)
            for w in sorted(graph.get(v, ())):
                if w == start:
                    end = v
                    break
                if w in comp and w not in prev:
                    prev[w] = v
                    queue.append(w)
        path = [start]
        while end is not None:
            path.insert(1, end)
            end = prev[end]
        path[1:] = [p for p in path[1:] if p != start]
        cycles.append((path + [start], sorted(comp)))
    return cycles


def check_calls():
    graph = call_graph()
    ctl = {r for r in graph if r.startswith("expectctl/")}
    for cyc, comp in find_cycles(graph, ctl):
        steps = [cyc[0]] + ["%s (%s)" % (b, graph[a][b]) for a, b in zip(cyc, cyc[1:])]
        problems.append("call cycle among expectctl's files: %s; %d files call each other "
                        "round: %s" % (" -> ".join(steps), len(comp), ", ".join(comp)))
    for r in sorted(ctl):
        if not r.startswith(PROBE_DIR):
            continue
        for other, name in sorted(graph[r].items()):
            if other in ctl and not other.startswith(PROBE_DIR):
                problems.append("%s calls %s of %s: the probe engine never calls a verb "
                                "file" % (r, name, other))


def print_calls():
    graph = call_graph()
    for r in sorted(graph):
        for other, name in sorted(graph[r].items()):
            print("%s -> %s (%s)" % (r, other, name))


SPDX = "SPDX-License-Identifier: Apache-2.0"
NOT_SOURCE = re.compile(r"(\.md$|\.json$|/corpus/|^LICENSE$|^NOTICE$|^debian/(changelog|copyright|source/format)$)")


def check_licence():
    for f in ("LICENSE", "NOTICE"):
        if not os.path.isfile(os.path.join(ROOT, f)):
            problems.append("%s is missing at the top of the tree" % f)
    try:
        files = subprocess.run(["git", "-C", ROOT, "ls-files"], capture_output=True,
                               text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return  # not a git checkout (a release tarball): nothing to list
    for f in files:
        if NOT_SOURCE.search(f) or not os.path.isfile(os.path.join(ROOT, f)):
            continue
        head = read(os.path.join(ROOT, f)).splitlines()[:3]
        if not any(SPDX in line for line in head):
            problems.append("%s: no '%s' line in its first three lines" % (f, SPDX))


WALK_ENTRIES = ("expect_judge", "expect_came_back")
WALK_STATS_UNIT = "mod_expect_stats"
WALK_MAX_STATS_CALLS = 2
CALL = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\(")


def check_request_walk():
    called = {}      # function of another .c file -> its unit
    followed = {}    # function whose body the walk follows -> body
    for f in sorted(os.listdir(MOD)):
        text = code_only(read(os.path.join(MOD, f)))
        for name, _, body in function_bodies(text):
            if f == "mod_expect.c" or f.endswith(".h"):
                followed[name] = body
            elif f.endswith(".c"):
                called[name] = unit_of(f)

    def walk(name, seen):
        for m in CALL.finditer(followed[name]):
            callee = m.group(1)
            if callee in followed and callee not in seen:
                yield from walk(callee, seen | {callee})
            elif callee in called:
                yield callee

    for entry in WALK_ENTRIES:
        if entry not in followed:
            problems.append("mod_expect.c: no %s, whose walk rule 9 checks" % entry)
            continue
        calls = list(walk(entry, {entry}))
        units, left = [], set()
        for c in calls:
            u = called[c]
            if units and units[-1] == u:
                continue
            if u in left or u in units:
                problems.append("%s goes back to %s (%s) after leaving it: %s"
                                % (entry, u, c, " -> ".join(units + [u])))
                break
            if units:
                left.add(units[-1])
            units.append(u)
        n = sum(1 for c in calls if called[c] == WALK_STATS_UNIT)
        if n > WALK_MAX_STATS_CALLS:
            problems.append("%s calls into %s %d times (at most %d)"
                            % (entry, WALK_STATS_UNIT, n, WALK_MAX_STATS_CALLS))


def main():
    if sys.argv[1:] == ["--calls"]:
        print_calls()
        return 0
    check_licence()
    check_request_walk()
    check_include_graph()
    check_expectctl()
    check_functions()
    check_layout_structs()
    check_calls()
    for p in problems:
        print("check_architecture: " + p)
    if problems:
        return 1
    print("check_architecture: ok (include graph acyclic, glue depends on config + core, "
          "expectctl free of httpd headers, the probe engine in its own folder, no call cycle "
          "in expectctl, no function defined twice, one layout header, every source file "
          "licensed, the request walks one way)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
