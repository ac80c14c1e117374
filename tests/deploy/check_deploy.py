#!/usr/bin/env python3
"""Checks the deployment files in deploy/ against real tools (run by ctest as deploy.files).

usage: check_deploy.py REPO REMHART_BINARY

- every YAML file parses, and each Kubernetes object has the keys its kind requires;
- the compose topology: replicas on MariaDB, Redis, Mosquitto behind nginx, each replica with its
  own MQTT client id and the shared subscription;
- promtool accepts the alert rules, and every metric they and the Grafana dashboard name is one
  remhart exports;
- the Dockerfile: Debian 12 stages, a non-root runtime user, every package it installs exists, the
  runtime packages provide every shared library the built binary needs, its health check command
  works against a running server;
- nginx runs the shipped gateway config in front of a real remhart: HTTPS proxying to /api, the
  WebSocket upgrade on /ws, probes not exposed, the body limit and the per-address rate limit.
"""
import glob
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import yaml

REPO, BINARY = sys.argv[1], sys.argv[2]
DEPLOY = os.path.join(REPO, "deploy")
IN_CI = os.environ.get("CI") == "true"
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL:", what)


def need(tool):
    path = shutil.which(tool) or (f"/usr/sbin/{tool}" if os.path.exists(f"/usr/sbin/{tool}") else None)
    if not path:
        if IN_CI:
            check(False, f"{tool} is missing (scripts/bootstrap installs it)")
        else:
            print(f"skipping the {tool} checks: not installed (scripts/bootstrap)")
    return path


def metric_names():
    names = set()
    for path in glob.glob(os.path.join(REPO, "src", "**", "*.cpp"), recursive=True):
        names.update(re.findall(r'"(remhart_[a-z0-9_]+)"', open(path).read()))
    return names


EXPORTED = metric_names()


def check_metrics(text, where):
    for name in set(re.findall(r"\b(remhart_[a-z0-9_]+)", text)):
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        check(name in EXPORTED or base in EXPORTED, f"{where} names {name}, which remhart does not export")


# ---- YAML and Kubernetes ------------------------------------------------------------------------
REQUIRED = {
    "Deployment": ["spec.selector", "spec.template.spec.containers"],
    "Service": ["spec.selector", "spec.ports"],
    "Ingress": ["spec.rules"],
    "ConfigMap": ["data"],
    "HorizontalPodAutoscaler": ["spec.scaleTargetRef", "spec.minReplicas", "spec.maxReplicas", "spec.metrics"],
    "PodDisruptionBudget": ["spec.selector"],
}


def get(doc, path):
    for key in path.split("."):
        if not isinstance(doc, dict) or key not in doc:
            return None
        doc = doc[key]
    return doc


docs = {}
for path in sorted(glob.glob(os.path.join(DEPLOY, "**", "*.yaml"), recursive=True)):
    try:
        docs[path] = [d for d in yaml.safe_load_all(open(path)) if d is not None]
    except yaml.YAMLError as e:
        check(False, f"{path} does not parse: {e}")
check(len(docs) >= 8, f"expected the k8s, compose and alert YAML files, found {len(docs)}")

kinds = {}
for path, items in docs.items():
    if "/k8s/" not in path:
        continue
    for d in items:
        for key in ("apiVersion", "kind", "metadata.name"):
            check(get(d, key) is not None, f"{path}: a document lacks {key}")
        kind = d.get("kind")
        kinds[kind] = d
        for key in REQUIRED.get(kind, []):
            check(get(d, key) is not None, f"{path}: {kind} lacks {key}")
for kind in REQUIRED:
    check(kind in kinds, f"deploy/k8s has no {kind}")
if "Deployment" in kinds:
    c = get(kinds["Deployment"], "spec.template.spec.containers")[0]
    check(get(c, "livenessProbe.httpGet.path") == "/health", "liveness probe is not /health")
    check(get(c, "readinessProbe.httpGet.path") == "/ready", "readiness probe is not /ready")
    check(any(get(e, "valueFrom.secretKeyRef.name") for e in c.get("env", [])),
          "the Deployment takes no value from a Secret")
    check(get(kinds["Deployment"], "spec.template.spec.securityContext.runAsNonRoot") is True,
          "the pods may run as root")
    labels = get(kinds["Deployment"], "spec.template.metadata.labels")
    for kind in ("Service", "PodDisruptionBudget"):
        sel = get(kinds.get(kind, {}), "spec.selector")
        sel = sel.get("matchLabels", sel) if isinstance(sel, dict) else sel
        check(sel and all(labels.get(k) == v for k, v in sel.items()), f"the {kind} selects no remhart pod")
