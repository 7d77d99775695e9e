"""The generated stubs match the .proto files: an edited .proto without a rebuild fails here.

`make install` rebuilds them when a .proto changes (the install stamp and uv's cache-keys
depend on protos/); this compiles every .proto again with the build-system's protoc and
compares the output with the modules the project imports.
"""

import subprocess
import sys
from pathlib import Path

import grpc_tools
import pytest

REPO = Path(__file__).resolve().parents[2]
PROTOS = sorted((REPO / "protos").rglob("*.proto"))


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("stubs")
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    args = [f"--proto_path={REPO}", f"--proto_path={well_known}"]
    outputs = [f"--python_out={out}", f"--pyi_out={out}"]
    # Its own process: protoc beside TensorFlow's protobuf in one interpreter can crash.
    command = [sys.executable, "-m", "grpc_tools.protoc", *args, *outputs, *map(str, PROTOS)]
    subprocess.run(command, check=True, timeout=120)
    return out


@pytest.mark.parametrize("proto", PROTOS, ids=lambda p: str(p.relative_to(REPO)))
def test_generated_stubs_match_their_proto(proto: Path, regenerated: Path) -> None:
    relative = proto.relative_to(REPO).with_suffix("")
    for suffix in ("_pb2.py", "_pb2.pyi"):
        generated = REPO / f"{relative}{suffix}"
        assert generated.is_file(), f"{generated} is missing: run make install"
        expected = (regenerated / f"{relative}{suffix}").read_bytes()
        assert generated.read_bytes() == expected, f"{generated} is stale: run make install"
