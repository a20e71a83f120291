"""A runnable copy of the vendored Python worker: its sources plus protos compiled with grpcio-tools.

The copy lives in the git-ignored ``tests/worker_mode/.build/<digest>/``, keyed by the vendored files and
the grpcio-tools version, so it is built once per change and reused. ``protos_module()`` imports the
compiled ``azure_functions_worker.protos`` for the mock host (the same messages the worker speaks).
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
VENDOR = HERE / "vendor" / "azure-functions-python-worker"
BUILD = HERE / ".build"
PROTO_FILES = ("shared/NullableTypes.proto", "identity/ClaimsIdentityRpc.proto", "FunctionRpc.proto")
PACKAGE = "azure_functions_worker.protos"


def worker_dir() -> Path:
    """The directory holding ``worker.py`` and a complete ``azure_functions_worker`` package."""
    import grpc_tools

    digest = hashlib.sha256(grpc_tools.__file__.encode() + _tools_version().encode())
    for path in sorted(VENDOR.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(VENDOR)).encode())
            digest.update(path.read_bytes())
    target = BUILD / digest.hexdigest()[:16]
    if (target / "worker.py").is_file():
        return target
    BUILD.mkdir(exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix="worker-", dir=BUILD))
    shutil.copytree(VENDOR, stage, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    compile_protos(stage / "azure_functions_worker" / "protos", PACKAGE)
    try:
        stage.rename(target)
    except OSError:  # another process built it first
        shutil.rmtree(stage, ignore_errors=True)
    return target


def compile_protos(protos_dir: Path, package: str) -> None:
    """Compile ``protos_dir/_src/src/proto/*.proto`` into ``protos_dir`` as modules of ``package``.

    protoc writes imports relative to the proto root (``import FunctionRpc_pb2``, ``from shared import …``);
    they are rewritten to absolute imports of ``package``, as the worker's own build does.
    """
    source = protos_dir / "_src" / "src" / "proto"
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(
            [sys.executable, "-m", "grpc_tools.protoc", "-I", str(source), f"--python_out={out}",
             f"--grpc_python_out={out}", *PROTO_FILES],
            check=True,
            cwd=source,
        )
        for generated in Path(out).rglob("*.py"):
            text = generated.read_text()
            text = re.sub(r"^import (\w+_pb2)", rf"from {package} import \1", text, flags=re.M)
            text = re.sub(r"^from (\w+) import (\w+_pb2)", rf"from {package}.\1 import \2", text, flags=re.M)
            dest = protos_dir / generated.relative_to(out)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(text)


def protos_module() -> ModuleType:
    """The compiled ``azure_functions_worker.protos`` (imports only protobuf and grpc)."""
    path = str(worker_dir())
    if path not in sys.path:
        sys.path.insert(0, path)
    return importlib.import_module(PACKAGE)


def _tools_version() -> str:
    from importlib.metadata import version

    return version("grpcio-tools")


if __name__ == "__main__":
    print(worker_dir())
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
