#!/usr/bin/env python3
"""Runs the build stage of deploy/Dockerfile as written, in a clean directory, without Docker
(run by ctest as deploy.docker_build, label `slow`: `make test-slow`).

usage: docker_build.py REPO

- the build context is what `docker build .` would send: the repository less .dockerignore;
- the stage's ENV, WORKDIR, COPY and RUN instructions run in order, each RUN with `sh -c` in the
  working directory, with two substitutions: absolute paths of the image (WORKDIR, the install
  prefix /opt/remhart) become paths under a temporary root, and the `apt-get` RUN is not run —
  its packages are the ones scripts/bootstrap installs here, and deploy.files checks that each
  exists in Debian 12;
- then the installed tree is what the runtime stage copies: its remhart starts from
  /opt/remhart/bin with only the installed files (no source tree beside it) and serves the
  dashboard and GET /ready.
"""
import fnmatch
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.abspath(sys.argv[1])
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL:", what, flush=True)


def ignored(rel, patterns):
    """Whether .dockerignore leaves `rel` (or a directory above it) out of the context."""
    parts = rel.split("/")
    for k in range(1, len(parts) + 1):
        prefix = "/".join(parts[:k])
        if any(fnmatch.fnmatchcase(prefix, p) for p in patterns):
            return True
    return False


def copy_context(dest):
    patterns = []
    path = os.path.join(REPO, ".dockerignore")
    if os.path.exists(path):
        patterns = [l.strip().rstrip("/") for l in open(path) if l.strip() and not l.startswith("#")]
    for root, dirs, files in os.walk(REPO):
        rel_root = os.path.relpath(root, REPO)
        rel_root = "" if rel_root == "." else rel_root + "/"
        dirs[:] = [d for d in dirs if not ignored(rel_root + d, patterns)]
        for f in files:
            rel = rel_root + f
            if ignored(rel, patterns):
                continue
            os.makedirs(os.path.join(dest, rel_root), exist_ok=True)
            shutil.copy2(os.path.join(root, f), os.path.join(dest, rel), follow_symlinks=False)


dockerfile = open(os.path.join(REPO, "deploy", "Dockerfile")).read()
logical = re.sub(r"\\\n", " ", dockerfile)
stages = re.split(r"^FROM ", logical, flags=re.M)[1:]
build = [s for s in stages if re.match(r"\S+ AS build\b", s)]
check(len(build) == 1, "the Dockerfile has no stage named build")
instructions = [l for l in build[0].splitlines()[1:] if l.strip() and not l.startswith("#")]

root = tempfile.mkdtemp(prefix="remhart-docker-build-")
image = lambda p: os.path.join(root, p.lstrip("/"))  # an absolute path of the image, here
env = dict(os.environ)
workdir = image("/")
started = time.time()
for line in instructions:
    op, _, arg = line.strip().partition(" ")
    if op == "ENV":
        for k, v in re.findall(r"(\w+)=(\S+)", arg):
            env[k] = v
    elif op == "WORKDIR":
        workdir = image(arg)
        os.makedirs(workdir, exist_ok=True)
    elif op == "COPY":
        check(arg.split() == [".", "."], f"COPY {arg}: only the whole context is handled here")
        copy_context(workdir)
    elif op == "RUN":
        if "apt-get install" in arg:
            continue  # scripts/bootstrap installed these; deploy.files checks them against Debian
        command = arg.replace("/opt/remhart", image("/opt/remhart"))
        print(f"RUN {command}", flush=True)
        r = subprocess.run(["sh", "-c", command], cwd=workdir, env=env)
        check(r.returncode == 0, f"RUN {arg} failed ({r.returncode})")
        if r.returncode != 0:
            break
    else:
        check(False, f"{op}: not an instruction this check knows")
print(f"build stage: {time.time() - started:.0f} s", flush=True)

# The runtime stage copies /opt/remhart: the installed tree alone must serve.
binary = image("/opt/remhart/bin/remhart")
if not failures:
    check(os.access(binary, os.X_OK), "no /opt/remhart/bin/remhart after the build stage")
    shutil.rmtree(image("/src"))  # the runtime image has no source tree
if not failures:
    data = os.path.join(root, "data")
    server = subprocess.Popen([binary, "serve", "--port", "0", "--no-demo", "--data-dir", data],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env={**os.environ, "REMHART_ANALYTICS_ENABLED": "false",
                                   "REMHART_ADMIN_PASSWORD": "docker-build-check-1"})
    port = None
    deadline = time.time() + 60
    while time.time() < deadline and port is None:
        m = re.search(r"listening on http://[^:]+:(\d+)", server.stdout.readline())
        if m:
            port = int(m.group(1))
    check(port, "the installed remhart did not start")
    try:
        if port:
            ready = urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=10)
            check(ready.status == 200, f"GET /ready: {ready.status}")
            page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).read().decode()
            check("<html" in page.lower(), "the installed remhart serves no dashboard at /")
    finally:
        server.terminate()
        server.wait(30)
shutil.rmtree(root, ignore_errors=True)
if failures:
    sys.exit(1)
print("the Dockerfile's build stage builds and installs a working remhart")
