"""The optional compiled build: its module list, setup.py's and the build backend's switches, and what runs.

The suite runs twice in CI: interpreted here, and compiled (scripts/test-compiled.sh,
which sets SOCKJS_GEVENT_EXPECT_COMPILED=1 in a compiled copy of the tree).
"""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys

import pytest

from sockjs_gevent import buildinfo
from testkit.serverproc import ROOT

EXPECT_COMPILED = os.environ.get("SOCKJS_GEVENT_EXPECT_COMPILED") == "1"


def test_this_run_runs_the_build_it_expects():
    """Interpreted in the working tree; every listed module compiled in scripts/test-compiled.sh's copy."""
    assert buildinfo.build_kind() == ("compiled" if EXPECT_COMPILED else "interpreted")
    assert len(buildinfo.compiled_modules()) == (len(buildinfo.COMPILED_MODULES) if EXPECT_COMPILED else 0)


def test_the_list_names_each_module_once_by_its_source():
    names = buildinfo.COMPILED_MODULES
    assert list(names) == sorted(set(names))
    for name in names:
        path = buildinfo.source_path(ROOT, name)
        assert os.path.isfile(path), (name, path)
        assert name.startswith("sockjs_gevent."), name
    assert buildinfo.source_path(ROOT, "sockjs_gevent.transports").endswith(os.path.join("transports", "__init__.py"))


def test_the_version_line_says_which_build_runs():
    from sockjs_gevent import __version__

    kind = "compiled" if EXPECT_COMPILED else "interpreted"
    assert buildinfo.version_line() == f"sockjs-gevent {__version__} ({kind})"


def setup_py(env_value: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ}
    env.pop(buildinfo.COMPILE_VARIABLE, None)
    if env_value is not None:
        env[buildinfo.COMPILE_VARIABLE] = env_value
    return subprocess.run(
        [sys.executable, "setup.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_setup_py_refuses_a_compile_switch_it_does_not_know():
    result = setup_py("yes", "--version")
    assert result.returncode != 0
    assert "SOCKJS_GEVENT_COMPILE is 1 (compile) or 0 (do not), not 'yes'" in result.stderr


@pytest.mark.parametrize("value", [None, "0", "1"])
def test_metadata_needs_no_compiler(value):
    """pip asks for metadata before it installs the build's requirements: no mypyc then, whatever the switch."""
    result = setup_py(value, "--version")
    assert result.returncode == 0, result.stderr
    assert "mypyc" not in result.stdout + result.stderr


def load_backend():
    path = os.path.join(ROOT, "buildsupport", "sockjs_gevent_build.py")
    spec = importlib.util.spec_from_file_location("_sockjs_gevent_build_backend", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_backend_asks_for_the_compiler_and_the_dependencies_only_for_a_compiled_build(monkeypatch):
    backend = load_backend()
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv(buildinfo.COMPILE_VARIABLE, raising=False)
    plain = backend.get_requires_for_build_wheel()
    assert not any(requirement.startswith(("mypy", "gevent")) for requirement in plain), plain
    monkeypatch.setenv(buildinfo.COMPILE_VARIABLE, "1")
    compiled = backend.get_requires_for_build_wheel()
    with open(os.path.join(ROOT, "requirements.txt")) as f:
        runtime = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    assert compiled == [*plain, *backend.COMPILER_REQUIRES, *runtime]


def test_the_backend_refuses_a_compile_switch_it_does_not_know(monkeypatch):
    """As setup.py does, before pip fetches a compiler for a build that setup.py would refuse."""
    backend = load_backend()
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv(buildinfo.COMPILE_VARIABLE, "yes")
    with pytest.raises(SystemExit, match="SOCKJS_GEVENT_COMPILE is 1 \\(compile\\) or 0 \\(do not\\), not 'yes'"):
        backend.get_requires_for_build_wheel()


def test_the_backend_refuses_an_editable_compiled_build(monkeypatch, tmp_path):
    backend = load_backend()
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv(buildinfo.COMPILE_VARIABLE, "1")
    with pytest.raises(SystemExit, match="makes a regular install, not an editable one"):
        backend.build_editable(str(tmp_path))


def test_no_compiled_function_binds_one_name_to_two_exception_types():
    """``except A as e`` then ``except B as e`` in one function: mypyc types ``e`` as A, and B's handler fails.

    (A compiled build raised "A object expected; got B" where the interpreted one answered.)
    """
    found = []
    for name in buildinfo.COMPILED_MODULES:
        path = buildinfo.source_path(ROOT, name)
        with open(path, encoding="utf-8") as f:
            module = ast.parse(f.read())
        for function in ast.walk(module):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            bound: dict[str, set[str]] = {}
            for node in ast.walk(function):
                if isinstance(node, ast.ExceptHandler) and node.name and node.type is not None:
                    bound.setdefault(node.name, set()).add(ast.unparse(node.type))
            found += [(path, function.lineno, as_name, types) for as_name, types in bound.items() if len(types) > 1]
    assert found == []
