#!/usr/bin/env python3
"""No working secret in the configuration that deployments read.

config/base.toml and every non-development layer (config/production.toml, …) must leave each
secret setting empty: secrets come from the environment. Neither they nor the production
Kubernetes overlay may contain any value ever committed as a development default (the list in
crates/common/src/secrets.rs, DEVELOPMENT_SECRETS). `--self-test` plants a secret in a copy and
checks that it is reported. Exit 1 with the file and setting named (never the value) on a finding.
"""
import pathlib
import re
import shutil
import sys
import tempfile
import tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEVELOPMENT_ENVIRONMENTS = {"local.toml", "test.toml"}
SECRET_KEY = re.compile(r"(secret|token|password|verification_code|session_key|encryption_keys)$")


def development_secrets(root: pathlib.Path) -> list[str]:
    source = (root / "crates/common/src/secrets.rs").read_text()
    block = re.search(r"DEVELOPMENT_SECRETS: &\[&str\] = &\[(.*?)\];", source, re.S)
    values = re.findall(r'"([^"]+)"', block.group(1)) if block else []
    if len(values) < 5:
        sys.exit("check-config-secrets: could not read DEVELOPMENT_SECRETS from secrets.rs")
    return values


def findings(root: pathlib.Path) -> list[str]:
    found = []
    dev = development_secrets(root)
    layers = [p for p in sorted((root / "config").glob("*.toml")) if p.name not in DEVELOPMENT_ENVIRONMENTS]

    def walk(path, table, prefix=()):
        for key, value in table.items():
            if isinstance(value, dict):
                walk(path, value, prefix + (key,))
            elif SECRET_KEY.search(key) and value not in ("", [], None):
                found.append(f"{path.relative_to(root)}: {'.'.join(prefix + (key,))} holds a value")

    for path in layers:
        walk(path, tomllib.loads(path.read_text()))
    overlay = root / "deploy/k8s/overlays/production"
    overlay_files = sorted(overlay.rglob("*")) if overlay.is_dir() else []
    for path in [*layers, *overlay_files]:
        if path.is_file():
            text = path.read_text(errors="replace")
            for value in dev:
                if value in text:
                    found.append(f"{path.relative_to(root)}: holds a published development secret")
    return found


def self_test() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        copy = pathlib.Path(tmp)
        shutil.copytree(ROOT / "config", copy / "config")
        (copy / "crates/common/src").mkdir(parents=True)
        shutil.copy(ROOT / "crates/common/src/secrets.rs", copy / "crates/common/src/secrets.rs")
        assert not findings(copy), "the copy starts clean"
        base = copy / "config/base.toml"
        base.write_text(base.read_text().replace('api_token = ""', 'api_token = "a-real-looking-token"'))
        assert any("goals.api_token holds a value" in f for f in findings(copy)), findings(copy)
        production = copy / "config/production.toml"
        production.write_text(production.read_text() + '\n# dev-goals-api-token\n')
        assert any("production.toml: holds a published" in f for f in findings(copy)), findings(copy)
    print("check-config-secrets self-test: a planted secret and a published one are both reported")


if __name__ == "__main__":
    if "--self-test" in sys.argv:
        self_test()
    problems = findings(ROOT)
    for problem in problems:
        print(f"secret in configuration: {problem}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print("configuration: no working secret in config/base.toml, deployment layers or the production overlay")
