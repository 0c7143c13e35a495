"""Installs a built hashembed wheel or sdist with plain pip into a fresh virtualenv and uses it
as a user would: the golden vectors with every kernel the CPU has, the `hashembed` command,
and the version everywhere it is stated. A Linux wheel must also carry a platform tag that
installs on old distributions (auditwheel decides which tag its symbols allow), and an sdist
must hold what builds the package and nothing more.

    python tests/wheel/check.py target/wheels/hashembed-0.1.0-cp39-abi3-....whl
    python tests/wheel/check.py target/wheels/hashembed-0.1.0.tar.gz   # compiles from source

`make wheel-check`, `make release-check` and the release workflow all run this file, so what
is checked before a release is what `make test` checks.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any, NoReturn

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "golden" / "vectors.json"

# The oldest systems a Linux wheel installs on: glibc 2.17 (CentOS 7, manylinux2014) and
# musl 1.2 (Alpine 3.13). A newer symbol anywhere in the extension raises auditwheel's tag.
MAX_GLIBC = (2, 17)
MAX_MUSL = (1, 2)

# What an sdist holds (the C header being the C API's half of the sources); anything else at
# its top level (tests, docs, target/, .venv) is an error.
SDIST_TOP = {
    "Cargo.lock",
    "Cargo.toml",
    "LICENSE",
    "PKG-INFO",
    "README.md",
    "include",
    "pyproject.toml",
    "python",
    "src",
}
SDIST_MAX_FILE = 1 << 20

CLI_LINES = ["hello", "naïve café", "the cat sat on the mat", "☃ and 🙂"]


def cargo_version() -> str:
    match = re.search(
        r'^\[package\]\n(?:.*\n)*?version = "([^"]+)"', (ROOT / "Cargo.toml").read_text("utf-8"), re.M
    )
    if match is None:
        raise SystemExit("no [package] version in Cargo.toml")
    return match.group(1)


def fail(message: str) -> NoReturn:
    raise SystemExit(f"wheel check failed: {message}")


def clean_env(venv: Path | None = None) -> dict[str, str]:
    """The environment with no trace of the virtualenv that runs this script, so pip, maturin
    and Python see only the fresh one."""
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}}
    if venv is not None:
        env["VIRTUAL_ENV"] = str(venv)
    return env


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


# -- the distribution itself -----------------------------------------------------------------------


def check_wheel_name(wheel: Path, version: str) -> list[str]:
    """The wheel's platform tags, after checking it is version `version` and abi3 for 3.9+."""
    parts = wheel.name[: -len(".whl")].split("-")
    if len(parts) != 5:
        fail(f"{wheel.name} is not name-version-python-abi-platform.whl")
    name, wheel_version, python_tag, abi_tag, platforms = parts
    if (name, wheel_version, python_tag, abi_tag) != ("hashembed", version, "cp39", "abi3"):
        fail(f"{wheel.name}: expected hashembed-{version}-cp39-abi3-*.whl")
    return platforms.split(".")


def check_linux_tag(wheel: Path, platforms: list[str]) -> str:
    """The tag auditwheel allows for `wheel`, after checking it is old enough and the wheel
    carries it (pip goes by the file name)."""
    if importlib.util.find_spec("auditwheel") is None:
        fail(f"auditwheel is needed to check {wheel.name}: pip install auditwheel")
    shown = subprocess.run(
        [sys.executable, "-m", "auditwheel", "show", str(wheel)], capture_output=True, text=True
    )
    if shown.returncode != 0:
        fail(f"auditwheel show {wheel.name}: {shown.stderr or shown.stdout}")
    text = " ".join(shown.stdout.split())
    match = re.search(r'consistent with the following platform tag: "([^"]+)"', text)
    if match is None:
        fail(f"auditwheel show gave no platform tag:\n{shown.stdout}")
    tag = match.group(1)
    version = re.match(r"(manylinux|musllinux)_(\d+)_(\d+)_", tag)
    if version is None:
        fail(f"{wheel.name}: auditwheel allows only {tag}, not a manylinux or musllinux tag")
    kind, major, minor = version.group(1), int(version.group(2)), int(version.group(3))
    limit = MAX_GLIBC if kind == "manylinux" else MAX_MUSL
    if (major, minor) > limit:
        fail(f"{wheel.name} needs {kind} {major}.{minor}; it must run on {limit[0]}.{limit[1]}")
    if tag not in platforms:
        fail(f"{wheel.name} is not tagged {tag}, the tag auditwheel allows")
    print(f"auditwheel: {wheel.name} is consistent with {tag}")
    return tag


