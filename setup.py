"""Build hook: compile protos/**/*.proto with grpcio-tools before packaging.

The generated `*_pb2.py` modules are written next to their sources (they are
git-ignored), so regular and editable installs both see them.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).parent.resolve()


def compile_protos() -> None:
    """Run protoc (from grpcio-tools) on every .proto file under protos/."""
    import grpc_tools
    from grpc_tools import protoc

    sources = sorted(str(p) for p in (ROOT / "protos").rglob("*.proto"))
    if not sources:
        return
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"--proto_path={ROOT}",
        f"--proto_path={well_known}",
        f"--python_out={ROOT}",
        f"--pyi_out={ROOT}",
        *sources,
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed on {sources}")


class BuildPyWithProtos(build_py):
    """build_py that compiles the protos first."""

    def run(self) -> None:
        compile_protos()
        super().run()


setup(cmdclass={"build_py": BuildPyWithProtos})
