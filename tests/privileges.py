"""Permission tests that mean something when the suite runs as root (as it does in many CI containers).

Root reads a `chmod 000` folder anyway (CAP_DAC_OVERRIDE), so a test of "an unreadable folder is skipped" proves
nothing as root. `unshare -U -r` does not help: it maps root to root, and the capabilities it grants inside the
namespace still apply to files owned by root. `unshare -U` without a uid map does: the process keeps its real
uid (so the test's own files, created by it, are still its own and owner bits decide), but inside the new
namespace root's uid is unmapped, and capabilities never apply to files whose owner is unmapped. So a `chmod
000` folder denies it exactly as it denies an ordinary user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest


def rerun_unprivileged(request: pytest.FixtureRequest) -> bool:
    """As root: run this test again in a user namespace without capabilities over the files, check it passed
    there, and return True (the caller returns at once). Not root (or already inside): False, run it here.

    Skips, saying why, when user namespaces are not available (unshare missing or forbidden by seccomp)."""
    if os.geteuid() != 0:
        return False
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("running as root, and unshare(1) is missing: a chmod 000 folder cannot deny root")
    probe = subprocess.run([unshare, "-U", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"running as root, and user namespaces are not available: {probe.stderr.strip()}")
    basetemp = request.config._tmp_path_factory.mktemp("unprivileged")  # type: ignore[attr-defined]
    result = subprocess.run(
        [unshare, "-U", sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        + ["-rA", f"--basetemp={basetemp}", request.node.nodeid],
        cwd=request.config.rootpath,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = result.stdout[-4000:] + result.stderr[-2000:]
    assert result.returncode == 0 and "1 passed" in result.stdout, report
    return True
