#!/usr/bin/env python3
"""Fails when a package under services/ depends on another package under services/.

Services are processes; what two of them share belongs in a library under crates/ (or, for test
and demo tools, under tools/). Reads `cargo metadata` (normal, dev and build dependencies).

  python3 scripts/check-service-deps.py              # the workspace
  python3 scripts/check-service-deps.py --self-test  # a fake metadata with one such edge must fail
"""
import json
import os
import subprocess
import sys


def service_edges(metadata):
    """(dependent, dependency, kind) for each dependency of a services/ package on another."""
    root = metadata["workspace_root"]
    services_dir = os.path.join(root, "services") + os.sep
    by_id = {p["id"]: p for p in metadata["packages"]}
    members = set(metadata["workspace_members"])
    is_service = {
        pid: by_id[pid]["manifest_path"].startswith(services_dir) for pid in members
    }
    service_names = {by_id[pid]["name"] for pid in members if is_service[pid]}
    edges = []
    for pid in members:
        if not is_service[pid]:
            continue
        package = by_id[pid]
        for dep in package["dependencies"]:
            if dep["name"] in service_names and dep.get("path"):
                edges.append((package["name"], dep["name"], dep.get("kind") or "normal"))
    return sorted(edges)


def report(edges):
    for dependent, dependency, kind in edges:
        print(f"services/ package {dependent} depends on services/ package {dependency} ({kind})",
              file=sys.stderr)
    if edges:
        print("move what they share into a library under crates/ (docs/architecture.md)",
              file=sys.stderr)
    return 1 if edges else 0


def self_test():
    fake = {
        "workspace_root": "/w",
        "workspace_members": ["a", "b", "c"],
        "packages": [
            {"id": "a", "name": "svc-a", "manifest_path": "/w/services/a/Cargo.toml",
             "dependencies": [{"name": "svc-b", "path": "/w/services/b", "kind": "dev"},
                              {"name": "lib-c", "path": "/w/crates/c", "kind": None}]},
            {"id": "b", "name": "svc-b", "manifest_path": "/w/services/b/Cargo.toml",
             "dependencies": [{"name": "lib-c", "path": "/w/crates/c", "kind": None}]},
            {"id": "c", "name": "lib-c", "manifest_path": "/w/crates/c/Cargo.toml",
             "dependencies": []},
        ],
    }
    assert service_edges(fake) == [("svc-a", "svc-b", "dev")], service_edges(fake)
    fake["packages"][0]["dependencies"].pop(0)
    assert service_edges(fake) == [], service_edges(fake)
    print("check-service-deps self-test: a services→services edge is reported, none is clean")
    return 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    metadata = json.loads(subprocess.check_output(
        ["cargo", "metadata", "--format-version", "1", "--no-deps", "--offline"]))
    status = report(service_edges(metadata))
    if status == 0:
        print("no services/ package depends on another")
    return status


if __name__ == "__main__":
    sys.exit(main())
