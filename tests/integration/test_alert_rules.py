# SPDX-License-Identifier: Apache-2.0
"""The shipped Prometheus alerting rules (docs/prometheus/mod_expect-alerts.yml)
pass `promtool check rules` and their unit tests (`promtool test rules`
tests/prometheus/alerts_test.yml): a 417 spike on one vhost alerts and a
steady rate does not; an abandoned 417 alerts for 15 minutes; a target
that stops answering /expect-metrics is stale after 5 minutes.  Every
metric the rules name is one a real server exposes."""
import os
import shutil
import subprocess

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RULES = os.path.join(TOP, "docs", "prometheus", "mod_expect-alerts.yml")
TESTS = os.path.join(TOP, "tests", "prometheus", "alerts_test.yml")

pytestmark = pytest.mark.skipif(shutil.which("promtool") is None,
                                reason="promtool (Debian prometheus) not installed")


def test_rules_are_valid():
    res = subprocess.run(["promtool", "check", "rules", RULES], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "4 rules found" in res.stdout + res.stderr


def test_rules_unit_tests_pass():
    res = subprocess.run(["promtool", "test", "rules", os.path.basename(TESTS)],
                         cwd=os.path.dirname(TESTS), capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS" in res.stdout + res.stderr


def test_scrape_config_in_the_manual_is_valid(tmp_path):
    """The manual's scrape_configs example (docs/mod_expect.md, "Scraping
    many servers"), with the shipped rules loaded, passes promtool check
    config: every yaml block of the manual is that example."""
    import re
    with open(os.path.join(TOP, "docs", "mod_expect.md")) as f:
        blocks = re.findall(r"```yaml\n(.*?)```", f.read(), re.S)
    assert len(blocks) == 1, blocks
    conf = tmp_path / "prometheus.yml"
    conf.write_text(f"rule_files:\n  - {RULES}\n" + blocks[0])
    res = subprocess.run(["promtool", "check", "config", str(conf)], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS" in res.stdout + res.stderr


def test_rules_name_real_metrics():
    """A renamed metric would leave an alert that never fires: each name the
    rules use is in a live server's exposition."""
    import re
    from httpd_harness import Httpd, expectctl, serving
    with open(RULES) as f:
        names = set(re.findall(r"\bmod_expect_[a-z0-9_]+", f.read()))
    assert "mod_expect_417_outcomes_total" in names, names
    h = Httpd("", name="alert-names")
    with serving(h):
        res = expectctl("stats", "--prometheus", shm=h.shm)
    assert res.returncode == 0, res.stderr
    exposed = set(re.findall(r"^# TYPE (\S+)", res.stdout, re.M))
    assert names <= exposed, names - exposed
