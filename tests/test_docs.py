"""The documentation pages under docs/: every Python block is checked, every relative link resolves.

A ```python block follows a ``<!-- docs-test: KIND ARG -->`` marker:
``file PATH`` says the block is that file of the repository, word for
word (so the page shows what the tests run), and it must compile.
"""

from __future__ import annotations

import glob
import os
import re

import pytest

from serverproc import ROOT

PAGES = sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
BLOCK = re.compile(r"(?:<!-- docs-test: ([^>]*?) -->\s*\n)?```python\n(.*?)```", re.S)
LINK = re.compile(r"\]\((?!https?://|#)([^)#]+)(?:#[^)]*)?\)")


def page_id(path: str) -> str:
    return os.path.relpath(path, ROOT)


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_python_block_is_checked(page):
    with open(page, encoding="utf-8") as f:
        text = f.read()
    for marker, code in BLOCK.findall(text):
        assert marker, f"a ```python block in {page_id(page)} has no <!-- docs-test: ... --> marker"
        kind, _, argument = marker.partition(" ")
        assert kind == "file", f"unknown docs-test kind {kind!r} in {page_id(page)}"
        with open(os.path.join(ROOT, argument), encoding="utf-8") as f:
            assert code == f.read(), f"{page_id(page)} shows {argument} as it no longer is"
        compile(code, argument, "exec")


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_relative_links_resolve(page):
    with open(page, encoding="utf-8") as f:
        text = f.read()
    for target in LINK.findall(text):
        assert os.path.exists(os.path.join(os.path.dirname(page), target)), f"{page_id(page)} links to {target}"
