"""What a user gets from the package and the extension: a license, project URLs, links and images that still
work once README.md is a wheel's long description and vscode-extension/README.md is inside a .vsix."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)\s]+)\)")
REPOSITORY = "https://github.com/pyengineer/pyengineer"


def test_readme_links_survive_packaging() -> None:
    # A relative link (docs/cli.md) in a wheel's long description points nowhere on an index's page.
    links = LINK.findall((REPO / "README.md").read_text(encoding="utf-8"))
    assert links
    relative = [link for link in links if not link.startswith(("https://", "http://", "#"))]
    assert relative == []
    for link in links:
        if link.startswith(f"{REPOSITORY}/blob/main/"):
            target = link.removeprefix(f"{REPOSITORY}/blob/main/").split("#", 1)[0]
            assert (REPO / target).exists(), link


def test_license_and_project_urls() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "MIT"
    assert (REPO / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    urls = project["urls"]
    assert urls["Repository"] == REPOSITORY and urls["Issues"] == f"{REPOSITORY}/issues"


def test_extension_readme_images_resolve_inside_the_vsix() -> None:
    """vsce rewrites a relative image against --baseImagesUrl (by default the repository root, where the
    extension's images/ folder is not): the URL it makes must name the file under vscode-extension/."""
    extension = REPO / "vscode-extension"
    script = json.loads((extension / "package.json").read_text(encoding="utf-8"))["scripts"]["package"]
    base = re.search(r"--baseImagesUrl (\S+)", script)
    assert base is not None and base.group(1) == f"{REPOSITORY}/raw/HEAD/vscode-extension"
    images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", (extension / "README.md").read_text(encoding="utf-8"))
    assert images
    for image in images:
        assert not image.startswith(("/", "http")), image  # relative, so the base URL applies
        assert (extension / image).is_file(), image