if "ConfigMap" in kinds:
    data = get(kinds["ConfigMap"], "data") or {}
    for key, scheme in (("REMHART_REDIS_URL", "redis://"), ("REMHART_MQTT_URL", "mqtt://")):
        check(str(data.get(key, "")).startswith(scheme), f"the ConfigMap sets no {key}")
if "HorizontalPodAutoscaler" in kinds:
    h = kinds["HorizontalPodAutoscaler"]
    check(get(h, "spec.minReplicas") == 3 and get(h, "spec.maxReplicas") == 20, "HPA is not 3–20 replicas")
    check(get(h, "spec.metrics")[0]["resource"]["target"]["averageUtilization"] == 70, "HPA is not at 70 % CPU")

compose = yaml.safe_load(open(os.path.join(DEPLOY, "compose.yaml")))
services = compose.get("services", {})
replicas = [s for s in services if s.startswith("remhart")]
check(len(replicas) >= 2, "compose runs fewer than two remhart replicas")
for s in ("mariadb", "redis", "mosquitto", "nginx"):
    check(s in services, f"compose has no {s}")
ids = set()
for r in replicas:
    env = services[r].get("environment", {})
    ids.add(env.get("REMHART_MQTT_CLIENT_ID"))
    check(env.get("REMHART_MQTT_SHARED_GROUP"), f"{r} does not share the MQTT subscription")
    check("mariadb://" in env.get("REMHART_STORAGE_DATABASE_URL", ""), f"{r} is not on MariaDB")
    check(env.get("REMHART_REDIS_URL", "").startswith("redis://redis:"), f"{r} does not use Redis")
    check(env.get("REMHART_MQTT_URL", "").startswith("mqtt://mosquitto:"), f"{r} does not use Mosquitto")
check(len(ids) == len(replicas) and None not in ids, "the replicas' MQTT client ids are not distinct")

# ---- Prometheus and Grafana ---------------------------------------------------------------------
alerts = os.path.join(DEPLOY, "prometheus", "alerts.yaml")
check_metrics(open(alerts).read(), "alerts.yaml")
promtool = need("promtool")
if promtool:
    r = subprocess.run([promtool, "check", "rules", alerts], capture_output=True, text=True)
    check(r.returncode == 0, f"promtool check rules: {r.stdout}{r.stderr}")
for path in glob.glob(os.path.join(DEPLOY, "grafana", "*.json")):
    dash = json.load(open(path))
    check(dash.get("panels"), f"{path} has no panels")
    check_metrics(json.dumps(dash), os.path.basename(path))

# ---- Dockerfile ---------------------------------------------------------------------------------
dockerfile = open(os.path.join(DEPLOY, "Dockerfile")).read()
logical = re.sub(r"\\\n", " ", dockerfile)
stages = re.split(r"^FROM ", logical, flags=re.M)[1:]
check(len(stages) == 2, "the Dockerfile is not a build stage and a runtime stage")
check(all(s.startswith("debian:12") for s in stages), "a stage is not Debian 12")
runtime = stages[-1]
user = re.findall(r"^USER (\S+)", runtime, flags=re.M)
check(user and not user[-1].split(":")[0] in ("root", "0"), "the runtime image runs as root")
install_lines = re.findall(r"apt-get install[^&]*", logical)
packages = [[p for p in line.split()[2:] if not p.startswith("-")] for line in install_lines]
for p in sum(packages, []):
    r = subprocess.run(["apt-cache", "show", p], capture_output=True)
    check(r.returncode == 0, f"the Dockerfile installs {p}, which Debian does not have")
for src in re.findall(r"^COPY (?!--from)(\S+)", logical, flags=re.M):
    check(os.path.exists(os.path.join(REPO, src)), f"COPY {src}: no such path")
# The runtime packages (with what they pull in) provide every library the binary links.
closure = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
                          "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances"] + packages[-1],
                         capture_output=True, text=True).stdout
provided = set(re.findall(r"^(\S+)$", closure, flags=re.M)) | set(re.findall(r"Depends: <?([^\s>]+)", closure))
provided |= {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}  # in debian:12-slim
for line in subprocess.run(["ldd", BINARY], capture_output=True, text=True).stdout.splitlines():
    m = re.search(r"=> (/\S+)", line)
    if not m or "asan" in m.group(1) or "ubsan" in m.group(1):
        continue
    owner = subprocess.run(["dpkg", "-S", os.path.realpath(m.group(1))], capture_output=True, text=True)
    if owner.returncode != 0:
        owner = subprocess.run(["dpkg", "-S", m.group(1)], capture_output=True, text=True)
    pkg = owner.stdout.split(":")[0]
    check(pkg in provided, f"the runtime image lacks {m.group(1)} (package {pkg})")
