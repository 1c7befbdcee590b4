"""The README's configuration table stays true to the settings class."""

from __future__ import annotations

import re

from registry_api.settings import Settings
from tests.aeo.conftest import PROJECT_DIR


def test_readme_lists_every_registry_setting_and_no_other() -> None:
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(AEO_[A-Z_]+)` \|", section, flags=re.MULTILINE)
    assert rows == [f"AEO_{name.upper()}" for name in Settings.model_fields]


def test_readme_defaults_match_the_settings() -> None:
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    for name, field in Settings.model_fields.items():
        default = field.default
        if default is None or not isinstance(default, int | float | str):
            continue
        shown = str(default).lower() if isinstance(default, bool) else str(default)
        assert f"| `AEO_{name.upper()}` | `{shown}` |" in readme, name


def test_every_relative_link_of_the_readme_points_to_a_file_that_exists() -> None:
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    local = [target for target in targets if "://" not in target]
    assert any(target.startswith("docs/") for target in local)
    missing = [target for target in local if not (PROJECT_DIR / target).exists()]
    assert missing == []


def test_the_readme_gives_the_two_commands() -> None:
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    assert [line.split("#")[0].strip() for line in block.splitlines()] == [
        "make demo",
        "make test",
    ]
    makefile = (PROJECT_DIR / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^demo:", makefile, flags=re.MULTILINE)
    assert re.search(r"^test:", makefile, flags=re.MULTILINE)