def check_sdist(sdist: Path, version: str) -> None:
    prefix = f"hashembed-{version}/"
    if sdist.name != f"hashembed-{version}.tar.gz":
        fail(f"{sdist.name}: expected hashembed-{version}.tar.gz")
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if m.isfile()]
    names = set()
    for m in members:
        if not m.name.startswith(prefix):
            fail(f"{sdist.name}: {m.name} is outside {prefix}")
        name = m.name[len(prefix) :]
        if name.split("/")[0] not in SDIST_TOP:
            fail(f"{sdist.name} holds {name}, which building does not need")
        if m.size > SDIST_MAX_FILE:
            fail(f"{sdist.name} holds {name} of {m.size} bytes")
        if "__pycache__" in name or name.endswith((".so", ".pyd", ".pyc")):
            fail(f"{sdist.name} holds a build output: {name}")
        names.add(name)
    sources = [*(ROOT / "src").rglob("*.rs")] + [
        p
        for p in (ROOT / "python" / "hashembed").rglob("*")
        if p.is_file() and (p.suffix in {".py", ".pyi"} or p.name == "py.typed")
    ]
    wanted = {p.relative_to(ROOT).as_posix() for p in sources} | SDIST_TOP - {"include", "python", "src"}
    wanted.add("include/hashembed.h")
    missing = sorted(wanted - names)
    if missing:
        fail(f"{sdist.name} lacks {', '.join(missing)}")
    size = sdist.stat().st_size
    print(f"sdist: {sdist.name}, {len(names)} files, {size / 1024:.0f} KiB, nothing but what builds")


# -- inside the fresh virtualenv ---------------------------------------------------------------------


def check_installed(vectors: Path, version: str) -> None:
    """Runs with the fresh virtualenv's Python, outside the source tree."""
    import importlib.metadata
    import sysconfig

    import hashembed
    import numpy as np

    where = Path(hashembed.__file__).resolve()
    if Path(sys.prefix).resolve() not in where.parents:
        fail(f"imported hashembed from {where}, not from the fresh virtualenv")
    dist = importlib.metadata.distribution("hashembed")
    stated = {"hashembed.__version__": hashembed.__version__, "the installed metadata": dist.version}
    for what, got in stated.items():
        if got != version:
            fail(f"{what} is {got}, Cargo.toml says {version}")
    tags = [
        line.split(":", 1)[1].strip()
        for line in (dist.read_text("WHEEL") or "").splitlines()
        if line.startswith("Tag:")
    ]
    if not tags or not all(t.startswith("cp39-abi3-") for t in tags):
        fail(f"installed wheel tags {tags}: expected cp39-abi3")

    cases = json.loads(vectors.read_text(encoding="utf-8"))["cases"]
    kernels = hashembed.available_kernels()
    for kernel in kernels:
        hashembed.set_kernel(kernel)
        for case in cases:
            got = hashembed.HashEmbedder(**case["config"]).embed("".join(map(chr, case["input"])))
            if got.view(np.uint32).tolist() != case["bits"]:
                fail(f"golden case {case['name']} differs with kernel {kernel}")
    hashembed.set_kernel("auto")

    scripts = Path(sysconfig.get_path("scripts"))
    cli = str(scripts / ("hashembed.exe" if os.name == "nt" else "hashembed"))

    def run(*args: str) -> str:
        done = subprocess.run([cli, *args], capture_output=True, text=True, encoding="utf-8")
        if done.returncode != 0:
            fail(f"hashembed {' '.join(args)} exited {done.returncode}: {done.stderr}")
        return done.stdout

    if run("--version").strip() != f"hashembed {version}":
        fail(f"hashembed --version printed {run('--version')!r}")
    info = run("info")
    if hashembed.get_kernel() not in info:
        fail(f"hashembed info does not name the kernel {hashembed.get_kernel()}:\n{info}")
    Path("lines.txt").write_text("\n".join(CLI_LINES) + "\n", encoding="utf-8")
    run("embed", "lines.txt", "-o", "lines.npy", "--quiet")
    want = hashembed.HashEmbedder().embed_batch(CLI_LINES)
    if np.load("lines.npy").view(np.uint32).tolist() != want.view(np.uint32).tolist():
        fail("hashembed embed wrote other rows than HashEmbedder().embed_batch")
    if not -1.0 <= float(run("similarity", "colour", "color")) <= 1.0:
        fail("hashembed similarity printed no cosine")
    check_tables(hashembed, run, cli)
    print(
        f"installed {dist.version} ({', '.join(tags)}): {len(cases)} golden cases with "
        f"{', '.join(kernels)}; the hashembed command works; .safetensors tables without safetensors"
    )


