"""The checks behind scripts/check-deploy.sh (run it through that script: it provides the tools).

Prints one line per check and exits 1 if any failed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from urllib.parse import urlparse

import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S_VERSION = "1.37.0"
STRIMZI_KINDS = {("kafka.strimzi.io/v1beta2", "KafkaTopic")}
SECRET_NAME = "fitex-secrets"
# Which config section's port each container / compose service serves on.
SERVICE_SECTIONS = {"subscriber": "subscriber", "fetcher": "fetcher", "goals": "goals"}
NON_SECTION_VARS = {"FITEX_ENV", "FITEX_CONFIG_DIR"}

failures: list[str] = []
checked = 0


def ok(msg: str) -> None:
    global checked
    checked += 1
    print(f"  ok    {msg}")


def fail(msg: str) -> None:
    global checked
    checked += 1
    failures.append(msg)
    print(f"  FAIL  {msg}")


def check(cond: bool, msg: str) -> bool:
    (ok if cond else fail)(msg)
    return cond


# --- configuration keys ----------------------------------------------------------------------
def config_keys() -> tuple[set[tuple[str, ...]], dict]:
    """Every leaf key path of config/base.toml and config/production.toml, and base.toml itself."""
    base = tomllib.loads((ROOT / "config/base.toml").read_text())
    keys: set[tuple[str, ...]] = set()

    def walk(table: dict, prefix: tuple[str, ...]) -> None:
        for k, v in table.items():
            if isinstance(v, dict):
                walk(v, prefix + (k,))
            else:
                keys.add(prefix + (k,))

    walk(base, ())
    for extra in sorted((ROOT / "config").glob("*.toml")):
        if extra.name != "base.toml":
            walk(tomllib.loads(extra.read_text()), ())
    return keys, base


KEYS, BASE = config_keys()


def env_key_problem(name: str) -> str | None:
    """None if `name` is a known setting, else why not."""
    if name in NON_SECTION_VARS or not name.startswith("FITEX"):
        return None
    if not name.startswith("FITEX__"):
        return f"{name}: not FITEX__SECTION__KEY"
    path = tuple(part.lower() for part in name[len("FITEX__"):].split("__"))
    if path in KEYS:
        return None
    return f"{name}: no key {'.'.join(path)} in config/*.toml"


def configured_port(section: str, env: dict) -> int:
    override = env.get(f"FITEX__{section.upper()}__PORT")
    return int(override) if override is not None else int(BASE[section]["port"])


# --- Kubernetes ------------------------------------------------------------------------------
def kafka_rs_partitions() -> dict[str, int]:
    """Topic name -> partitions, from Topics::all in crates/common/src/kafka.rs and base.toml."""
    src = (ROOT / "crates/common/src/kafka.rs").read_text()
    body = src[src.index("pub fn all(&self)"):]
    body = body[: body.index("\n    }\n")]
    pairs = re.findall(r"name:\s*self\.(\w+)\.clone\(\),\s*partitions:\s*(\d+)", body)
    names = BASE["kafka"]["topics"]
    return {names[field]: int(n) for field, n in pairs}


def check_kafka_topic(doc: dict, where: str, expected: dict[str, int]) -> str | None:
    name = doc.get("metadata", {}).get("name")
    spec = doc.get("spec") or {}
    topic = spec.get("topicName", name)
    label = (doc.get("metadata", {}).get("labels") or {}).get("strimzi.io/cluster")
    parts = spec.get("partitions")
    config = spec.get("config") or {}
    good = True
    good &= check(isinstance(label, str) and label != "", f"{where} KafkaTopic {name}: strimzi.io/cluster label")
    good &= check(type(parts) is int and parts > 0, f"{where} KafkaTopic {name}: spec.partitions is an int > 0 ({parts!r})")
    good &= check(type(spec.get("replicas")) is int and spec["replicas"] > 0, f"{where} KafkaTopic {name}: spec.replicas is an int > 0")
    has_retention = any(k in config for k in ("retention.ms", "retention.bytes"))
    good &= check(has_retention, f"{where} KafkaTopic {name}: spec.config has retention")
    if topic in expected:
        good &= check(parts == expected[topic], f"{where} KafkaTopic {topic}: {parts} partitions = Topics::all ({expected[topic]})")
    else:
        good &= check(False, f"{where} KafkaTopic {topic}: a topic of config/base.toml [kafka.topics]")
    return topic if good else None


def container_env_names(container: dict) -> list[str]:
    return [e["name"] for e in container.get("env") or []]


def check_workload(doc: dict, where: str, configmaps: dict[str, dict]) -> None:
    kind, name = doc["kind"], doc["metadata"]["name"]
    spec = doc["spec"]["template"]["spec"]
    sc = spec.get("securityContext") or {}
    check(sc.get("runAsNonRoot") is True and sc.get("runAsUser", 0) != 0,
          f"{where} {kind}/{name}: runs as non-root")
    containers = (spec.get("initContainers") or []) + spec["containers"]
    for c in containers:
        cname = f"{where} {kind}/{name}[{c['name']}]"
        res = c.get("resources") or {}
        check(all(k in res.get("requests", {}) for k in ("cpu", "memory")) and "memory" in res.get("limits", {}),
              f"{cname}: resource requests (cpu, memory) and memory limit")
        csc = c.get("securityContext") or {}
        check(csc.get("allowPrivilegeEscalation") is False, f"{cname}: no privilege escalation")
        for e in c.get("env") or []:
            vf = e.get("valueFrom") or {}
            if "value" in e and re.search(r"PASSWORD|SECRET|TOKEN|KEYS|VERIFICATION", e["name"]):
                fail(f"{cname}: {e['name']} has a literal value (secrets come from {SECRET_NAME})")
            if "secretKeyRef" in vf and vf["secretKeyRef"].get("name") != SECRET_NAME:
                fail(f"{cname}: {e['name']} refers to Secret {vf['secretKeyRef'].get('name')}, not {SECRET_NAME}")
        names = container_env_names(c)
        for ref in c.get("envFrom") or []:
            cm = (ref.get("configMapRef") or {}).get("name")
            if cm is not None:
                if not check(cm in configmaps, f"{cname}: envFrom ConfigMap {cm} is rendered"):
                    continue
                names += list((configmaps[cm].get("data") or {}).keys())
        problems = [p for p in map(env_key_problem, names) if p]
        check(not problems, f"{cname}: {len(names)} env names are known settings" + (f" ({'; '.join(problems)})" if problems else ""))
    if kind != "Deployment":
        return
    check(spec.get("terminationGracePeriodSeconds", 30) > 10 + 5,
          f"{where} {kind}/{name}: terminationGracePeriodSeconds {spec.get('terminationGracePeriodSeconds', 30)} > 10 s drain + margin")
    c = spec["containers"][0]
    section = c["name"]
    if section in SERVICE_SECTIONS:
        port = configured_port(section, {})
        ports = {p.get("name"): p["containerPort"] for p in c.get("ports") or []}
        check(ports.get("http") == port, f"{where} {kind}/{name}: containerPort http = {section}.port {port}")
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            get = (c.get(probe) or {}).get("httpGet") or {}
            target = ports.get(get.get("port")) if isinstance(get.get("port"), str) else get.get("port")
            check(get.get("path") == path and target == port, f"{where} {kind}/{name}: {probe} GET {path} on :{port}")


def render(overlay: Path) -> list[dict]:
    out = subprocess.run(["kubectl", "kustomize", str(overlay)], capture_output=True, text=True)
    if out.returncode != 0:
        fail(f"kustomize {overlay.relative_to(ROOT)}: {out.stderr.strip()}")
        return []
    docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    ok(f"kustomize {overlay.relative_to(ROOT)}: rendered {len(docs)} objects")
    return docs


def check_overlay(overlay: Path, expected_topics: dict[str, int]) -> None:
    where = overlay.name
    docs = render(overlay)
    if not docs:
        return
    crds = [d for d in docs if (d.get("apiVersion"), d.get("kind")) in STRIMZI_KINDS]
    core = [d for d in docs if (d.get("apiVersion"), d.get("kind")) not in STRIMZI_KINDS]
    unknown_crds = [f"{d['apiVersion']}/{d['kind']}" for d in core if ".io/" in d["apiVersion"] and "k8s.io" not in d["apiVersion"]]
    check(not unknown_crds, f"{where}: no custom resources other than Strimzi KafkaTopic {unknown_crds or ''}")

    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        yaml.safe_dump_all(core, fh)
    res = subprocess.run(["kubernetes-validate", "--strict", "--quiet", "-k", K8S_VERSION, fh.name],
                         capture_output=True, text=True)
    Path(fh.name).unlink()
    detail = (res.stdout + res.stderr).strip()
    check(res.returncode == 0, f"{where}: kubernetes-validate --strict ({K8S_VERSION}) on {len(core)} objects" + (f"\n{detail}" if res.returncode else ""))

    kinds = [(d["kind"], d["metadata"]["name"]) for d in docs]
    check(not any(k == "Secret" for k, _ in kinds), f"{where}: no Secret rendered (values live outside the repo)")
    deployments = {n for k, n in kinds if k == "Deployment"}
    check(deployments == {"fitex-subscriber", "fitex-fetcher", "fitex-goals", "fitex-portal"}, f"{where}: Deployments {sorted(deployments)}")
    pdbs = {d["spec"]["selector"]["matchLabels"].get("app.kubernetes.io/name") for d in docs if d["kind"] == "PodDisruptionBudget"}
    check(deployments <= pdbs, f"{where}: a PodDisruptionBudget per Deployment")
    hpas = {d["spec"]["scaleTargetRef"]["name"]: d for d in docs if d["kind"] == "HorizontalPodAutoscaler"}
    check({"fitex-fetcher", "fitex-goals"} <= set(hpas), f"{where}: HPAs for fetcher and goals")
    for target, topic_field in (("fitex-fetcher", "notifications"), ("fitex-goals", "activity_days")):
        hpa = hpas.get(target)
        parts = expected_topics.get(BASE["kafka"]["topics"][topic_field], 0)
        if hpa:
            check(hpa["spec"]["maxReplicas"] <= parts,
                  f"{where}: HPA {target} maxReplicas {hpa['spec']['maxReplicas']} <= {parts} partitions of its topic")
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    check({"fitex-subscriber", "fitex-goals", "fitex-portal"} <= set(services), f"{where}: Services for subscriber, goals and the participant pages")
    ingresses = [d for d in docs if d["kind"] == "Ingress"]
    paths = sorted((p["path"], p["backend"]["service"]["name"]) for i in ingresses for r in i["spec"]["rules"]
                   for p in r["http"]["paths"])
    portal_paths = [("/", "fitex-portal"), ("/connect/", "fitex-portal"), ("/signout", "fitex-portal"),
                    ("/status", "fitex-portal"), ("/season", "fitex-portal"), ("/team", "fitex-portal"),
                    ("/activity", "fitex-portal"), ("/activity/", "fitex-portal"), ("/token", "fitex-portal")]
    check(paths == sorted(portal_paths + [("/v1/", "fitex-goals"), ("/webhooks/", "fitex-subscriber")]),
          f"{where}: Ingress exposes only /webhooks/ (subscriber), /v1/ (goals) and the participant pages: {paths}")
    check(all(p["pathType"] == "Exact" or p["path"].endswith("/") for i in ingresses for r in i["spec"]["rules"]
              for p in r["http"]["paths"] if p["backend"]["service"]["name"] == "fitex-portal"),
          f"{where}: the participant pages' paths never expose /metrics or /readyz")
    hosts = [r.get("host", "") for i in ingresses for r in i["spec"]["rules"]]
    check(all(h and not h.endswith(".invalid") for h in hosts), f"{where}: Ingress hosts set by the overlay {hosts}")
    for i in ingresses:
        for r in i["spec"]["rules"]:
            for p in r["http"]["paths"]:
                svc = services.get(p["backend"]["service"]["name"])
                pname = p["backend"]["service"]["port"].get("name")
                check(svc is not None and any(sp["name"] == pname for sp in svc["spec"]["ports"]),
                      f"{where}: Ingress {p['path']} → Service port {pname} exists")
    jobs = [d for d in docs if d["kind"] == "Job"]
    cmds = [c["command"] for j in jobs for c in (j["spec"]["template"]["spec"].get("initContainers") or [])
            + j["spec"]["template"]["spec"]["containers"]]
    check(cmds == [["fitexctl", "migrate"], ["fitexctl", "topics", "ensure"]],
          f"{where}: migration Job runs fitexctl migrate, then fitexctl topics ensure")
    configmaps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
    for d in docs:
        if d["kind"] in ("Deployment", "Job"):
            check_workload(d, where, configmaps)
    images = {c["image"] for d in docs if d["kind"] in ("Deployment", "Job")
              for c in (d["spec"]["template"]["spec"].get("initContainers") or []) + d["spec"]["template"]["spec"]["containers"]}
    check(len(images) == 1 and all(":" in i and not i.endswith(":latest") for i in images),
          f"{where}: one pinned image for every workload {sorted(images)}")

    seen = {check_kafka_topic(d, where, expected_topics) for d in crds}
    missing = set(expected_topics) - seen
    check(not missing, f"{where}: a valid KafkaTopic for every topic ({len(expected_topics)})" + (f", missing or invalid: {sorted(missing)}" if missing else ""))
    dead = BASE["kafka"]["topics"]["dead_letters"]
    retention = {d["spec"].get("topicName"): int(d["spec"]["config"].get("retention.ms", 0)) for d in crds}
    longest_other = max((v for k, v in retention.items() if k != dead), default=0)
    check(retention.get(dead, 0) > longest_other and retention.get(dead, 0) >= 30 * 86_400_000,
          f"{where}: dead-letter topic keeps records longest (>= 30 days)")


def check_k8s() -> None:
    print("Kubernetes (deploy/k8s):")
    expected = kafka_rs_partitions()
    check(len(expected) == len(BASE["kafka"]["topics"]),
          f"Topics::all lists every [kafka.topics] entry: {', '.join(f'{k}={v}' for k, v in expected.items())}")
    overlays = sorted(p for p in (ROOT / "deploy/k8s/overlays").iterdir() if (p / "kustomization.yaml").is_file())
    check(len(overlays) >= 2, f"overlays: {[p.name for p in overlays]}")
    for overlay in overlays:
        check_overlay(overlay, expected)


# --- Dockerfile ------------------------------------------------------------------------------
def check_dockerfile() -> None:
    print("Dockerfile (deploy/Dockerfile):")
    path = ROOT / "deploy/Dockerfile"
    res = subprocess.run(["hadolint", "--no-fail", "-f", "json", str(path)], capture_output=True, text=True)
    try:
        findings = json.loads(res.stdout or "[]")
    except json.JSONDecodeError:
        fail(f"hadolint did not run: {res.stdout}{res.stderr}")
        return
    for f in findings:
        print(f"        hadolint {f['level']} {f['code']} line {f['line']}: {f['message']}")
    blocking = [f for f in findings if f["level"] in ("error", "warning")]
    check(not blocking, f"hadolint: {len(findings)} findings, {len(blocking)} at warning level or above")
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"\s*#\s*hadolint\s+ignore=([\w,]+)", line)
        if not m:
            continue
        above = []
        j = i - 1
        while j >= 0 and lines[j].lstrip().startswith("#") and "hadolint" not in lines[j]:
            above.insert(0, lines[j])
            j -= 1
        text = " ".join(above)
        for rule in m.group(1).split(","):
            check(re.search(rf"{rule}\s*:\s*\S.{{10,}}", text) is not None,
                  f"line {i + 1}: ignore {rule} has a reason (a comment above: '{rule}: why')")
    text = path.read_text()
    for binary in ("fitex-subscriber", "fitex-fetcher", "fitex-goals", "fitex-portal", "fitexctl", "provider-simulator"):
        check(f"target/release/{binary}" in text, f"the image carries {binary}")
    check(re.search(r"^USER\s+(?!0\b|root\b)", text, re.M) is not None, "the image runs as a non-root USER")


# --- docker-compose.yml ----------------------------------------------------------------------
def check_compose() -> None:
    print("docker-compose.yml:")
    try:
        doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    except yaml.YAMLError as err:
        fail(f"parses as YAML: {err}")
        return
    ok("parses as YAML")
    services = doc.get("services") or {}
    for name in ("subscriber", "fetcher", "goals", "provider-simulator", "kafka", "postgres"):
        check(name in services, f"service {name} defined")
    for name, svc in services.items():
        one_shot = str(svc.get("restart", "")).strip() == "no"
        deps = svc.get("depends_on") or {}
        unknown = [d for d in deps if d not in services]
        if unknown:
            fail(f"{name}: depends_on unknown services {unknown}")
        nm = svc.get("network_mode", "")
        if nm.startswith("service:") and nm[len("service:"):] not in services:
            fail(f"{name}: network_mode refers to unknown service {nm}")
        if not one_shot:
            hc = svc.get("healthcheck") or {}
            check(bool(hc.get("test")) and not hc.get("disable"), f"{name}: long-running, has a healthcheck")
        env = svc.get("environment") or {}
        if isinstance(env, list):
            env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
        problems = [p for p in map(env_key_problem, env) if p]
        fitex = [k for k in env if k.startswith("FITEX")]
        if fitex:
            check(not problems, f"{name}: {len(fitex)} FITEX variables are known settings" + (f" ({'; '.join(problems)})" if problems else ""))
        cmd = svc.get("command") or []
        binary = cmd[0] if cmd else ""
        section = {"fitex-subscriber": "subscriber", "fitex-fetcher": "fetcher", "fitex-goals": "goals", "fitex-portal": "portal"}.get(binary)
        port = None
        if section:
            port = configured_port(section, env)
            hosts = env.get(f"FITEX__{section.upper()}__HOST")
            check(hosts == "0.0.0.0", f"{name}: FITEX__{section.upper()}__HOST=0.0.0.0 (reachable in the container)")
        elif binary == "provider-simulator":
            port = int(cmd[cmd.index("--port") + 1]) if "--port" in cmd else 8090
        if port is None:
            continue
        published = [str(p).split(":")[-1].split("/")[0] for p in svc.get("ports") or []]
        check(all(int(p) == port for p in published), f"{name}: published container ports {published} = configured port {port}")
        hc_test = " ".join(map(str, (svc.get("healthcheck") or {}).get("test") or []))
        urls = re.findall(r"https?://\S+", hc_test)
        check(bool(urls) and all(urlparse(u).port == port for u in urls), f"{name}: healthcheck probes port {port} ({', '.join(urls)})")
    # The simulator pushes to the subscriber's webhook, signed with a secret the subscriber accepts.
    sim = services.get("provider-simulator") or {}
    sub = services.get("subscriber") or {}
    cmd = [str(c) for c in sim.get("command") or []]
    if "--subscriber-url" in cmd and sub:
        url = urlparse(cmd[cmd.index("--subscriber-url") + 1])
        sub_env = sub.get("environment") or {}
        check(url.hostname == "subscriber" and url.port == configured_port("subscriber", sub_env)
              and url.path == BASE["subscriber"]["fitbit_webhook_path"],
              f"provider-simulator pushes to the subscriber's webhook ({url.geturl()})")
        secret = cmd[cmd.index("--client-secret") + 1] if "--client-secret" in cmd else "sim-client-secret"
        accepted = str(sub_env.get("FITEX__FITBIT__CLIENT_SECRETS", ""))
        check(secret == accepted or secret in accepted.split(","),
              "provider-simulator signs with a secret the subscriber accepts")
    fetcher = services.get("fetcher") or {}
    fenv = fetcher.get("environment") or {}
    base_url = urlparse(str(fenv.get("FITEX__FITBIT_API__API_BASE_URL", "")))
    if fetcher.get("network_mode") == "service:provider-simulator":
        check(base_url.hostname == "127.0.0.1" and base_url.port == 8090,
              "fetcher reaches the simulator on 127.0.0.1:8090 in its network namespace")
    else:
        check(base_url.hostname == "provider-simulator" and base_url.port == 8090,
              "fetcher reaches the simulator at provider-simulator:8090")
        sim_cmd = [str(c) for c in (sim.get("command") or [])]
        check("--host" in sim_cmd and sim_cmd[sim_cmd.index("--host") + 1] == "0.0.0.0",
              "provider-simulator listens on all interfaces in its container")


def main() -> int:
    start = time.monotonic()
    for tool in ("kubectl", "kubernetes-validate", "hadolint"):
        if shutil.which(tool) is None:
            print(f"missing tool {tool}: run scripts/check-deploy.sh", file=sys.stderr)
            return 2
    check_k8s()
    check_dockerfile()
    check_compose()
    took = time.monotonic() - start
    if failures:
        print(f"\ncheck-deploy: {len(failures)} of {checked} checks FAILED ({took:.1f} s):")
        for f in failures:
            print(f"  - {f.splitlines()[0]}")
        return 1
    print(f"\ncheck-deploy: all {checked} checks passed ({took:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
