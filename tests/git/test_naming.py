"""Branch names: git's rules (checked against git itself) and the suggestions in the team's style."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pyengineer.git.naming import (
    make_unique,
    ref_name_problem,
    slugify,
    suggest_branch_names,
    topic_for,
)


def git_accepts_branch(name: str, cwd: Path) -> bool:
    result = subprocess.run(["git", "check-ref-format", "--branch", name], cwd=cwd, capture_output=True)
    return result.returncode == 0


# Characters that matter to git's rules, plus ordinary ones so that valid names come up often.
REF_CHARS = st.sampled_from(list("ab-_/.@{}~^:?*[\\ \x7f\x01\té") + ["lock", "HEAD", "feature/", ".."])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(REF_CHARS, min_size=0, max_size=8).map("".join))
@example("feature/api-users")
@example("a.lock")
@example("x/.hidden")
@example("-x")
@example("HEAD")
@example("a@{1}")
@example("end.")
@example("a//b")
def test_ref_name_problem_agrees_with_git_check_ref_format(tmp_path: Path, name: str) -> None:
    ours = ref_name_problem(name) is None
    if name == "@":
        # git lets `refs/heads/@` exist, but `@` means HEAD everywhere else: we refuse it.
        assert not ours
        return
    assert ours == git_accepts_branch(name, tmp_path), f"{name!r}: ours={ours}"


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("UserProfile_views", "user-profile-views"),
        ("naïve Café", "naive-cafe"),
        ("__init__", "init"),
        ("a..b//c", "a-b-c"),
        ("日本語", ""),
        ("x" * 60, "x" * 40),
        ("one-two-three-four-five-six-seven-eight-nine", "one-two-three-four-five-six-seven-eight"),
    ],
)
def test_slugify(text: str, slug: str) -> None:
    assert slugify(text) == slug


@pytest.mark.parametrize(
    ("path", "topic"),
    [
        ("app/routers/users.py", "users"),
        ("tests/test_billing.py", "billing"),
        ("billing_test.py", "billing"),
        ("src/orders/__init__.py", "orders"),
        ("src/orders/models.py", "orders-models"),
        ("api/main.py", "main"),  # nothing better to name it after
        ("pipelines/DailyETL.py", "daily-etl"),
        (None, "changes"),
    ],
)
def test_topic_for(path: str | None, topic: str) -> None:
    assert topic_for(path) == topic


@pytest.mark.parametrize(
    ("path", "imported", "fix", "first"),
    [
        ("app/users.py", ["fastapi"], False, "feature/api-users"),
        ("app/users.py", ["flask"], False, "feature/api-users"),
        ("shop/views.py", ["django"], False, "feature/api-shop-views"),
        ("shop/orders.py", [], False, "feature/orders"),
        ("service/api/orders.py", [], False, "feature/api-orders"),
        ("jobs/ingest_sales.py", ["pandas"], False, "feature/data-pipeline-ingest-sales"),
        ("analysis/stats.py", ["numpy"], False, "feature/data-pipeline-stats"),
        ("etl/load.py", [], False, "feature/data-pipeline-load"),
        ("app/users.py", ["fastapi"], True, "fix/users"),
        ("tests/test_orders.py", ["pytest"], True, "fix/orders"),
        ("lib/strings.py", [], False, "feature/strings"),
    ],
)
def test_suggestion_style(path: str, imported: list[str], fix: bool, first: str) -> None:
    names = suggest_branch_names(path, imported, fix=fix)
    assert names[0] == first
    assert len(names) == len(set(names))


def test_suggestions_are_unique_against_local_and_remote_branches() -> None:
    existing = ["feature/api-users", "origin/feature/api-users-2", "upstream/feature/users"]
    names = suggest_branch_names("app/users.py", ["fastapi"], existing)
    assert names[0] == "feature/api-users-3"
    assert "feature/users" not in names
    assert names[1] == "feature/users-2"
    for name in names:
        assert name not in existing
        assert not any(e.split("/", 1)[1] == name for e in existing if "/" in e)


def test_make_unique_avoids_ref_prefix_clashes() -> None:
    # `feature` exists as a branch: `feature/x` cannot be created, and the other way round.
    assert make_unique("feature/x", ["feature"]) == "feature-x"
    assert make_unique("feature/x/y", ["feature/x", "feature/x-y"]) == "feature/x-y-2"
    assert make_unique("feature", ["feature/x"]) == "feature-2"
    assert suggest_branch_names("app/users.py", ["fastapi"], ["feature"])[0] == "feature-api-users"


def clashes(name: str, branch: str) -> bool:
    """True if git could not hold both refs (equal, or one is a folder of the other)."""
    return name == branch or name.startswith(branch + "/") or branch.startswith(name + "/")


EXISTING = st.lists(
    st.sampled_from(
        [
            "feature",
            "fix",
            "feature/users",
            "feature/api-users",
            "fix/users",
            "origin/feature/users-2",
            "origin/fix",
            "feature/data-pipeline-users",
        ]
    ),
    max_size=5,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.one_of(
        st.just("app/users.py"),
        st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=4).map(lambda p: "/".join(p) + ".py"),
    ),
    imported=st.lists(st.sampled_from(["fastapi", "pandas", "numpy", "django", "os", "torch"]), max_size=3),
    existing=EXISTING,
    fix=st.booleans(),
)
def test_suggested_names_are_valid_for_git_and_clash_with_no_branch(
    tmp_path: Path, path: str, imported: list[str], existing: list[str], fix: bool
) -> None:
    names = suggest_branch_names(path, imported, existing, fix=fix)
    assert names
    local = [b.split("/", 1)[1] if b.startswith("origin/") else b for b in existing]
    for name in names:
        assert git_accepts_branch(name, tmp_path), name
        assert not any(clashes(name, branch) for branch in local), (name, existing)


# Real layouts (Django apps, FastAPI's full-stack template, src/ packages, tests/, alembic and Django
# migrations) and the first name suggested for a change to each.
REAL_LAYOUTS = [
    ("api.py", ["fastapi"], "feature/api"),
    ("app/api.py", ["fastapi"], "feature/api"),
    ("migrations/env.py", ["alembic", "sqlalchemy"], "feature/migrations"),
    ("alembic/env.py", ["alembic"], "feature/migrations"),
    ("alembic/versions/3f2a1b9c0d4e_add_users_table.py", ["alembic"], "feature/migration-add-users-table"),
    ("blog/migrations/0002_post_slug.py", ["django"], "feature/blog-migration-post-slug"),
    ("blog/migrations/0001_initial.py", ["django"], "feature/blog-migrations"),
    ("shop/migrations/0007_auto_20240101_1200.py", ["django"], "feature/shop-migrations"),
    ("blog/views.py", ["django"], "feature/api-blog-views"),
    ("blog/models.py", ["django"], "feature/api-blog-models"),
    ("blog/urls.py", ["django"], "feature/api-blog-urls"),
    ("blog/tests.py", ["django"], "feature/api-blog-tests"),
    ("blog/admin.py", ["django"], "feature/api-blog-admin"),
    ("mysite/settings.py", ["django"], "feature/api-mysite-settings"),
    ("polls/api/serializers.py", ["rest_framework"], "feature/api-polls-serializers"),
    ("manage.py", ["django"], "feature/api-manage"),
    ("app/main.py", ["fastapi"], "feature/api-main"),
    ("app/api/deps.py", ["fastapi"], "feature/api-deps"),
    ("app/api/routes/users.py", ["fastapi"], "feature/api-users"),
    ("app/api/v1/endpoints/items.py", ["fastapi"], "feature/api-items"),
    ("app/routers/orders.py", ["fastapi"], "feature/api-orders"),
    ("app/core/config.py", ["pydantic"], "feature/config"),
    ("app/crud/crud_user.py", ["sqlalchemy"], "feature/crud-user"),
    ("app/users/service.py", [], "feature/users-service"),
    ("app/services/billing/service.py", [], "feature/billing-service"),
    ("src/acme/__init__.py", [], "feature/acme"),
    ("src/acme/cli.py", ["click"], "feature/acme-cli"),
    ("src/acme/__main__.py", [], "feature/acme"),
    ("src/acme/models/invoice.py", [], "feature/invoice"),
    ("tests/test_invoice.py", ["pytest"], "feature/invoice"),
    ("tests/conftest.py", ["pytest"], "feature/test-fixtures"),
    ("tests/api/conftest.py", ["pytest"], "feature/api-test-fixtures"),
    ("tests/unit/orders/test_service.py", ["pytest"], "feature/orders-service"),
    ("pipelines/daily_sales.py", ["pandas"], "feature/data-pipeline-daily-sales"),
    ("pipelines/data_pipeline.py", ["pandas"], "feature/data-pipeline"),
    ("etl/load.py", [], "feature/data-pipeline-load"),
]


@pytest.mark.parametrize(("path", "imported", "first"), REAL_LAYOUTS)
def test_names_on_real_layouts(path: str, imported: list[str], first: str) -> None:
    assert suggest_branch_names(path, imported)[0] == first


def test_no_suggestion_repeats_its_prefix() -> None:
    for path, imported, _ in REAL_LAYOUTS:
        for name in suggest_branch_names(path, imported):
            assert "api-api" not in name and "pipeline-pipeline" not in name and "pipeline-data" not in name


def test_one_module_name_in_48_packages_gives_48_names() -> None:
    packages = [f"domain{i}" for i in range(48)]
    names = {suggest_branch_names(f"app/{package}/service.py")[0] for package in packages}
    assert len(names) == 48