def read_safetensors(path: Path) -> dict[str, Any]:
    """The arrays of a safetensors file, read by the format's definition (an 8-byte
    little-endian header length, a JSON header, the data), not by hashembed's own writer."""
    import numpy as np

    data = path.read_bytes()
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    dtypes = {"F16": "<f2", "F32": "<f4", "F64": "<f8"}
    arrays = {}
    for name, info in header.items():
        if name != "__metadata__":
            start, stop = (8 + size + offset for offset in info["data_offsets"])
            arrays[name] = np.frombuffer(data[start:stop], dtype=dtypes[info["dtype"]]).reshape(info["shape"])
    return arrays


def check_tables(hashembed: Any, run: Any, cli: str) -> None:
    """The README's vocabulary tables on the base install: `save_table` and `hashembed vocab`
    write .safetensors without the safetensors package, and a tokenizer.json without the
    tokenizers package is one line naming the extra."""
    import numpy as np

    for package in ("safetensors", "tokenizers"):
        if importlib.util.find_spec(package) is not None:
            fail(f"the fresh virtualenv has {package}: this is not the base install")
    Path("vocab.txt").write_text("\n".join(["[PAD]", *CLI_LINES]) + "\n", encoding="utf-8")
    want = hashembed.HashEmbedder().embed_vocab("vocab.txt")
    hashembed.save_table("table.safetensors", want)
    run("vocab", "vocab.txt", "-o", "cli.safetensors", "--dtype", "float16", "--quiet")
    tables = {
        "save_table": (read_safetensors(Path("table.safetensors")), want),
        "hashembed vocab": (read_safetensors(Path("cli.safetensors")), want.astype(np.float16)),
    }
    for what, (got, expected) in tables.items():
        if list(got) != ["embeddings"] or got["embeddings"].tobytes() != expected.tobytes():
            fail(f"{what} wrote another .safetensors table than embed_vocab's")
    Path("tokenizer.json").write_text("{}", encoding="utf-8")
    done = subprocess.run(
        [cli, "vocab", "tokenizer.json", "-o", "t.safetensors"],
        capture_output=True,
        text=True,
        encoding="utf-8",
    )
    if (
        done.returncode != 2
        or "pip install 'hashembed[hf]'" not in done.stderr
        or done.stderr.count("\n") != 1
    ):
        fail(f"hashembed vocab tokenizer.json without tokenizers: exit {done.returncode}, {done.stderr!r}")


# -- the driver ------------------------------------------------------------------------------------------


def check(dist: Path) -> None:
    version = cargo_version()
    if dist.name.endswith(".whl"):
        platforms = check_wheel_name(dist, version)
        if any("linux" in p for p in platforms):
            check_linux_tag(dist, platforms)
    elif dist.name.endswith(".tar.gz"):
        check_sdist(dist, version)
    else:
        fail(f"{dist} is neither a wheel nor an sdist")

    with tempfile.TemporaryDirectory(prefix="hashembed-wheel-check-") as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=clean_env())
        python = str(venv_python(venv))
        pip = [python, "-m", "pip", "--disable-pip-version-check", "-q"]
        subprocess.run([*pip, "install", str(dist.resolve())], check=True, env=clean_env(venv))
        # -I keeps this file's folder, the working directory and user site-packages off
        # sys.path, so only what pip installed can be imported.
        installed = [python, "-I", str(Path(__file__).resolve()), "--installed", str(VECTORS), version]
        work = Path(tmp) / "work"
        work.mkdir()
        subprocess.run(installed, check=True, cwd=work, env=clean_env(venv))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dist", type=Path, nargs="*", help="wheels or sdists of hashembed")
    parser.add_argument("--installed", nargs=2, metavar=("VECTORS", "VERSION"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.installed:
        check_installed(Path(args.installed[0]), args.installed[1])
        return
    if not args.dist:
        parser.error("name at least one wheel or sdist")
    for dist in args.dist:
        check(dist)


if __name__ == "__main__":
    main()
