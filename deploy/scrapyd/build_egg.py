"""Build the Scrapyd egg of VOC's crawler code and, optionally, upload it.

    python deploy/scrapyd/build_egg.py --out dist/                     # → dist/voc-<version>.egg
    python deploy/scrapyd/build_egg.py --upload http://127.0.0.1:6800  # build, then POST addversion.json

The egg holds ``crawlers`` and ``configs`` (the spiders, their parsers and pipelines, and the config schema) with the
entry point ``scrapy: settings = crawlers.settings``; the rest of VOC (classifier, index) and the dependencies come from
the Scrapyd host's environment (``pip install "voc[scale]"``), so an egg is a few hundred kB and a new parser version
is deployed without touching the host.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SETUP = '''from setuptools import find_packages, setup
setup(name="voc", version={version!r}, packages=find_packages(include=["crawlers*", "configs*"]),
      package_data={{"configs": ["*.yaml"], "crawlers": ["*.md"]}},
      entry_points={{"scrapy": ["settings = crawlers.settings"]}}, zip_safe=False)
'''


def build(out: Path, version: str | None = None) -> Path:
    version = version or time.strftime("%Y%m%d%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for package in ("crawlers", "configs"):
            shutil.copytree(REPO / package, root / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        (root / "setup.py").write_text(SETUP.format(version=version), encoding="utf-8")
        subprocess.run([sys.executable, "setup.py", "-q", "bdist_egg", "-d", str(out.resolve())], cwd=root, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    eggs = sorted(out.glob(f"voc-{version}-*.egg"))
    if not eggs:
        raise SystemExit(f"no egg was built in {out}")
    return eggs[-1]


def upload(egg: Path, url: str, *, project: str = "voc", version: str) -> str:
    """POST the egg to Scrapyd's ``addversion.json`` (multipart form); returns its JSON answer."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in (("project", project), ("version", version)):
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="egg"; filename="{egg.name}"\r\n'
                 f"Content-Type: application/octet-stream\r\n\r\n".encode() + egg.read_bytes() + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    req = urllib.request.Request(url.rstrip("/") + "/addversion.json", data=body, method="POST",
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return resp.read().decode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist")
    parser.add_argument("--version")
    parser.add_argument("--upload", metavar="SCRAPYD_URL")
    args = parser.parse_args()
    version = args.version or time.strftime("%Y%m%d%H%M%S")
    egg = build(args.out, version)
    print(egg)
    if args.upload:
        print(upload(egg, args.upload, version=version))
    return 0


if __name__ == "__main__":
    sys.exit(main())