health = re.search(r"HEALTHCHECK[^\n]*?CMD (bash -c '.*')", logical)
check(health, "the Dockerfile has no health check")


# ---- a live remhart, then nginx with the shipped config in front of it --------------------------
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


work = tempfile.mkdtemp(prefix="remhart-deploy-")
server = subprocess.Popen([BINARY, "serve", "--port", "0", "--no-demo", "--data-dir", work + "/data"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env={**os.environ, "REMHART_ANALYTICS_ENABLED": "false",
                               "REMHART_SERVER_TRUSTED_PROXIES": "127.0.0.1",
                               "REMHART_ADMIN_PASSWORD": "deploy-check-password-1"})
port = None
deadline = time.time() + 60
while time.time() < deadline and port is None:
    line = server.stdout.readline()
    m = re.search(r"listening on http://[^:]+:(\d+)", line)
    if m:
        port = int(m.group(1))
check(port, "remhart did not start")
nginx_proc = None
try:
    if port and health:
        cmd = health.group(1).replace("8080", str(port))
        check(subprocess.run(["bash", "-c", cmd[len("bash -c "):].strip("'")]).returncode == 0,
              "the Dockerfile's health check fails against a ready server")
    nginx = need("nginx")
    if port and nginx:
        https, plain = free_port(), free_port()
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", work + "/tls.key", "-out", work + "/tls.crt"],
                       check=True, capture_output=True)
        conf = open(os.path.join(DEPLOY, "nginx", "remhart.conf")).read()
        conf = (conf.replace("remhart-1:8080", f"127.0.0.1:{port}").replace("remhart-2:8080", f"127.0.0.1:{port}")
                .replace("listen 443 ssl", f"listen 127.0.0.1:{https} ssl").replace("listen 80;", f"listen 127.0.0.1:{plain};")
                .replace("/etc/nginx/tls/", work + "/"))
        open(work + "/remhart.conf", "w").write(conf)
        temp = "".join(f"{k}_temp_path {work}/{k};\n" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        open(work + "/nginx.conf", "w").write(
            f"pid {work}/nginx.pid;\nerror_log {work}/error.log;\n" + ("user root;\n" if os.geteuid() == 0 else "")
            + f"events {{}}\nhttp {{\naccess_log off;\n{temp}include {work}/remhart.conf;\n}}\n")
        r = subprocess.run([nginx, "-t", "-c", work + "/nginx.conf", "-p", work], capture_output=True, text=True)
        check(r.returncode == 0, f"nginx -t: {r.stderr}")
        nginx_proc = subprocess.Popen([nginx, "-c", work + "/nginx.conf", "-p", work, "-g", "daemon off;"])
        ctx = ssl.create_default_context(cafile=work + "/tls.crt")
        base = f"https://127.0.0.1:{https}"
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", https), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)

        def call(path, data=None):
            try:
                with urllib.request.urlopen(urllib.request.Request(base + path, data=data), context=ctx, timeout=10) as r:
                    return r.status, r.read()
            except urllib.error.HTTPError as e:
                return e.code, e.read()

        status, body = call("/api/grid/latest")
        check(status == 401 and b"bearer token" in body, f"/api through nginx: {status} {body[:200]}")
        check(call("/health")[0] == 404, "/health is reachable through the gateway")
        check(call("/api/grid/ingest", b"x" * (17 << 20))[0] == 413, "a 17 MiB body passed the gateway")
        # The live stream's WebSocket upgrade through TLS and the proxy.
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1", https)), server_hostname="127.0.0.1") as s:
            s.sendall(b"GET /ws/grid-data HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      b"Sec-WebSocket-Version: 13\r\n\r\n")
            head = s.recv(4096)
            check(head.startswith(b"HTTP/1.1 101"), f"WebSocket upgrade through nginx: {head[:100]}")
        # The per-address limit (50/s with a burst): answered at first, then 429.
        codes = [call("/api/grid/latest")[0] for _ in range(320)]
        check(set(codes[:50]) == {401} and 429 in codes,
              f"rate limit through nginx: {codes.count(401)} × 401, {codes.count(429)} × 429")
        r = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        check_metrics(r, "/metrics")  # (the exported names themselves)
        check('remhart_alert_threshold{alert="ingest_lag_seconds"} 30' in r, "thresholds are not exported")
finally:
    if nginx_proc:
        nginx_proc.terminate()
        nginx_proc.wait()
    server.terminate()
    server.wait()
    shutil.rmtree(work, ignore_errors=True)

print("deploy checks:", "FAILED" if failures else "ok", f"({len(failures)} failures)")
sys.exit(1 if failures else 0)
