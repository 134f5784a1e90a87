"""Regenerates the Python code of the ``.proto`` files in this package:
``python -m chronik.api.proto.generate`` (or ``scripts/generate-protos``).

Messages come from protoc's Python generator, gRPC stubs from grpcio-tools' plugin (for the
files that define a service) and type stubs (``.pyi``) from mypy-protobuf, all at the versions
pinned in the dev extra, so that the same sources always give the same bytes
(``tests/api/test_proto_current.py`` checks that the committed code is current).

The ``.proto`` files keep ZITADEL's import paths (``zitadel/object.proto``), so protoc names
their modules ``zitadel.object_pb2`` and imports them as ``from zitadel import object_pb2``.
Those names are rewritten to this package's (``chronik.api.proto.zitadel.object_pb2``): the
descriptors, and so the wire format and the gRPC method paths, do not change, and no top-level
``zitadel`` package is put on anyone's import path.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
PACKAGE = "chronik.api.proto"
ROOT = "zitadel"
GENERATED = ("*_pb2.py", "*_pb2.pyi", "*_pb2_grpc.py", "*_pb2_grpc.pyi")

_FROM_ROOT = re.compile(rf"^from {ROOT}(\.| import )", re.MULTILINE)
_MODULE_NAME = re.compile(rf"'{ROOT}\.(\w+_pb2)'")


def sources() -> list[str]:
    """The ``.proto`` files, as paths relative to this package (protoc's import paths)."""
    return sorted(p.relative_to(HERE).as_posix() for p in (HERE / ROOT).glob("*.proto"))


def generated_files(root: Path) -> list[Path]:
    """The generated modules and stubs under ``root`` (a tree shaped like this package)."""
    return sorted(p for pattern in GENERATED for p in (root / ROOT).glob(pattern))


def _defines_service(proto: str) -> bool:
    text = (HERE / proto).read_text()
    return re.search(r"^service\s", text, re.MULTILINE) is not None


def _plugin(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not on PATH: install the dev extra (pip install -e .[dev])")
    return f"--plugin={name}={found}"


def _protoc(arguments: list[str]) -> None:
    from google.api import annotations_pb2
    from grpc_tools import protoc

    well_known = Path(protoc.__file__).parent / "_proto"
    # googleapis-common-protos ships google/api/annotations.proto beside its modules.
    googleapis = Path(annotations_pb2.__file__).parent.parent.parent
    code = protoc.main(["protoc", f"-I{HERE}", f"-I{well_known}", f"-I{googleapis}", *arguments])
    if code != 0:
        raise RuntimeError(f"protoc failed ({code}): {' '.join(arguments)}")


def _rewrite(path: Path) -> None:
    text = path.read_text()
    text = _FROM_ROOT.sub(lambda m: f"from {PACKAGE}.{ROOT}{m.group(1)}", text)
    text = _MODULE_NAME.sub(lambda m: f"'{PACKAGE}.{ROOT}.{m.group(1)}'", text)
    path.write_text(text)


def generate(out: Path) -> list[Path]:
    """Writes the generated code for every ``.proto`` file under ``out`` (``out/zitadel/…``)
    and returns the files written."""
    protos = sources()
    services = [p for p in protos if _defines_service(p)]
    with tempfile.TemporaryDirectory() as scratch:
        _protoc(
            [
                _plugin("protoc-gen-mypy"),
                f"--python_out={scratch}",
                f"--mypy_out={scratch}",
                *protos,
            ]
        )
        _protoc(
            [
                _plugin("protoc-gen-mypy_grpc"),
                f"--grpc_python_out={scratch}",
                f"--mypy_grpc_out={scratch}",
                *services,
            ]
        )
        written = []
        for made in generated_files(Path(scratch)):
            _rewrite(made)
            target = out / made.relative_to(scratch)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(made, target)
            written.append(target)
    return written


def main() -> None:
    for stale in generated_files(HERE):
        stale.unlink()
    for path in generate(HERE):
        print(path.relative_to(HERE.parent.parent.parent), file=sys.stderr)


if __name__ == "__main__":
    main()
