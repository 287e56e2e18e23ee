# SPDX-License-Identifier: Apache-2.0
"""tests/check_architecture.py (make check-arch) catches what it promises
about calls between files and the probe engine's folder.  Each test copies
the sources into a temporary tree, breaks one rule on purpose, and checks
that the checker fails and names the break; and that the copy as it is
passes, so every failure below is the break's doing.  No server: the
checker reads source text."""
import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


@pytest.fixture
def tree(tmp_path):
    """A copy of what the checker reads, outside any git checkout (so the
    licence rule, which asks git for the file list, has nothing to list)."""
    for d in ("mod_expect", "expectctl", "tests/unit", "tests/fuzz"):
        shutil.copytree(os.path.join(REPO, d), str(tmp_path / d),
                        ignore=shutil.ignore_patterns("*.o", "*.a", "*.so"))
    for f in ("LICENSE", "NOTICE", "tests/check_architecture.py"):
        shutil.copy(os.path.join(REPO, f), str(tmp_path / f))
    return tmp_path


def check(tree, *args):
    r = subprocess.run([sys.executable, str(tree / "tests" / "check_architecture.py")] + list(args),
                       capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout + r.stderr


def refused(tree, path=None, text=None):
    """The checker's output, once it has failed (exit status 1) on tree,
    after text is appended to path when given."""
    if path:
        append(tree, path, text)
    rc, out = check(tree)
    assert rc == 1, out
    return out


def append(tree, path, text):
    with open(str(tree / path), "a") as f:
        f.write(text)


def prepend(tree, path, text):
    p = tree / path
    p.write_text(text + p.read_text())


def test_copy_as_is_passes(tree):
    rc, out = check(tree)
    assert rc == 0, out
    assert "no call cycle in expectctl" in out


def test_call_cycle_among_expectctl_files_fails(tree):
    # probe_run.c calls probe_state.c (probe_run_deadline...); a call back
    # closes a circle.
    out = refused(tree, "expectctl/probe/probe_state.c",
                      "\nint probe_zz_back(const probe_run_t *x)\n{\n    return probe_run_exit(x);\n}\n")
    assert "call cycle among expectctl's files" in out
    cycle = [line for line in out.splitlines() if "call cycle" in line][0]
    assert "expectctl/probe/probe_state.c" in cycle and "expectctl/probe/probe_run.c" in cycle
    assert "(probe_run_exit)" in cycle


def test_cycle_between_verb_files_fails(tree):
    # Not only the engine: two verb files calling each other.
    out = refused(tree, "expectctl/ctl_vhosts.c",
                      "\nint ctl_zz_policy_back(void)\n{\n    return ctl_policy(0, 0);\n}\n")
    assert "call cycle among expectctl's files" in out
    assert "expectctl/ctl_policy.c" in out and "(ctl_policy)" in out


def test_a_function_pointer_in_a_table_counts_as_a_call(tree):
    # A use that is no call expression still ties the files together.
    out = refused(tree, "expectctl/probe/probe_state.c",
                      "\nstatic int (*const zz_table[])(const probe_run_t *) = {probe_run_exit};\n")
    assert "call cycle among expectctl's files" in out


def test_engine_calling_a_verb_file_fails(tree):
    # ctl_vhosts.c calls nothing back, so this is no cycle: the rule of its
    # own catches it.
    out = refused(tree, "expectctl/probe/probe_out.c",
                      "\nvoid probe_zz_now(void)\n{\n    (void)ctl_now_usec();\n}\n")
    assert ("expectctl/probe/probe_out.c calls ctl_now_usec of expectctl/ctl_vhosts.c: "
            "the probe engine never calls a verb file") in out
    assert "call cycle" not in out


def test_names_in_comments_strings_and_members_are_no_calls(tree):
    # A header's declarations are no uses either: only inline bodies are.
    append(tree, "expectctl/probe/probe_run.h", "\nstruct zz { int ctl_now_usec; };\n")
    append(tree, "expectctl/probe/probe_state.c",
           '\n/* ctl_probe(o) */\nconst char *probe_zz_text(void);\n'
           'const char *probe_zz_text(void)\n{\n    return "ctl_probe() // ctl_now_usec()";\n}\n'
           'int probe_zz_member(const struct zz *z);\n'
           'int probe_zz_member(const struct zz *z)\n{\n    return z->ctl_now_usec + z[0].ctl_now_usec;\n}\n')
    rc, out = check(tree)
    assert rc == 0, out


def test_engine_including_a_verb_header_fails(tree):
    prepend(tree, "expectctl/probe/probe_h1.c", '/* SPDX-License-Identifier: Apache-2.0 */\n'
            '#include "ctl.h"\n')
    out = refused(tree)
    assert "expectctl/probe/probe_h1.c includes ctl.h: the probe engine includes only" in out


def test_verb_including_the_engines_own_header_fails(tree):
    prepend(tree, "expectctl/ctl_probe.c", '/* SPDX-License-Identifier: Apache-2.0 */\n'
            '#include "probe/probe_run.h"\n')
    out = refused(tree)
    assert "expectctl/ctl_probe.c includes probe/probe_run.h, the engine's own header" in out


def test_function_defined_twice_across_the_new_folder_fails(tree):
    # The old rules walk expectctl/probe/ too.
    append(tree, "expectctl/ctl_stats.c",
           "\nint probe_run_exit(const void *x);\nint probe_run_exit(const void *x)\n"
           "{\n    return x != 0;\n}\n")
    out = refused(tree)
    assert ("function probe_run_exit defined in 2 places: expectctl/ctl_stats.c, "
            "expectctl/probe/probe_run.c") in out


def test_calls_prints_the_graph(tree):
    rc, out = check(tree, "--calls")
    assert rc == 0
    lines = out.splitlines()
    assert "expectctl/ctl_probe.c -> expectctl/probe/probe_modes.c (probe_opts_check)" in lines \
        or "expectctl/ctl_probe.c -> expectctl/probe/probe_modes.c (probe_start)" in lines
    assert not [l for l in lines if l.startswith("expectctl/probe/") and " -> expectctl/ctl" in l]


def edit(tree, path, old, new):
    p = tree / path
    text = p.read_text()
    assert old in text, (path, old)
    p.write_text(text.replace(old, new, 1))


def test_walk_going_back_fails(tree):
    """Rule 9: a judged request never returns to a file it left: here the
    judging hook asks expect_policy.c again after recording."""
    edit(tree, "mod_expect/mod_expect.c", "    expect_stats_record(r, &f, &out);\n",
         "    expect_stats_record(r, &f, &out);\n    (void)expect_decision_name(out.decision);\n")
    out = refused(tree)
    assert ("expect_judge goes back to expect_policy (expect_decision_name) after leaving it"
            in out), out


def test_third_call_into_the_statistics_unit_fails(tree):
    """Rule 9: at most two calls from a judging path into the statistics
    unit (here a second and a third record)."""
    edit(tree, "mod_expect/mod_expect.c", "    expect_stats_record(r, &f, &out);\n",
         "    expect_stats_record(r, &f, &out);\n    expect_stats_record(r, &f, &out);\n"
         "    expect_stats_record(r, &f, &out);\n")
    out = refused(tree)
    assert "expect_judge calls into mod_expect_stats 3 times (at most 2)" in out, out
