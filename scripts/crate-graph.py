#!/usr/bin/env python3
"""Prints the workspace crate dependency graph (mermaid) and table of docs/architecture.md,
from `cargo metadata`. `--check` exits non-zero when the document differs."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"


def graph():
    meta = json.loads(subprocess.check_output(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=ROOT))
    names = {p["name"] for p in meta["packages"]}
    normal, dev = {}, {}
    for p in meta["packages"]:
        deps = [d for d in p["dependencies"] if d["name"] in names]
        normal[p["name"]] = sorted({d["name"] for d in deps if d["kind"] is None})
        dev[p["name"]] = sorted({d["name"] for d in deps if d["kind"] == "dev"} - set(normal[p["name"]]))
    return normal, dev


def render(normal, dev):
    node = lambda n: f"{n.replace('-', '_')}[{n}]"
    lines = ["```mermaid", "graph TD"]
    for name in sorted(normal):
        lines += [f"  {node(name)} --> {node(d)}" for d in normal[name]]
    lines += ["```", "", "| crate | depends on | tests and benches also use |", "|---|---|---|"]
    cell = lambda ds: ", ".join(f"`{d}`" for d in ds) or "—"
    lines += [f"| `{n}` | {cell(normal[n])} | {cell(dev[n])} |" for n in sorted(normal)]
    return "\n".join(lines) + "\n"


def main():
    text = DOC.read_text()
    start = text.index("```mermaid")
    end = text.index("\n\n", text.index("| crate | depends on |")) + 1
    updated = text[:start] + render(*graph()) + text[end:]
    if "--check" in sys.argv:
        if updated != text:
            print("docs/architecture.md: the crate graph is stale; run scripts/crate-graph.py")
            sys.exit(1)
        return
    DOC.write_text(updated)


if __name__ == "__main__":
    main()
